//! The rules of billing: what a commune pays (its tier), subscribing through Checkout, applying
//! Stripe's webhooks in any order, and entitlements that follow subscriptions — with a grace
//! period after a failed payment, then the modules switch off and the admins are told.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parvis_core::db::{TenantSql, TenantTx, sql};
use parvis_core::modules::service as modules;
use parvis_core::modules::store as module_store;
use parvis_core::notifications::Notice;
use parvis_core::payments::{CheckoutRequest, PaymentGateway};
use parvis_core::state::AppState;
use parvis_core::types::{ModuleId, TenantId};
use parvis_core::util::now;
use stripe_shared::CheckoutSessionMode;

use crate::grid::{Grid, Interval, lookup_key, parse_lookup_key};
use crate::store::{self, SubscriptionRow};
use crate::stripe::{Stripe, StripeFailure, SubscriptionState};
use crate::webhook::{self as envelope, EnvelopeError, Subject};

/// Billing as configured on this platform.
#[derive(Debug)]
pub struct Billing {
    /// The price grid.
    pub grid: Grid,
    /// The platform's Stripe account (`None`: no `STRIPE_SECRET_KEY`).
    pub stripe: Option<Stripe>,
    /// `STRIPE_WEBHOOK_SECRET`.
    pub webhook_secret: Option<String>,
    /// Each commune's invoices as Stripe last listed them: the billing page does not call
    /// Stripe at every view. A webhook about the commune's subscription or invoices drops
    /// its entry; entries also expire after [`INVOICES_TTL`].
    invoices: Mutex<HashMap<TenantId, (Instant, Vec<crate::stripe::InvoiceInfo>)>>,
}

/// How long a commune's invoice list is reused without a webhook saying it changed.
const INVOICES_TTL: Duration = Duration::from_secs(300);

/// Why a billing action did not happen (the message is for the mayor).
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// No Stripe key on this platform.
    #[error("Le paiement en ligne n'est pas configuré sur cette plateforme.")]
    NotConfigured,
    /// No such offer in the grid.
    #[error("Offre inconnue : « {0} ».")]
    UnknownOffer(String),
    /// Neither monthly nor yearly.
    #[error("Périodicité inconnue : « {0} » (mensuel ou annuel).")]
    UnknownInterval(String),
    /// The price was never published to Stripe.
    #[error(
        "Cette offre n'est pas encore proposée à la souscription (tarif {0} absent chez Stripe). \
         L'équipe de la plateforme doit lancer « parvis billing sync »."
    )]
    PriceMissing(String),
    /// The commune already pays for it.
    #[error("Votre commune a déjà un abonnement en cours qui comprend « {0} ».")]
    AlreadySubscribed(String),
    /// The commune never subscribed.
    #[error(
        "Votre commune n'a pas encore de compte de facturation : souscrivez d'abord une offre."
    )]
    NoCustomer,
    /// Stripe failed.
    #[error(transparent)]
    Stripe(#[from] StripeFailure),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// What became of a webhook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Applied now.
    Applied(String),
    /// Already applied once: acknowledged, nothing done.
    Replayed,
    /// Not for Parvis (another event type, an unknown customer): acknowledged.
    Ignored(String),
}

/// Why a webhook delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No `STRIPE_WEBHOOK_SECRET` (503: Stripe retries once it is set).
    #[error("webhook secret not configured")]
    NotConfigured,
    /// Missing or malformed `Stripe-Signature`, or a signature that does not match.
    #[error("invalid signature")]
    BadSignature,
    /// Signed too long ago (replayed capture) or in the future.
    #[error("signature timestamp outside the tolerance")]
    Stale,
    /// The body is not a Stripe event.
    #[error("unreadable event: {0}")]
    Unreadable(String),
    /// Stripe could not be asked for the object's state: Stripe will retry.
    #[error("stripe unavailable: {0}")]
    Stripe(#[from] StripeFailure),
    /// Storage failed: Stripe will retry.
    #[error("storage: {0}")]
    Db(#[from] sqlx::Error),
}

/// The commune subscribing, and who asks.
#[derive(Debug, Clone, Copy)]
pub struct Subscriber<'a> {
    /// The commune.
    pub tenant: TenantId,
    /// Its name (the Stripe customer's).
    pub commune_name: &'a str,
    /// Its official population (the tier).
    pub population: u64,
    /// The admin's e-mail (the customer's billing address).
    pub email: &'a str,
    /// `scheme://host` of the commune, for Checkout's return pages.
    pub origin: &'a str,
}

