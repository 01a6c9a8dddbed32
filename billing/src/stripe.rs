//! The Stripe calls Parvis makes, through async-stripe, and Stripe's failures in French.
//!
//! `STRIPE_API_BASE` points the client elsewhere (the tests' local Stripe). Requests that fail
//! on a rate limit, a 5xx or the network are retried twice with exponential backoff and one
//! idempotency key, so a retried creation never creates twice.

use std::collections::HashMap;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use stripe::{
    Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest as _,
};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_billing::invoice::ListInvoice;
use stripe_billing::subscription::{
    RetrieveSubscription, UpdateSubscription, UpdateSubscriptionItems,
    UpdateSubscriptionProrationBehavior,
};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, CreateCheckoutSessionSubscriptionData, ProductData,
    RetrieveCheckoutSession,
};
use stripe_core::customer::CreateCustomer;
use stripe_product::price::{
    CreatePrice, CreatePriceRecurring, CreatePriceRecurringInterval, ListPrice,
};
use stripe_product::product::{CreateProduct, RetrieveProduct, UpdateProduct};
use stripe_shared::{ApiErrorsType, CheckoutSessionMode};
use stripe_types::Currency;

use crate::grid::{Grid, Interval, lookup_key};

/// A Stripe call that did not succeed, in words a mayor understands.
#[derive(Debug, thiserror::Error)]
pub enum StripeFailure {
    /// The card or payment was refused (402).
    #[error("paiement refusé par la banque : {0}")]
    Declined(String),
    /// Stripe kept answering "too many requests" after the retries.
    #[error("le service de paiement est momentanément surchargé ; réessayez dans une minute")]
    RateLimited,
    /// Stripe could not be reached, or answered with a server error, after the retries.
    #[error("le service de paiement ne répond pas ; réessayez dans quelques minutes")]
    Unreachable(String),
    /// Stripe refused the request (a configuration problem on the platform's side).
    #[error("le service de paiement a refusé la demande : {0}")]
    Refused(String),
    /// Stripe answered something the client could not read.
    #[error("réponse illisible du service de paiement : {0}")]
    Unreadable(String),
}

impl From<StripeError> for StripeFailure {
    fn from(e: StripeError) -> Self {
        match e {
            StripeError::Stripe(err, status) => {
                let message = err.message.clone().unwrap_or_else(|| err.type_.to_string());
                match (status, &err.type_) {
                    (402, _) | (_, ApiErrorsType::CardError) => StripeFailure::Declined(message),
                    (429, _) => StripeFailure::RateLimited,
                    (s, _) if s >= 500 => StripeFailure::Unreachable(message),
                    _ => StripeFailure::Refused(message),
                }
            }
            StripeError::JSONDeserialize(m) => StripeFailure::Unreadable(m),
            StripeError::ClientError(m) => StripeFailure::Unreachable(m),
            StripeError::ConfigError(m) => StripeFailure::Refused(m),
            StripeError::Timeout => StripeFailure::Unreachable("délai dépassé".into()),
        }
    }
}

type Result<T> = std::result::Result<T, StripeFailure>;

/// A price as Parvis needs it.
#[derive(Debug, Clone)]
pub struct PriceInfo {
    /// `price_…`.
    pub id: String,
    /// Amount in cents.
    pub amount: u64,
    /// `parvis:<offer>:<tier>:<interval>`.
    pub lookup_key: String,
}

/// A subscription as Parvis needs it.
#[derive(Debug, Clone)]
pub struct SubscriptionState {
    /// `sub_…`.
    pub id: String,
    /// `cus_…`.
    pub customer: String,
    /// Stripe's status (`active`, `past_due`, `canceled`, …).
    pub status: String,
    /// The first item (Parvis subscriptions have one).
    pub item_id: Option<String>,
    /// Its price.
    pub price: Option<PriceInfo>,
    /// End of the current period (Unix seconds).
    pub current_period_end: Option<i64>,
    /// Will end at the period's end.
    pub cancel_at_period_end: bool,
    /// Parvis' metadata (`parvis_tenant`, `parvis_offer`).
    pub metadata: HashMap<String, String>,
}

