//! `/admin/billing` on a commune's host (the mayor subscribes, opens the billing portal, reads
//! invoices) and `POST /billing/stripe/webhook` on the platform's apex.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Json, Router};
use parvis_core::authz::{Can, ManageBilling};
use parvis_core::error::{AppError, AppResult};
use parvis_core::state::AppState;
use parvis_core::web::Page;
use parvis_core::web::render::Template;
use parvis_core::web::site::{Site, request_host};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::service::{Billing, BillingError, OfferView, Subscriber, WebhookError, WebhookOutcome};
use crate::stripe::StripeFailure;

/// The billing template (`admin/billing.html`), compiled into the host's one template engine.
pub static TEMPLATES: include_dir::Dir<'static> =
    include_dir::include_dir!("$CARGO_MANIFEST_DIR/templates");

/// Largest webhook body accepted (Stripe events are a few kilobytes).
const MAX_EVENT_BYTES: usize = 256 << 10;

/// The commune-side pages (mounted with the other site routes).
pub fn routes(billing: Arc<Billing>) -> Router<AppState> {
    Router::new()
        .route("/admin/billing", get(page))
        .route("/admin/billing/souscrire", post(subscribe))
        .route("/admin/billing/portail", post(portal))
        .layer(Extension(billing))
}

/// The webhook endpoint: outside the site layers (no session, no CSRF — the signature is the
/// authentication), answered on the apex only.
pub fn webhook(state: AppState, billing: Arc<Billing>) -> Router {
    Router::new()
        .route("/billing/stripe/webhook", post(receive))
        .layer(Extension(billing))
        .with_state(state)
}

#[derive(Deserialize)]
struct Back {
    retour: Option<String>,
}

async fn page(
    State(state): State<AppState>,
    Extension(billing): Extension<Arc<Billing>>,
    _: Can<ManageBilling>,
    page: Page,
    Query(back): Query<Back>,
) -> AppResult<Response> {
    let notice = match back.retour.as_deref() {
        Some("paye") => Some(
            "Merci ! Le paiement est en cours de confirmation par Stripe : les services \
             s'activent dès sa réception, en général en quelques secondes.",
        ),
        Some("annule") => Some("Souscription abandonnée : rien n'a été prélevé."),
        _ => None,
    };
    render(&state, &billing, page, StatusCode::OK, None, notice).await
}

async fn render(
    state: &AppState,
    billing: &Billing,
    page: Page,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&str>,
) -> AppResult<Response> {
    let commune = page.site.commune()?.clone();
    let population = commune
        .population
        .and_then(|p| u64::try_from(p).ok())
        .unwrap_or(0);
    let tier = billing.grid.tier_for(population);
    let mut tx = state.db.tenant(commune.tenant_id).begin().await?;
    let offers = billing
        .offers(&mut tx, population)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let account = crate::store::account(&mut tx).await?;
    tx.commit().await?;
    let configured = billing.stripe.is_some();
    let (invoices, invoices_error) = if configured && account.customer_id.is_some() {
        match billing.invoices(state, commune.tenant_id).await {
            Ok(list) => (list, None),
            Err(e) => (Vec::new(), Some(e.to_string())),
        }
    } else {
        (Vec::new(), None)
    };
    let invoices = invoices
        .into_iter()
        .map(|i| Invoice {
            amount_due: crate::grid::euros(i.amount_due),
            amount_paid: crate::grid::euros(i.amount_paid),
            status: invoice_status(&i.status),
            number: i.number,
            created: i.created,
            url: i.url,
        })
        .collect();
    let billing_page = BillingPage {
        population,
        tier: &tier.label,
        offers,
        configured,
        has_customer: account.customer_id.is_some(),
        donations_account: account.connected_account.is_some(),
        invoices,
        invoices_error,
        grace_days: billing.grid.grace_days,
        error,
        notice,
    };
    page.render_form(state, status, &billing_page)
}

/// `admin/billing.html`: the commune's offers, subscription and invoices.
#[derive(Serialize)]
struct BillingPage<'a> {
    population: u64,
    /// The population tier's name.
    tier: &'a str,
    offers: Vec<OfferView>,
    /// Stripe is configured.
    configured: bool,
    has_customer: bool,
    /// A Stripe Connect account receives the commune's donations.
    donations_account: bool,
    invoices: Vec<Invoice>,
    invoices_error: Option<String>,
    grace_days: u32,
    error: Option<String>,
    /// Back from Stripe's checkout.
    notice: Option<&'a str>,
}

impl Template for BillingPage<'_> {
    const NAME: &'static str = "admin/billing.html";
}

/// An invoice as the page lists it.
#[derive(Serialize)]
struct Invoice {
    number: String,
    /// Unix seconds.
    created: i64,
    amount_due: String,
    amount_paid: String,
    /// In French.
    status: &'static str,
    url: Option<String>,
}

fn invoice_status(status: &str) -> &'static str {
    match status {
        "paid" => "payée",
        "open" => "à payer",
        "draft" => "brouillon",
        "uncollectible" => "irrécouvrable",
        "void" => "annulée",
        _ => "inconnue",
    }
}