/// One line of the billing page: an offer at the commune's tier.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OfferView {
    /// Grid id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Module names it opens.
    pub modules: Vec<String>,
    /// Monthly price, formatted.
    pub monthly: String,
    /// Yearly price, formatted.
    pub yearly: String,
    /// The commune's subscription to it, if any.
    pub subscription: Option<SubscriptionView>,
}

/// A subscription on the billing page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SubscriptionView {
    /// Stripe's status.
    pub status: String,
    /// In French.
    pub status_label: String,
    /// `mensuel` or `annuel`.
    pub interval: String,
    /// Tier it is billed at.
    pub tier: String,
    /// End of the paid period (Unix seconds).
    pub current_period_end: Option<i64>,
    /// Ends then.
    pub cancel_at_period_end: bool,
    /// When modules switch off if the payment stays unpaid.
    pub grace_until: Option<i64>,
    /// The tier changes at renewal (population moved).
    pub next_tier: Option<String>,
}

fn status_label(status: &str) -> &'static str {
    match status {
        "active" => "actif",
        "trialing" => "période d'essai",
        "past_due" => "paiement en retard",
        "unpaid" => "impayé",
        "canceled" => "résilié",
        "incomplete" => "paiement en attente",
        "incomplete_expired" => "paiement non abouti",
        "paused" => "suspendu",
        _ => "inconnu",
    }
}

/// Statuses under which the commune keeps its modules without condition.
fn in_good_standing(status: &str) -> bool {
    matches!(status, "active" | "trialing")
}

/// Statuses of a payment problem: modules stay on through the grace period.
fn in_arrears(status: &str) -> bool {
    matches!(status, "past_due" | "unpaid")
}

impl Billing {
    /// From the host's configuration: the grid, and Stripe when a key is set.
    pub fn from_config(config: &parvis_core::config::Config) -> anyhow::Result<Billing> {
        let grid = Grid::load(config.billing_grid.as_deref())?;
        let stripe = match &config.stripe_secret_key {
            Some(key) => Some(Stripe::new(key, config.stripe_api_base.as_deref())?),
            None => None,
        };
        Ok(Billing {
            grid,
            stripe,
            webhook_secret: config.stripe_webhook_secret.clone(),
            invoices: Mutex::default(),
        })
    }

    fn stripe(&self) -> Result<&Stripe, BillingError> {
        self.stripe.as_ref().ok_or(BillingError::NotConfigured)
    }

    /// Grace after a failed payment, in seconds.
    pub fn grace_seconds(&self) -> i64 {
        i64::from(self.grid.grace_days) * 86_400
    }

    /// The offers at the commune's tier, with its subscriptions.
    pub async fn offers(
        &self,
        tx: &mut TenantTx,
        population: u64,
    ) -> Result<Vec<OfferView>, BillingError> {
        let tier = self.grid.tier_index(population);
        let subs = store::subscriptions(tx).await?;
        Ok(self
            .grid
            .offers
            .iter()
            .map(|o| {
                let sub = subs
                    .iter()
                    .filter(|s| s.offer == o.id && s.status != "incomplete_expired")
                    .max_by_key(|s| (s.status != "canceled", s.stripe_seen));
                OfferView {
                    id: o.id.clone(),
                    name: o.name.clone(),
                    description: o.description.clone(),
                    modules: o.modules.clone(),
                    monthly: o
                        .price(tier, Interval::Month)
                        .map(crate::grid::euros)
                        .unwrap_or_default(),
                    yearly: o
                        .price(tier, Interval::Year)
                        .map(crate::grid::euros)
                        .unwrap_or_default(),
                    subscription: sub.map(|s| SubscriptionView {
                        status: s.status.clone(),
                        status_label: status_label(&s.status).to_string(),
                        interval: Interval::parse(&s.interval)
                            .map(Interval::label)
                            .unwrap_or_default()
                            .to_string(),
                        tier: self
                            .grid
                            .tier_by_id(&s.tier)
                            .map(|t| self.grid.tiers[t].label.clone())
                            .unwrap_or_else(|| s.tier.clone()),
                        current_period_end: s.current_period_end,
                        cancel_at_period_end: s.cancel_at_period_end,
                        grace_until: in_arrears(&s.status)
                            .then(|| s.past_due_since.unwrap_or_else(now) + self.grace_seconds()),
                        next_tier: (s.tier != self.grid.tiers[tier].id
                            && !matches!(s.status.as_str(), "canceled"))
                        .then(|| self.grid.tiers[tier].label.clone()),
                    }),
                }
            })
            .collect())
    }