/// One invoice line of the billing page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InvoiceInfo {
    /// Stripe's number (`PARVIS-0001`), or its id while a draft.
    pub number: String,
    /// Creation time (Unix seconds).
    pub created: i64,
    /// Amount due in cents.
    pub amount_due: u64,
    /// Amount paid in cents.
    pub amount_paid: u64,
    /// `draft`, `open`, `paid`, `uncollectible`, `void`.
    pub status: String,
    /// The hosted invoice page, where the PDF is.
    pub url: Option<String>,
}

/// What `parvis billing sync` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Products created.
    pub products_created: u32,
    /// Products renamed or described anew.
    pub products_updated: u32,
    /// Prices created (new, or a new amount taking the lookup key over).
    pub prices_created: u32,
    /// Prices already right.
    pub prices_unchanged: u32,
}

/// The platform's Stripe account.
#[derive(Clone)]
pub struct Stripe {
    client: Client,
}

impl std::fmt::Debug for Stripe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stripe")
    }
}

fn currency(code: &str) -> Currency {
    code.parse().unwrap_or(Currency::EUR)
}

impl Stripe {
    /// A client for the secret key, against `api_base` when given.
    pub fn new(secret: &str, api_base: Option<&str>) -> Result<Stripe> {
        let mut builder = ClientBuilder::new(secret)
            .request_strategy(RequestStrategy::ExponentialBackoff(2))
            .timeout(Duration::from_secs(15));
        if let Some(base) = api_base {
            let base = if base.ends_with('/') {
                base.to_string()
            } else {
                format!("{base}/")
            };
            builder = builder.url(base);
        }
        Ok(Stripe {
            client: builder.build()?,
        })
    }