#[derive(Deserialize)]
struct SubscribeForm {
    offre: String,
    periodicite: String,
}

fn error_status(e: &BillingError) -> StatusCode {
    match e {
        BillingError::UnknownOffer(_) | BillingError::UnknownInterval(_) => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        BillingError::AlreadySubscribed(_) | BillingError::NoCustomer => StatusCode::CONFLICT,
        BillingError::NotConfigured | BillingError::PriceMissing(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        BillingError::Stripe(StripeFailure::Declined(_)) => StatusCode::PAYMENT_REQUIRED,
        BillingError::Stripe(StripeFailure::RateLimited) => StatusCode::SERVICE_UNAVAILABLE,
        BillingError::Stripe(_) => StatusCode::BAD_GATEWAY,
        BillingError::Db(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn failed(
    state: &AppState,
    billing: &Billing,
    page: Page,
    e: BillingError,
) -> AppResult<Response> {
    if let BillingError::Db(e) = e {
        return Err(e.into());
    }
    tracing::warn!(error = %e, "billing action failed");
    let status = error_status(&e);
    let mut response = render(state, billing, page, status, Some(e.to_string()), None).await?;
    if matches!(
        e,
        BillingError::Stripe(StripeFailure::RateLimited | StripeFailure::Unreachable(_))
    ) {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, 60.into());
    }
    Ok(response)
}

async fn subscribe(
    State(state): State<AppState>,
    Extension(billing): Extension<Arc<Billing>>,
    Can(actor, _): Can<ManageBilling>,
    page: Page,
    Form(form): Form<SubscribeForm>,
) -> AppResult<Response> {
    let commune = page.site.commune()?.clone();
    let population = commune
        .population
        .and_then(|p| u64::try_from(p).ok())
        .unwrap_or(0);
    let who = Subscriber {
        tenant: commune.tenant_id,
        commune_name: &commune.name,
        population,
        email: &actor.account.email,
        origin: &page.origin,
    };
    match billing
        .subscribe(&state, &who, &form.offre, &form.periodicite)
        .await
    {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(e) => failed(&state, &billing, page, e).await,
    }
}

async fn portal(
    State(state): State<AppState>,
    Extension(billing): Extension<Arc<Billing>>,
    _: Can<ManageBilling>,
    page: Page,
) -> AppResult<Response> {
    let commune = page.site.commune()?.clone();
    match billing
        .portal(&state, commune.tenant_id, &page.origin)
        .await
    {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(e) => failed(&state, &billing, page, e).await,
    }
}

fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

async fn receive(
    State(state): State<AppState>,
    Extension(billing): Extension<Arc<Billing>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Bytes,
) -> Response {
    let host = request_host(&headers, &uri).unwrap_or_default();
    match state.sites.resolve(&state.db, &host).await {
        Ok(Some(Site::Platform)) => {}
        Ok(_) => {
            return api_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "Les webhooks Stripe sont reçus sur le domaine de la plateforme.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "webhook: host resolution failed");
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Erreur interne.",
            );
        }
    }
    if body.len() > MAX_EVENT_BYTES {
        return api_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "Événement trop volumineux.",
        );
    }
    let Some(signature) = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "missing_signature",
            "En-tête Stripe-Signature absent.",
        );
    };
    let started = std::time::Instant::now();
    let result = billing.webhook(&state, &body, signature).await;
    metrics::histogram!("parvis_billing_webhook_seconds").record(started.elapsed().as_secs_f64());
    match result {
        Ok(outcome) => {
            let (label, detail) = match &outcome {
                WebhookOutcome::Applied(d) => ("applied", d.clone()),
                WebhookOutcome::Replayed => ("replayed", String::new()),
                WebhookOutcome::Ignored(d) => ("ignored", d.clone()),
            };
            metrics::counter!("parvis_billing_webhooks_total", "outcome" => label).increment(1);
            Json(json!({"received": true, "outcome": label, "detail": detail})).into_response()
        }
        Err(e) => {
            let (status, code, message) = match &e {
                WebhookError::NotConfigured => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not_configured",
                    "Secret de webhook non configuré.",
                ),
                WebhookError::BadSignature => (
                    StatusCode::BAD_REQUEST,
                    "bad_signature",
                    "Signature Stripe invalide.",
                ),
                WebhookError::Stale => (
                    StatusCode::BAD_REQUEST,
                    "stale_signature",
                    "Signature Stripe trop ancienne (plus de 5 minutes).",
                ),
                WebhookError::Unreadable(_) => (
                    StatusCode::BAD_REQUEST,
                    "bad_event",
                    "Événement Stripe illisible.",
                ),
                WebhookError::Stripe(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "stripe_unavailable",
                    "Stripe injoignable : l'événement sera traité à la prochaine tentative.",
                ),
                WebhookError::Db(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Erreur interne : l'événement sera traité à la prochaine tentative.",
                ),
            };
            tracing::warn!(error = %e, "webhook refused");
            metrics::counter!("parvis_billing_webhooks_total", "outcome" => code.to_string())
                .increment(1);
            api_error(status, code, message)
        }
    }
}