    /// Starts a subscription: returns the Checkout page to send the mayor to.
    pub async fn subscribe(
        &self,
        app: &AppState,
        who: &Subscriber<'_>,
        offer_id: &str,
        interval: &str,
    ) -> Result<String, BillingError> {
        let Subscriber {
            tenant,
            commune_name,
            population,
            email,
            origin,
        } = *who;
        let stripe = self.stripe()?;
        let offer = self
            .grid
            .offer(offer_id)
            .ok_or_else(|| BillingError::UnknownOffer(offer_id.to_string()))?;
        let interval = Interval::parse(interval)
            .ok_or_else(|| BillingError::UnknownInterval(interval.to_string()))?;
        let tier = self.grid.tier_for(population);
        let mut tx = app.db.tenant(tenant).begin().await?;
        let subs = store::subscriptions(&mut tx).await?;
        let account = store::account(&mut tx).await?;
        tx.commit().await?;
        for s in subs
            .iter()
            .filter(|s| in_good_standing(&s.status) || in_arrears(&s.status))
        {
            let covered = self
                .grid
                .offer(&s.offer)
                .map(|o| o.modules.clone())
                .unwrap_or_default();
            if let Some(m) = offer.modules.iter().find(|m| covered.contains(m)) {
                return Err(BillingError::AlreadySubscribed(m.clone()));
            }
        }
        let key = lookup_key(&offer.id, &tier.id, interval);
        let price = stripe
            .prices(std::slice::from_ref(&key))
            .await?
            .remove(&key)
            .ok_or(BillingError::PriceMissing(key))?;
        let customer = match account.customer_id {
            Some(c) => c,
            None => {
                let c = stripe
                    .create_customer(commune_name, Some(email), tenant.get())
                    .await?;
                let mut tx = app.db.tenant(tenant).begin_write().await?;
                let kept = store::set_customer(&mut tx, &c).await?;
                tx.commit().await?;
                kept
            }
        };
        let mut metadata = HashMap::new();
        metadata.insert("parvis_tenant".to_string(), tenant.to_string());
        metadata.insert("parvis_offer".to_string(), offer.id.clone());
        metadata.insert("parvis_tier".to_string(), tier.id.clone());
        Ok(stripe
            .subscription_checkout(
                &customer,
                &price.id,
                metadata,
                &format!("{origin}/admin/billing?retour=paye"),
                &format!("{origin}/admin/billing?retour=annule"),
            )
            .await?)
    }

    /// The billing portal, where the mayor changes the card, cancels, downloads invoices.
    pub async fn portal(
        &self,
        app: &AppState,
        tenant: TenantId,
        origin: &str,
    ) -> Result<String, BillingError> {
        let stripe = self.stripe()?;
        let mut tx = app.db.tenant(tenant).begin().await?;
        let account = store::account(&mut tx).await?;
        tx.commit().await?;
        let customer = account.customer_id.ok_or(BillingError::NoCustomer)?;
        Ok(stripe
            .portal(&customer, &format!("{origin}/admin/billing"))
            .await?)
    }

    /// The commune's invoices (empty before its first subscription).
    pub async fn invoices(
        &self,
        app: &AppState,
        tenant: TenantId,
    ) -> Result<Vec<crate::stripe::InvoiceInfo>, BillingError> {
        let stripe = self.stripe()?;
        if let Ok(cache) = self.invoices.lock()
            && let Some((at, list)) = cache.get(&tenant)
            && at.elapsed() < INVOICES_TTL
        {
            return Ok(list.clone());
        }
        let mut tx = app.db.tenant(tenant).begin().await?;
        let account = store::account(&mut tx).await?;
        tx.commit().await?;
        let list = match account.customer_id {
            Some(c) => stripe.invoices(&c).await?,
            None => Vec::new(),
        };
        if let Ok(mut cache) = self.invoices.lock() {
            cache.insert(tenant, (Instant::now(), list.clone()));
        }
        Ok(list)
    }