    /// Creates or updates the products and prices of the grid; running it twice changes nothing.
    pub async fn sync(&self, grid: &Grid, mut progress: impl FnMut(&str)) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        for offer in &grid.offers {
            let product_id = format!("parvis-{}", offer.id);
            let product = match RetrieveProduct::new(product_id.as_str())
                .send(&self.client)
                .await
            {
                Ok(p) => Some(p),
                Err(StripeError::Stripe(_, 404)) => None,
                Err(e) => return Err(e.into()),
            };
            match product {
                None => {
                    let mut metadata = HashMap::new();
                    metadata.insert("parvis_offer".to_string(), offer.id.clone());
                    CreateProduct::new(offer.name.as_str())
                        .id(product_id.as_str())
                        .description(offer.description.as_str())
                        .metadata(metadata)
                        .send(&self.client)
                        .await?;
                    report.products_created += 1;
                }
                Some(p)
                    if p.name != offer.name
                        || p.description.as_deref() != Some(offer.description.as_str()) =>
                {
                    UpdateProduct::new(product_id.as_str())
                        .name(offer.name.as_str())
                        .description(offer.description.as_str())
                        .send(&self.client)
                        .await?;
                    report.products_updated += 1;
                }
                Some(_) => {}
            }
            let keys: Vec<String> = grid
                .tiers
                .iter()
                .flat_map(|t| {
                    [Interval::Month, Interval::Year].map(|i| lookup_key(&offer.id, &t.id, i))
                })
                .collect();
            let existing = self.prices(&keys).await?;
            for (index, tier) in grid.tiers.iter().enumerate() {
                for interval in [Interval::Month, Interval::Year] {
                    let key = lookup_key(&offer.id, &tier.id, interval);
                    let Some(amount) = offer.price(index, interval) else {
                        continue;
                    };
                    if existing.get(&key).is_some_and(|p| p.amount == amount) {
                        report.prices_unchanged += 1;
                        continue;
                    }
                    let mut metadata = HashMap::new();
                    metadata.insert("parvis_offer".to_string(), offer.id.clone());
                    metadata.insert("parvis_tier".to_string(), tier.id.clone());
                    CreatePrice::new(currency(&grid.currency))
                        .product(product_id.as_str())
                        .unit_amount(i64::try_from(amount).unwrap_or(i64::MAX))
                        .recurring(CreatePriceRecurring::new(match interval {
                            Interval::Month => CreatePriceRecurringInterval::Month,
                            Interval::Year => CreatePriceRecurringInterval::Year,
                        }))
                        .lookup_key(key.as_str())
                        .transfer_lookup_key(true)
                        .nickname(format!(
                            "{} — {} — {}",
                            offer.name,
                            tier.label,
                            interval.label()
                        ))
                        .metadata(metadata)
                        .send(&self.client)
                        .await?;
                    report.prices_created += 1;
                    progress(&key);
                }
            }
        }
        Ok(report)
    }

    /// The active prices with these lookup keys.
    pub async fn prices(&self, keys: &[String]) -> Result<HashMap<String, PriceInfo>> {
        let mut found = HashMap::new();
        // Stripe takes at most 10 lookup keys per list call.
        for chunk in keys.chunks(10) {
            let list = ListPrice::new()
                .lookup_keys(chunk.to_vec())
                .active(true)
                .limit(100)
                .send(&self.client)
                .await?;
            for price in list.data {
                if let Some(key) = price.lookup_key.clone() {
                    found.insert(
                        key.clone(),
                        PriceInfo {
                            id: price.id.to_string(),
                            amount: price
                                .unit_amount
                                .and_then(|a| u64::try_from(a).ok())
                                .unwrap_or(0),
                            lookup_key: key,
                        },
                    );
                }
            }
        }
        Ok(found)
    }

    /// Creates the commune's customer.
    pub async fn create_customer(
        &self,
        name: &str,
        email: Option<&str>,
        tenant: i64,
    ) -> Result<String> {
        let mut metadata = HashMap::new();
        metadata.insert("parvis_tenant".to_string(), tenant.to_string());
        let mut req = CreateCustomer::new()
            .name(name)
            .preferred_locales(vec!["fr".to_string()])
            .metadata(metadata);
        if let Some(email) = email {
            req = req.email(email);
        }
        // A double submission, or two admins at once, must not make the commune two customers:
        // Stripe answers a repeated key with the customer it made the first time.
        let key = format!(
            "parvis-customer-{tenant}-{}",
            &hex::encode(Sha256::digest(email.unwrap_or_default().as_bytes()))[..16]
        );
        let key = IdempotencyKey::new(key).map_err(|e| StripeFailure::Refused(e.to_string()))?;
        Ok(req
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await?
            .id
            .to_string())
    }

    /// A Checkout session in subscription mode; returns its URL.
    pub async fn subscription_checkout(
        &self,
        customer: &str,
        price: &str,
        metadata: HashMap<String, String>,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<String> {
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price = Some(price.to_string());
        item.quantity = Some(1);
        let mut sub = CreateCheckoutSessionSubscriptionData::new();
        sub.metadata = Some(metadata.clone());
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .customer(customer)
            .line_items(vec![item])
            .subscription_data(sub)
            .metadata(metadata)
            .locale(stripe_shared::CheckoutSessionLocale::Fr)
            .success_url(success_url)
            .cancel_url(cancel_url)
            .send(&self.client)
            .await?;
        session
            .url
            .ok_or_else(|| StripeFailure::Unreadable("session sans adresse".into()))
    }

    /// A Checkout session in payment mode on a connected account (donations); returns its URL.
    #[allow(clippy::too_many_arguments)]
    pub async fn payment_checkout(
        &self,
        account: &str,
        amount: u64,
        currency_code: &str,
        description: &str,
        metadata: HashMap<String, String>,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<String> {
        let mut product = ProductData::new(description);
        product.description = None;
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency(currency_code));
        price.product_data = Some(product);
        price.unit_amount = Some(i64::try_from(amount).unwrap_or(i64::MAX));
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price_data = Some(price);
        item.quantity = Some(1);
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.metadata = Some(metadata.clone());
        let account: stripe::AccountId = account.into();
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(vec![item])
            .payment_intent_data(intent)
            .metadata(metadata)
            .locale(stripe_shared::CheckoutSessionLocale::Fr)
            .success_url(success_url)
            .cancel_url(cancel_url)
            .customize()
            .account_id(account)
            .send(&self.client)
            .await?;
        session
            .url
            .ok_or_else(|| StripeFailure::Unreadable("session sans adresse".into()))
    }

    /// A billing portal session; returns its URL.
    pub async fn portal(&self, customer: &str, return_url: &str) -> Result<String> {
        let session = CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url)
            .locale(stripe_billing::BillingPortalSessionLocale::Fr)
            .send(&self.client)
            .await?;
        Ok(session.url)
    }

    /// The customer's latest invoices.
    pub async fn invoices(&self, customer: &str) -> Result<Vec<InvoiceInfo>> {
        let list = ListInvoice::new()
            .customer(customer)
            .limit(24)
            .send(&self.client)
            .await?;
        Ok(list
            .data
            .into_iter()
            .map(|i| InvoiceInfo {
                number: i
                    .number
                    .clone()
                    .unwrap_or_else(|| i.id.as_ref().map(|id| id.to_string()).unwrap_or_default()),
                created: i.created,
                amount_due: u64::try_from(i.amount_due).unwrap_or(0),
                amount_paid: u64::try_from(i.amount_paid).unwrap_or(0),
                status: i.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
                url: i.hosted_invoice_url,
            })
            .collect())
    }

    /// A subscription's current state (webhooks re-read it, so event order does not matter).
    pub async fn subscription(&self, id: &str) -> Result<SubscriptionState> {
        let sub = RetrieveSubscription::new(id).send(&self.client).await?;
        let item = sub.items.data.first();
        Ok(SubscriptionState {
            id: sub.id.to_string(),
            customer: sub.customer.id().to_string(),
            status: sub.status.as_str().to_string(),
            item_id: item.map(|i| i.id.to_string()),
            price: item.map(|i| PriceInfo {
                id: i.price.id.to_string(),
                amount: i
                    .price
                    .unit_amount
                    .and_then(|a| u64::try_from(a).ok())
                    .unwrap_or(0),
                lookup_key: i.price.lookup_key.clone().unwrap_or_default(),
            }),
            current_period_end: item.map(|i| i.current_period_end),
            cancel_at_period_end: sub.cancel_at_period_end,
            metadata: sub.metadata,
        })
    }

    /// A Checkout session on a connected account, as Stripe holds it now (a donation's
    /// webhook re-reads it rather than trusting the event's copy).
    pub async fn checkout_session(
        &self,
        id: &str,
        account: &str,
    ) -> Result<stripe_shared::CheckoutSession> {
        let account: stripe::AccountId = account.into();
        Ok(RetrieveCheckoutSession::new(id)
            .customize()
            .account_id(account)
            .send(&self.client)
            .await?)
    }

    /// Moves a subscription to another price from its next period (no proration): a commune
    /// whose population changed tier pays the new price at renewal.
    pub async fn change_price_at_renewal(
        &self,
        subscription: &str,
        item: &str,
        price: &str,
    ) -> Result<()> {
        let mut change = UpdateSubscriptionItems::new();
        change.id = Some(item.to_string());
        change.price = Some(price.to_string());
        UpdateSubscription::new(subscription)
            .items(vec![change])
            .proration_behavior(UpdateSubscriptionProrationBehavior::None)
            .send(&self.client)
            .await?;
        Ok(())
    }
}