    /// Forgets a commune's invoice list (a webhook said its billing changed).
    fn invoices_changed(&self, tenant: TenantId) {
        if let Ok(mut cache) = self.invoices.lock() {
            cache.remove(&tenant);
        }
    }

    /// Verifies and applies one webhook delivery: the signature on the raw bytes, then only
    /// the envelope; what is acted on is re-read from Stripe. A correctly signed event Parvis
    /// does not act on (another type, unknown fields or enum values) is recorded and
    /// acknowledged, so Stripe stops retrying it.
    pub async fn webhook(
        &self,
        app: &AppState,
        payload: &[u8],
        signature: &str,
    ) -> Result<WebhookOutcome, WebhookError> {
        let secret = self
            .webhook_secret
            .as_deref()
            .ok_or(WebhookError::NotConfigured)?;
        let event = envelope::open(payload, signature, secret, now()).map_err(|e| match e {
            EnvelopeError::BadSignature => WebhookError::BadSignature,
            EnvelopeError::Stale => WebhookError::Stale,
            EnvelopeError::Unreadable(why) => WebhookError::Unreadable(why),
        })?;
        if store::event_seen(&app.db, &event.id).await? {
            return Ok(WebhookOutcome::Replayed);
        }
        let meta = EventMeta {
            id: &event.id,
            kind: &event.kind,
            created: event.created,
        };
        match event.subject() {
            Subject::Subscription(sub) => self.refresh_subscription(app, &meta, &sub).await,
            Subject::PaymentSession { session } => {
                let Some(account) = event.account.as_deref() else {
                    return self
                        .ignore(app, &meta, None, "paiement hors compte connecté")
                        .await;
                };
                let stripe = self.stripe.as_ref().ok_or(WebhookError::NotConfigured)?;
                let session = stripe.checkout_session(&session, account).await?;
                if !matches!(session.mode, CheckoutSessionMode::Payment) {
                    return self.ignore(app, &meta, None, "session sans paiement").await;
                }
                self.donation_paid(app, &meta, Some(account), &session)
                    .await
            }
            Subject::Nothing => {
                self.ignore(app, &meta, None, "événement sans abonnement Parvis")
                    .await
            }
        }
    }

    async fn ignore(
        &self,
        app: &AppState,
        meta: &EventMeta<'_>,
        tenant: Option<TenantId>,
        why: &str,
    ) -> Result<WebhookOutcome, WebhookError> {
        let mut tx = app.db.platform_tx().await?;
        let fresh =
            store::record_event(&mut *tx, meta.id, meta.kind, meta.created, tenant, why).await?;
        tx.commit().await?;
        Ok(if fresh {
            WebhookOutcome::Ignored(why.to_string())
        } else {
            WebhookOutcome::Replayed
        })
    }

    /// Re-reads a subscription from Stripe and applies its state: whatever order events come
    /// in, the commune ends with Stripe's current state.
    async fn refresh_subscription(
        &self,
        app: &AppState,
        meta: &EventMeta<'_>,
        id: &str,
    ) -> Result<WebhookOutcome, WebhookError> {
        let stripe = self.stripe.as_ref().ok_or(WebhookError::NotConfigured)?;
        let state = stripe.subscription(id).await?;
        let Some(tenant) = store::tenant_of_customer(&app.db, &state.customer).await? else {
            return self.ignore(app, meta, None, "client Stripe inconnu").await;
        };
        self.invoices_changed(tenant);
        if state
            .metadata
            .get("parvis_tenant")
            .is_some_and(|t| *t != tenant.to_string())
        {
            tracing::warn!(
                subscription = id,
                tenant = %tenant,
                "subscription metadata names another commune"
            );
            return self
                .ignore(app, meta, Some(tenant), "abonnement d'une autre commune")
                .await;
        }
        let Some(price) = &state.price else {
            return self
                .ignore(app, meta, Some(tenant), "abonnement sans tarif")
                .await;
        };
        let Some((offer, tier, interval)) = parse_lookup_key(&price.lookup_key)
            .filter(|(o, t, _)| self.grid.offer(o).is_some() && self.grid.tier_by_id(t).is_some())
        else {
            return self
                .ignore(app, meta, Some(tenant), "tarif hors de la grille")
                .await;
        };
        let tenant_id = tenant;
        let mut tx = app.db.tenant(tenant_id).begin_write().await?;
        if !store::record_event(
            tx.platform(),
            meta.id,
            meta.kind,
            meta.created,
            Some(tenant),
            "appliqué",
        )
        .await?
        {
            return Ok(WebhookOutcome::Replayed);
        }
        let previous = store::subscriptions(&mut tx)
            .await?
            .into_iter()
            .find(|s| s.subscription_id == state.id);
        let past_due_since = if in_arrears(&state.status) {
            Some(
                previous
                    .as_ref()
                    .and_then(|p| p.past_due_since)
                    .unwrap_or(meta.created),
            )
        } else {
            None
        };
        let row = SubscriptionRow {
            subscription_id: state.id.clone(),
            offer: offer.to_string(),
            tier: tier.to_string(),
            interval: interval.as_str().to_string(),
            price_id: price.id.clone(),
            status: state.status.clone(),
            current_period_end: state.current_period_end,
            cancel_at_period_end: state.cancel_at_period_end,
            past_due_since,
            stripe_seen: meta.created,
        };
        store::put_subscription(&mut tx, &row).await?;
        let lost = self.reconcile(&mut tx).await?;
        let origin = self.announce_losses(app, &mut tx, tenant_id, &lost).await?;
        tx.commit().await?;
        modules::changed(&app.modules, tenant_id);
        if origin.is_some() {
            app.jobs.notify();
        }
        self.follow_population(app, tenant_id, &state).await;
        Ok(WebhookOutcome::Applied(format!(
            "{} : {} ({})",
            row.offer, row.status, meta.kind
        )))
    }

    /// A commune whose population moved to another tier pays the new tier's price from its
    /// next renewal (Stripe item change without proration).
    async fn follow_population(&self, app: &AppState, tenant: TenantId, state: &SubscriptionState) {
        let (Some(stripe), Some(item), Some(price)) = (&self.stripe, &state.item_id, &state.price)
        else {
            return;
        };
        if !in_good_standing(&state.status) {
            return;
        }
        let Some((offer, tier, interval)) = parse_lookup_key(&price.lookup_key) else {
            return;
        };
        let population: Option<i64> = match sql::query_scalar(
            "SELECT c.population FROM tenants t JOIN communes c ON c.insee = t.insee WHERE t.id = $1",
        )
        .bind(tenant)
        .fetch_optional(app.db.platform())
        .await
        {
            Ok(p) => p.flatten(),
            Err(e) => {
                tracing::warn!(error = %e, "population unavailable");
                return;
            }
        };
        let now_tier = &self
            .grid
            .tier_for(population.and_then(|p| u64::try_from(p).ok()).unwrap_or(0))
            .id;
        if now_tier == tier {
            return;
        }
        let key = lookup_key(offer, now_tier, interval);
        let result = async {
            let next = stripe
                .prices(std::slice::from_ref(&key))
                .await?
                .remove(&key)
                .ok_or_else(|| StripeFailure::Refused(format!("tarif {key} absent")))?;
            stripe
                .change_price_at_renewal(&state.id, item, &next.id)
                .await
        }
        .await;
        match result {
            Ok(()) => tracing::info!(subscription = %state.id, %key, "tier changes at renewal"),
            Err(e) => tracing::warn!(subscription = %state.id, error = %e, "tier change failed"),
        }
    }

    /// Makes the commune's entitlements match its subscriptions; returns the modules it lost.
    /// Entitlements granted by hand (`cli`, `demo`) are left alone.
    pub async fn reconcile(
        &self,
        tx: &mut TenantTx,
    ) -> Result<Vec<(ModuleId, String)>, sqlx::Error> {
        let subs = store::subscriptions(tx).await?;
        let now = now();
        let mut lost = Vec::new();
        for module in self.grid.premium_modules() {
            let Ok(id) = ModuleId::parse(module) else {
                continue;
            };
            // None: no right; Some(None): no end; Some(Some(t)): until t.
            let mut right: Option<Option<i64>> = None;
            let mut reason = "l'abonnement a pris fin";
            for s in &subs {
                let covers = self
                    .grid
                    .offer(&s.offer)
                    .is_some_and(|o| o.modules.iter().any(|m| m == module));
                if !covers {
                    continue;
                }
                if in_good_standing(&s.status) {
                    right = Some(None);
                } else if in_arrears(&s.status) {
                    let until = s.past_due_since.unwrap_or(now) + self.grace_seconds();
                    if until > now {
                        right = match right {
                            Some(None) => Some(None),
                            Some(Some(t)) => Some(Some(t.max(until))),
                            None => Some(Some(until)),
                        };
                    } else {
                        reason = "le paiement n'a pas été reçu à la fin du délai de grâce";
                    }
                }
            }
            let existing = module_store::entitlement(tx, &id).await?;
            let by_hand = existing
                .as_ref()
                .is_some_and(|(source, _)| source != "stripe");
            match right {
                Some(until) if !by_hand && existing.as_ref().map(|(_, e)| *e) != Some(until) => {
                    module_store::grant_entitlement(tx, &id, "stripe", until).await?;
                }
                Some(_) => {}
                None if existing.as_ref().is_some_and(|(s, _)| s == "stripe") => {
                    module_store::revoke_entitlement(tx, &id).await?;
                    if module_store::is_enabled(tx, &id).await? {
                        // Not a fault: citizens see the service as not offered, admins see it
                        // needs a subscription, and the e-mail says why.
                        module_store::set_enabled(tx, &id, false, None).await?;
                        lost.push((id, reason.to_string()));
                    }
                }
                None => {}
            }
        }
        Ok(lost)
    }

    /// Queues the notice to the commune's admins about modules that switched off. Returns the
    /// commune's origin when a notice was queued.
    async fn announce_losses(
        &self,
        app: &AppState,
        tx: &mut TenantTx,
        tenant: TenantId,
        lost: &[(ModuleId, String)],
    ) -> Result<Option<String>, sqlx::Error> {
        if lost.is_empty() {
            return Ok(None);
        }
        let origin = modules::tenant_origin(&app.modules, tenant).await?;
        let names: Vec<String> = lost
            .iter()
            .map(|(id, _)| {
                app.modules
                    .get(id.as_str())
                    .map(|m| m.manifest.name.clone())
                    .unwrap_or_else(|| id.to_string())
            })
            .collect();
        let reason = &lost[0].1;
        let notice = Notice::to_accounts(
            tenant,
            modules::tenant_admins(&app.authz, tenant).await,
            format!("Services premium désactivés : {}", names.join(", ")),
            format!(
                "Les services suivants ont été désactivés pour votre commune, car {reason} : {}.\n\
                 Vos données sont conservées. Pour les rétablir, réglez le paiement ou souscrivez \
                 à nouveau depuis la page de facturation.",
                names.join(", ")
            ),
            format!("{origin}/admin/billing"),
        );
        parvis_core::jobs::push(tx.platform(), &notice).await?;
        Ok(Some(origin))
    }

    /// Switches off what a commune no longer pays for once its grace period ran out (run every
    /// minute). Returns how many communes lost modules.
    pub async fn sweep(&self, app: &AppState) -> Result<usize, sqlx::Error> {
        let mut changed = 0;
        for tenant in store::tenants_in_arrears(&app.db).await? {
            let mut tx = app.db.tenant(tenant).begin_write().await?;
            let lost = self.reconcile(&mut tx).await?;
            let notified = self.announce_losses(app, &mut tx, tenant, &lost).await?;
            tx.commit().await?;
            if !lost.is_empty() {
                changed += 1;
                modules::changed(&app.modules, tenant);
            }
            if notified.is_some() {
                app.jobs.notify();
            }
        }
        Ok(changed)
    }

    /// A donation paid on a commune's connected account: the module counts it.
    async fn donation_paid(
        &self,
        app: &AppState,
        meta: &EventMeta<'_>,
        account: Option<&str>,
        session: &stripe_shared::CheckoutSession,
    ) -> Result<WebhookOutcome, WebhookError> {
        let metadata = session.metadata.clone().unwrap_or_default();
        let (Some(module), Some(reference)) = (
            metadata.get("parvis_module"),
            metadata.get("parvis_reference"),
        ) else {
            return self
                .ignore(app, meta, None, "paiement sans référence Parvis")
                .await;
        };
        let Some(account) = account else {
            return self
                .ignore(app, meta, None, "paiement hors compte connecté")
                .await;
        };
        let Some(tenant) = store::tenant_of_account(&app.db, account).await? else {
            return self
                .ignore(app, meta, None, "compte connecté inconnu")
                .await;
        };
        if metadata.get("parvis_tenant") != Some(&tenant.to_string()) {
            return self
                .ignore(app, meta, Some(tenant), "paiement d'une autre commune")
                .await;
        }
        if !matches!(
            session.payment_status,
            stripe_shared::CheckoutSessionPaymentStatus::Paid
        ) {
            return self
                .ignore(app, meta, Some(tenant), "paiement non encaissé")
                .await;
        }
        let payment = modules::Payment {
            reference: reference.clone(),
            amount_cents: session
                .amount_total
                .and_then(|a| u64::try_from(a).ok())
                .unwrap_or(0),
            currency: session
                .currency
                .as_ref()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "eur".into()),
            account: None,
        };
        match modules::payment_succeeded(&app.modules, tenant, module, payment).await {
            // The module counts a payment once, so a crash before recording is harmless.
            Ok(Ok(())) => {
                let mut tx = app.db.platform_tx().await?;
                store::record_event(
                    &mut *tx,
                    meta.id,
                    meta.kind,
                    meta.created,
                    Some(tenant),
                    "don compté",
                )
                .await?;
                tx.commit().await?;
                Ok(WebhookOutcome::Applied(format!("don {reference}")))
            }
            Ok(Err(refused)) => self.ignore(app, meta, Some(tenant), &refused).await,
            Err(e) => Err(WebhookError::Stripe(StripeFailure::Unreachable(e))),
        }
    }
}

struct EventMeta<'a> {
    id: &'a str,
    kind: &'a str,
    created: i64,
}

impl Billing {
    /// The provider and the commune's connected account, or why payments are closed there.
    async fn payee(
        &self,
        commune: &parvis_core::db::TenantDb,
    ) -> Result<(&Stripe, String), String> {
        let stripe = self.stripe().map_err(|e| e.to_string())?;
        let mut tx = commune.begin().await.map_err(|e| e.to_string())?;
        let account = store::account(&mut tx).await.map_err(|e| e.to_string())?;
        drop(tx);
        match account.connected_account {
            Some(connected) => Ok((stripe, connected)),
            None => Err(
                "La commune n'a pas encore relié son compte de paiement : le paiement \
                 en ligne n'y est pas encore ouvert."
                    .into(),
            ),
        }
    }
}

/// Donations: Checkout in payment mode on the commune's connected account.
#[async_trait::async_trait]
impl PaymentGateway for Billing {
    async fn accepts(&self, commune: &parvis_core::db::TenantDb) -> Result<(), String> {
        self.payee(commune).await.map(|_| ())
    }

    async fn checkout(
        &self,
        commune: &parvis_core::db::TenantDb,
        module: &str,
        request: CheckoutRequest,
    ) -> Result<String, String> {
        let (stripe, connected) = self.payee(commune).await?;
        let tenant = commune.tenant_id();
        let mut metadata = HashMap::new();
        metadata.insert("parvis_tenant".to_string(), tenant.to_string());
        metadata.insert("parvis_module".to_string(), module.to_string());
        metadata.insert("parvis_reference".to_string(), request.reference.clone());
        stripe
            .payment_checkout(
                &connected,
                request.amount_cents,
                &request.currency,
                &request.description,
                metadata,
                &request.success_url,
                &request.cancel_url,
            )
            .await
            .map_err(|e| e.to_string())
    }
}

/// Background work: the grace-period sweep, every minute.
pub fn spawn_background(app: &AppState, billing: Arc<Billing>) {
    let app = app.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            if let Err(e) = billing.sweep(&app).await {
                tracing::warn!(error = %e, "billing sweep failed");
            }
        }
    });
}
