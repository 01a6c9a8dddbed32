//! A local Stripe for tests: a loopback HTTP server speaking Stripe's wire format (form-encoded
//! requests with `a[b][0]=c` keys, Stripe's JSON objects, `{"error": {...}}` bodies with their
//! statuses, `Idempotency-Key` replays, `Stripe-Account` for connected accounts) for the
//! endpoints Parvis calls: products, prices (lookup keys, `transfer_lookup_key`), customers,
//! Checkout sessions, billing portal sessions, subscriptions and invoices.
//!
//! PyPI's `localstripe` covers customers and subscriptions but has no Prices, Checkout Sessions
//! or billing portal, which is the whole of Parvis' flow; and completing a Checkout must create
//! the subscription in the same state, so one server holds it all. Objects follow Stripe's API
//! reference (API version 2026-09-30) with every field async-stripe requires.
//!
//! What Stripe would do on its side (the mayor paying on the Checkout page, a renewal failing,
//! a cancellation) are methods that change the state and return the events Stripe would send;
//! [`FakeStripe::sign`] signs them with Stripe's scheme (HMAC-SHA256 of `t.payload`), written
//! here independently of async-stripe's verifier, so tests deliver them in any order, twice,
//! or forged.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result, anyhow};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// The webhook signing secret the fake signs with.
pub const WEBHOOK_SECRET: &str = "whsec_parvis_test_secret";
/// The secret key the fake expects.
pub const SECRET_KEY: &str = "sk_test_parvis";
/// API version written in events.
const API_VERSION: &str = "2026-09-30.clover";

/// An error the next matching request gets.
#[derive(Debug, Clone)]
pub struct Injected {
    /// Path prefix it applies to (`/v1/checkout/sessions`).
    pub path: String,
    /// HTTP status.
    pub status: u16,
    /// Stripe error type (`card_error`, `rate_limit_error`, `api_error`…).
    pub kind: String,
    /// Error code (`card_declined`…).
    pub code: String,
    /// Message.
    pub message: String,
}

#[derive(Default)]
struct Inner {
    seq: u64,
    products: HashMap<String, Value>,
    prices: Vec<Value>,
    customers: HashMap<String, Value>,
    sessions: HashMap<String, Value>,
    subscriptions: HashMap<String, Value>,
    invoices: Vec<Value>,
    idempotent: HashMap<String, (u16, Value)>,
    injected: VecDeque<Injected>,
    /// (method, path, Stripe-Account) of every API request.
    log: Vec<(String, String, Option<String>)>,
}

impl Inner {
    fn id(&mut self, prefix: &str) -> String {
        self.seq += 1;
        format!("{prefix}_{:014}", self.seq)
    }
}

type Shared = Arc<Mutex<Inner>>;

/// The running fake.
#[derive(Clone)]
pub struct FakeStripe {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Shared,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn error(status: u16, kind: &str, code: &str, message: &str, param: Option<&str>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    (
        status,
        Json(json!({"error": {
            "type": kind,
            "code": code,
            "message": message,
            "param": param,
            "doc_url": format!("https://stripe.com/docs/error-codes/{code}"),
        }})),
    )
        .into_response()
}

fn missing(param: &str) -> Response {
    error(
        400,
        "invalid_request_error",
        "parameter_missing",
        &format!("Missing required param: {param}."),
        Some(param),
    )
}

fn no_such(kind: &str, id: &str) -> Response {
    error(
        404,
        "invalid_request_error",
        "resource_missing",
        &format!("No such {kind}: '{id}'"),
        Some("id"),
    )
}

/// A decoded form: `key → values`, keys as sent (`metadata[parvis_tenant]`).
struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Form {
        Form(
            url::form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    /// `prefix[k]=v` pairs as a map.
    fn map(&self, prefix: &str) -> serde_json::Map<String, Value> {
        let start = format!("{prefix}[");
        self.0
            .iter()
            .filter_map(|(k, v)| {
                let rest = k.strip_prefix(&start)?;
                let key = rest.strip_suffix(']')?;
                (!key.contains('[')).then(|| (key.to_string(), Value::String(v.clone())))
            })
            .collect()
    }
    /// Every value of a list key (`lookup_keys[]`, `lookup_keys[0]`).
    fn list(&self, prefix: &str) -> Vec<String> {
        let start = format!("{prefix}[");
        self.0
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(&start)
                    .and_then(|r| r.strip_suffix(']'))
                    .is_some_and(|i| i.chars().all(|c| c.is_ascii_digit()))
            })
            .map(|(_, v)| v.clone())
            .collect()
    }
}

fn list_of(url: &str, data: Vec<Value>) -> Value {
    json!({"object": "list", "data": data, "has_more": false, "url": url})
}

fn plan_of(price: &Value) -> Value {
    json!({
        "id": price["id"], "object": "plan", "active": true, "amount": price["unit_amount"],
        "amount_decimal": price["unit_amount_decimal"], "billing_scheme": "per_unit",
        "created": price["created"], "currency": price["currency"],
        "interval": price["recurring"]["interval"], "interval_count": 1, "livemode": false,
        "metadata": {}, "nickname": price["nickname"], "product": price["product"],
        "usage_type": "licensed", "tiers_mode": null, "transform_usage": null,
        "trial_period_days": null, "meter": null,
    })
}

fn period(interval: &str, from: i64) -> i64 {
    from + if interval == "year" { 365 } else { 30 } * 86_400
}

/// Checks the secret key and applies an injected failure: `Some` is the refusal to send.
fn gate(s: &Shared, method: &Method, path: &str, headers: &HeaderMap) -> Option<Response> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != format!("Bearer {SECRET_KEY}") {
        return Some(error(
            401,
            "invalid_request_error",
            "api_key_invalid",
            "Invalid API Key provided.",
            None,
        ));
    }
    let account = headers
        .get("stripe-account")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let Ok(mut st) = s.lock() else {
        return Some(error(500, "api_error", "lock", "state poisoned", None));
    };
    st.log.push((method.to_string(), path.to_string(), account));
    let pos = st.injected.iter().position(|i| path.starts_with(&i.path))?;
    let i = st.injected.remove(pos)?;
    let mut r = error(i.status, &i.kind, &i.code, &i.message, None);
    if i.status == 429 {
        r.headers_mut().insert(
            "stripe-should-retry",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Some(r)
}

/// Replays a POST answered before under the same `Idempotency-Key`.
///
/// A handler checks for a replay, makes its object and [`remember`]s the answer under one hold
/// of the state's lock: two requests sent at once with one key (a retry racing the original)
/// get one object between them, as from Stripe, not one each.
fn replay(st: &Inner, headers: &HeaderMap) -> Option<Response> {
    let key = headers.get("idempotency-key")?.to_str().ok()?;
    let (status, body) = st.idempotent.get(key)?;
    let status = StatusCode::from_u16(*status).ok()?;
    let mut r = (status, Json(body.clone())).into_response();
    r.headers_mut().insert(
        "idempotent-replayed",
        axum::http::HeaderValue::from_static("true"),
    );
    Some(r)
}

/// Keeps the answer to a POST for the replays of its `Idempotency-Key` (see [`replay`]).
fn remember(st: &mut Inner, headers: &HeaderMap, body: &Value) {
    if let Some(key) = headers.get("idempotency-key").and_then(|v| v.to_str().ok()) {
        st.idempotent.insert(key.to_string(), (200, body.clone()));
    }
}

macro_rules! locked {
    ($s:expr) => {
        match $s.lock() {
            Ok(g) => g,
            Err(_) => return error(500, "api_error", "lock", "state poisoned", None),
        }
    };
}

async fn get_product(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = gate(&s, &method, "/v1/products", &headers) {
        return r;
    }
    let st = locked!(s);
    match st.products.get(&id) {
        Some(p) => Json(p.clone()).into_response(),
        None => no_such("product", &id),
    }
}

async fn create_product(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&s, &method, "/v1/products", &headers) {
        return r;
    }
    let mut st = locked!(s);
    if let Some(r) = replay(&st, &headers) {
        return r;
    }
    let f = Form::parse(&body);
    let Some(name) = f.get("name") else {
        return missing("name");
    };
    let id = match f.get("id") {
        Some(id) => id.to_string(),
        None => st.id("prod"),
    };
    if st.products.contains_key(&id) {
        return error(
            400,
            "invalid_request_error",
            "resource_already_exists",
            &format!("Product already exists: {id}"),
            Some("id"),
        );
    }
    let t = now();
    let p = json!({
        "id": id, "object": "product", "active": true, "created": t, "updated": t,
        "name": name, "description": f.get("description"), "images": [],
        "marketing_features": [], "metadata": f.map("metadata"), "livemode": false,
        "type": "service", "default_price": null, "package_dimensions": null,
        "shippable": null, "statement_descriptor": null, "tax_code": null, "unit_label": null,
        "url": null,
    });
    st.products.insert(id, p.clone());
    remember(&mut st, &headers, &p);
    Json(p).into_response()
}

async fn update_product(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&s, &method, "/v1/products", &headers) {
        return r;
    }
    let f = Form::parse(&body);
    let mut st = locked!(s);
    let Some(p) = st.products.get_mut(&id) else {
        return no_such("product", &id);
    };
    if let Some(n) = f.get("name") {
        p["name"] = json!(n);
    }
    if let Some(d) = f.get("description") {
        p["description"] = json!(d);
    }
    p["updated"] = json!(now());
    Json(p.clone()).into_response()
}

#[derive(serde::Deserialize)]
struct Limit {
    limit: Option<usize>,
    customer: Option<String>,
}

async fn list_prices(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    if let Some(r) = gate(&s, &method, "/v1/prices", &headers) {
        return r;
    }
    let f = Form::parse(uri.query().unwrap_or_default().as_bytes());
    let keys = f.list("lookup_keys");
    if keys.len() > 10 {
        return error(
            400,
            "invalid_request_error",
            "parameter_invalid",
            "lookup_keys: at most 10",
            Some("lookup_keys"),
        );
    }
    let active = f.get("active").map(|a| a == "true");
    let st = locked!(s);
    let data: Vec<Value> = st
        .prices
        .iter()
        .filter(|p| {
            keys.is_empty()
                || p["lookup_key"]
                    .as_str()
                    .is_some_and(|k| keys.iter().any(|x| x == k))
        })
        .filter(|p| active.is_none_or(|a| p["active"].as_bool() == Some(a)))
        .cloned()
        .collect();
    Json(list_of("/v1/prices", data)).into_response()
}

async fn create_price(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&s, &method, "/v1/prices", &headers) {
        return r;
    }
    let mut st = locked!(s);
    if let Some(r) = replay(&st, &headers) {
        return r;
    }
    let f = Form::parse(&body);
    let (Some(currency), Some(product)) = (f.get("currency"), f.get("product")) else {
        return missing("currency");
    };
    let Some(amount) = f.get("unit_amount").and_then(|a| a.parse::<i64>().ok()) else {
        return missing("unit_amount");
    };
    if !st.products.contains_key(product) {
        return no_such("product", product);
    }
    let key = f.get("lookup_key").map(str::to_string);
    if let Some(k) = &key {
        let taken = st
            .prices
            .iter()
            .position(|p| p["lookup_key"].as_str() == Some(k));
        match (taken, f.get("transfer_lookup_key")) {
            (Some(i), Some("true")) => st.prices[i]["lookup_key"] = Value::Null,
            (Some(_), _) => {
                return error(
                    400,
                    "invalid_request_error",
                    "lookup_key_exists",
                    &format!("A price with lookup_key {k} already exists."),
                    Some("lookup_key"),
                );
            }
            (None, _) => {}
        }
    }
    let id = st.id("price");
    let interval = f.get("recurring[interval]");
    let p = json!({
        "id": id, "object": "price", "active": true, "billing_scheme": "per_unit",
        "created": now(), "currency": currency, "livemode": false, "lookup_key": key,
        "metadata": f.map("metadata"), "nickname": f.get("nickname"), "product": product,
        "recurring": interval.map(|i| json!({"interval": i, "interval_count": 1,
            "usage_type": "licensed", "meter": null, "trial_period_days": null})),
        "tax_behavior": "unspecified", "tiers_mode": null, "transform_quantity": null,
        "type": if interval.is_some() { "recurring" } else { "one_time" },
        "unit_amount": amount, "unit_amount_decimal": amount.to_string(),
        "custom_unit_amount": null,
    });
    st.prices.push(p.clone());
    remember(&mut st, &headers, &p);
    Json(p).into_response()
}

async fn create_customer(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&s, &method, "/v1/customers", &headers) {
        return r;
    }
    let mut st = locked!(s);
    if let Some(r) = replay(&st, &headers) {
        return r;
    }
    let f = Form::parse(&body);
    let id = st.id("cus");
    let c = json!({
        "id": id, "object": "customer", "created": now(), "livemode": false,
        "name": f.get("name"), "email": f.get("email"), "metadata": f.map("metadata"),
        "preferred_locales": f.list("preferred_locales"), "balance": 0, "currency": null,
        "delinquent": false, "description": null, "invoice_prefix": "PARVIS",
        "tax_exempt": "none",
    });
    st.customers.insert(id, c.clone());
    remember(&mut st, &headers, &c);
    Json(c).into_response()
}

async fn create_session(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&s, &method, "/v1/checkout/sessions", &headers) {
        return r;
    }
    let mut st = locked!(s);
    if let Some(r) = replay(&st, &headers) {
        return r;
    }
    let account = headers
        .get("stripe-account")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let f = Form::parse(&body);
    let Some(mode) = f.get("mode") else {
        return missing("mode");
    };
    let (Some(success), Some(cancel)) = (f.get("success_url"), f.get("cancel_url")) else {
        return missing("success_url");
    };
    let (amount, currency) = match mode {
        "subscription" => {
            let Some(price_id) = f.get("line_items[0][price]") else {
                return missing("line_items[0][price]");
            };
            let Some(price) = st.prices.iter().find(|p| p["id"] == price_id).cloned() else {
                return no_such("price", price_id);
            };
            let Some(customer) = f.get("customer") else {
                return missing("customer");
            };
            if !st.customers.contains_key(customer) {
                return no_such("customer", customer);
            }
            (
                price["unit_amount"].as_i64(),
                price["currency"].as_str().map(str::to_string),
            )
        }
        "payment" => {
            let amount = f
                .get("line_items[0][price_data][unit_amount]")
                .and_then(|a| a.parse::<i64>().ok());
            let Some(amount) = amount else {
                return missing("line_items[0][price_data][unit_amount]");
            };
            (
                Some(amount),
                f.get("line_items[0][price_data][currency]")
                    .map(str::to_string),
            )
        }
        other => {
            return error(
                400,
                "invalid_request_error",
                "parameter_invalid",
                &format!("Invalid mode: {other}"),
                Some("mode"),
            );
        }
    };
    let id = st.id("cs_test");
    let t = now();
    let session = json!({
        "id": id, "object": "checkout.session", "mode": mode, "created": t,
        "expires_at": t + 86_400, "livemode": false, "status": "open",
        "payment_status": "unpaid", "url": format!("https://checkout.stripe.test/c/pay/{id}"),
        "success_url": success, "cancel_url": cancel, "customer": f.get("customer"),
        "subscription": null, "metadata": f.map("metadata"), "amount_total": amount,
        "amount_subtotal": amount, "currency": currency, "locale": f.get("locale"),
        "client_reference_id": f.get("client_reference_id"),
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null,
            "terms_of_service_acceptance": null},
        "payment_method_types": ["card", "sepa_debit"], "shipping_options": [],
        "payment_intent": null,
        "_price": f.get("line_items[0][price]"),
        "_subscription_metadata": f.map("subscription_data[metadata]"),
        "_account": account,
    });
    st.sessions.insert(id, session.clone());
    let public = strip_private(&session);
    remember(&mut st, &headers, &public);
    Json(public).into_response()
}

/// A Checkout session, seen from the account it was created on (`Stripe-Account`).
async fn get_session(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = gate(&s, &method, "/v1/checkout/sessions", &headers) {
        return r;
    }
    let account = headers.get("stripe-account").and_then(|v| v.to_str().ok());
    let st = locked!(s);
    match st.sessions.get(&id) {
        Some(session) if session["_account"].as_str() == account => {
            Json(strip_private(session)).into_response()
        }
        _ => no_such("checkout.session", &id),
    }
}

/// Drops the fake's own bookkeeping fields (`_…`) before answering.
fn strip_private(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

async fn create_portal(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&s, &method, "/v1/billing_portal/sessions", &headers) {
        return r;
    }
    let f = Form::parse(&body);
    let Some(customer) = f.get("customer") else {
        return missing("customer");
    };
    let mut st = locked!(s);
    if !st.customers.contains_key(customer) {
        return no_such("customer", customer);
    }
    let id = st.id("bps");
    Json(json!({
        "id": id, "object": "billing_portal.session", "configuration": "bpc_parvis",
        "created": now(), "customer": customer, "livemode": false, "locale": f.get("locale"),
        "on_behalf_of": null, "return_url": f.get("return_url"), "flow": null,
        "url": format!("https://billing.stripe.test/p/session/{id}"),
    }))
    .into_response()
}

async fn get_subscription(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = gate(&s, &method, "/v1/subscriptions", &headers) {
        return r;
    }
    let st = locked!(s);
    match st.subscriptions.get(&id) {
        Some(sub) => Json(sub.clone()).into_response(),
        None => no_such("subscription", &id),
    }
}

async fn update_subscription(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(r) = gate(&s, &method, "/v1/subscriptions", &headers) {
        return r;
    }
    let f = Form::parse(&body);
    let mut st = locked!(s);
    let price = match f.get("items[0][price]") {
        Some(p) => match st.prices.iter().find(|x| x["id"] == p).cloned() {
            Some(price) => Some(price),
            None => return no_such("price", p),
        },
        None => None,
    };
    let Some(sub) = st.subscriptions.get_mut(&id) else {
        return no_such("subscription", &id);
    };
    if let Some(price) = price {
        let item = &mut sub["items"]["data"][0];
        if f.get("items[0][id]") != item["id"].as_str() {
            return no_such(
                "subscription_item",
                f.get("items[0][id]").unwrap_or_default(),
            );
        }
        item["plan"] = plan_of(&price);
        item["price"] = price;
        sub["_proration_behavior"] = json!(f.get("proration_behavior"));
    }
    Json(strip_private(sub)).into_response()
}

async fn list_invoices(
    State(s): State<Shared>,
    method: Method,
    headers: HeaderMap,
    Query(q): Query<Limit>,
) -> Response {
    if let Some(r) = gate(&s, &method, "/v1/invoices", &headers) {
        return r;
    }
    let st = locked!(s);
    let mut data: Vec<Value> = st
        .invoices
        .iter()
        .filter(|i| q.customer.as_deref().is_none_or(|c| i["customer"] == c))
        .cloned()
        .collect();
    data.reverse();
    data.truncate(q.limit.unwrap_or(10));
    Json(list_of("/v1/invoices", data)).into_response()
}

impl FakeStripe {
    /// Starts the fake on a free loopback port.
    pub async fn start() -> Result<FakeStripe> {
        let state: Shared = Arc::default();
        let app = Router::new()
            .route("/v1/products", post(create_product))
            .route("/v1/products/{id}", get(get_product).post(update_product))
            .route("/v1/prices", get(list_prices).post(create_price))
            .route("/v1/customers", post(create_customer))
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(get_session))
            .route("/v1/billing_portal/sessions", post(create_portal))
            .route(
                "/v1/subscriptions/{id}",
                get(get_subscription).post(update_subscription),
            )
            .route("/v1/invoices", get(list_invoices))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeStripe { addr, state })
    }

    /// `STRIPE_API_BASE` for Parvis.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// A test app on `backend` whose payments go through this fake, with the keys it expects.
    pub async fn app(&self, backend: crate::Backend) -> Result<crate::TestApp> {
        let base = self.url();
        crate::TestApp::start_configured(backend, 0, move |c| {
            c.stripe_secret_key = Some(SECRET_KEY.into());
            c.stripe_webhook_secret = Some(WEBHOOK_SECRET.into());
            c.stripe_api_base = Some(base);
        })
        .await
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> Result<T>) -> Result<T> {
        let mut st = self.state.lock().map_err(|_| anyhow!("state poisoned"))?;
        f(&mut st)
    }

    /// The next request whose path starts with `path` fails with this error.
    pub fn inject(
        &self,
        path: &str,
        status: u16,
        kind: &str,
        code: &str,
        message: &str,
    ) -> Result<()> {
        self.with(|st| {
            st.injected.push_back(Injected {
                path: path.into(),
                status,
                kind: kind.into(),
                code: code.into(),
                message: message.into(),
            });
            Ok(())
        })
    }

    /// How many customers exist.
    pub fn customers(&self) -> Result<usize> {
        self.with(|st| Ok(st.customers.len()))
    }

    /// Every API request so far: (method, path, Stripe-Account).
    pub fn requests(&self) -> Result<Vec<(String, String, Option<String>)>> {
        self.with(|st| Ok(st.log.clone()))
    }

    /// Prices with their lookup keys (active ones).
    pub fn prices(&self) -> Result<Vec<Value>> {
        self.with(|st| Ok(st.prices.clone()))
    }

    /// A subscription as Stripe holds it.
    pub fn subscription(&self, id: &str) -> Result<Value> {
        self.with(|st| {
            st.subscriptions
                .get(id)
                .cloned()
                .context("no such subscription")
        })
    }

    /// The Checkout session behind a Checkout URL.
    pub fn session_of_url(&self, url: &str) -> Result<Value> {
        let id = url.rsplit('/').next().unwrap_or_default().to_string();
        self.with(|st| st.sessions.get(&id).cloned().context("no such session"))
    }

    fn event(st: &mut Inner, kind: &str, object: Value, account: Option<&str>) -> Value {
        let id = st.id("evt");
        json!({
            "id": id, "object": "event", "api_version": API_VERSION, "created": now(),
            "data": {"object": strip_private(&object)}, "livemode": false,
            "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
            "type": kind, "account": account,
        })
    }

    fn invoice(st: &mut Inner, sub: &Value, paid: bool) -> Value {
        let id = st.id("in");
        let number = format!("PARVIS-{:04}", st.invoices.len() + 1);
        let item = &sub["items"]["data"][0];
        let amount = item["price"]["unit_amount"].as_i64().unwrap_or(0);
        let t = now();
        let inv = json!({
            "id": id, "object": "invoice", "number": number, "customer": sub["customer"],
            "created": t, "currency": sub["currency"], "livemode": false,
            "status": if paid { "paid" } else { "open" },
            "amount_due": amount, "amount_paid": if paid { amount } else { 0 },
            "amount_remaining": if paid { 0 } else { amount }, "amount_overpaid": 0,
            "amount_shipping": 0, "attempt_count": 1, "attempted": true,
            "automatic_tax": {"enabled": false, "liability": null, "provider": null,
                "status": null},
            "billing_reason": "subscription_cycle", "collection_method": "charge_automatically",
            "default_tax_rates": [], "discounts": [],
            "hosted_invoice_url": format!("https://invoice.stripe.test/i/{id}"),
            "issuer": {"type": "self", "account": null},
            "lines": list_of(&format!("/v1/invoices/{id}/lines"), vec![]),
            "parent": {"type": "subscription_details", "quote_details": null,
                "subscription_details": {"subscription": sub["id"], "metadata": sub["metadata"]}},
            "payment_settings": {"default_mandate": null, "payment_method_options": null,
                "payment_method_types": null},
            "period_start": item["current_period_start"], "period_end": item["current_period_end"],
            "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0,
            "starting_balance": 0,
            "status_transitions": {"finalized_at": t, "marked_uncollectible_at": null,
                "paid_at": if paid { json!(t) } else { Value::Null }, "voided_at": null},
            "subtotal": amount, "total": amount,
        });
        st.invoices.push(inv.clone());
        inv
    }

    /// The payer completes the Checkout page: for a subscription, Stripe creates it, charges
    /// the first invoice and sends `checkout.session.completed`, `customer.subscription.created`
    /// and `invoice.paid`; for a payment, `checkout.session.completed` on the connected account.
    pub fn complete_checkout(&self, url: &str) -> Result<Vec<Value>> {
        let session_id = url.rsplit('/').next().unwrap_or_default().to_string();
        self.with(|st| {
            let mut session = st
                .sessions
                .get(&session_id)
                .cloned()
                .context("no such session")?;
            session["status"] = json!("complete");
            session["payment_status"] = json!("paid");
            let account = session["_account"].as_str().map(str::to_string);
            if session["mode"] == "payment" {
                st.sessions.insert(session_id, session.clone());
                return Ok(vec![Self::event(
                    st,
                    "checkout.session.completed",
                    session,
                    account.as_deref(),
                )]);
            }
            let price_id = session["_price"].as_str().unwrap_or_default().to_string();
            let price = st
                .prices
                .iter()
                .find(|p| p["id"] == price_id.as_str())
                .cloned()
                .context("price gone")?;
            let sub_id = st.id("sub");
            let item_id = st.id("si");
            let t = now();
            let interval = price["recurring"]["interval"].as_str().unwrap_or("month");
            let sub = json!({
                "id": sub_id, "object": "subscription", "customer": session["customer"],
                "status": "active", "created": t, "start_date": t, "billing_cycle_anchor": t,
                "cancel_at_period_end": false, "cancel_at": null, "canceled_at": null,
                "collection_method": "charge_automatically", "currency": price["currency"],
                "livemode": false, "metadata": session["_subscription_metadata"],
                "discounts": [], "billing_schedules": [],
                "automatic_tax": {"enabled": false, "liability": null, "disabled_reason": null},
                "billing_mode": {"type": "classic", "flexible": null, "updated_at": null},
                "invoice_settings": {"issuer": {"type": "self", "account": null},
                    "account_tax_ids": null},
                "items": list_of(&format!("/v1/subscription_items?subscription={sub_id}"), vec![json!({
                    "id": item_id, "object": "subscription_item", "created": t,
                    "current_period_start": t, "current_period_end": period(interval, t),
                    "discounts": [], "metadata": {}, "plan": plan_of(&price), "price": price,
                    "quantity": 1, "subscription": sub_id, "tax_rates": [],
                })]),
            });
            st.subscriptions.insert(sub_id.clone(), sub.clone());
            session["subscription"] = json!(sub_id);
            st.sessions.insert(session_id, session.clone());
            let invoice = Self::invoice(st, &sub, true);
            Ok(vec![
                Self::event(st, "checkout.session.completed", session, None),
                Self::event(st, "customer.subscription.created", sub, None),
                Self::event(st, "invoice.paid", invoice, None),
            ])
        })
    }

    fn set_status(st: &mut Inner, id: &str, status: &str) -> Result<Value> {
        let sub = st
            .subscriptions
            .get_mut(id)
            .context("no such subscription")?;
        sub["status"] = json!(status);
        if status == "canceled" {
            sub["canceled_at"] = json!(now());
        }
        Ok(sub.clone())
    }

    /// A renewal fails: `invoice.payment_failed`, then the subscription turns `past_due`.
    pub fn fail_renewal(&self, sub: &str) -> Result<Vec<Value>> {
        self.with(|st| {
            let s = Self::set_status(st, sub, "past_due")?;
            let invoice = Self::invoice(st, &s, false);
            Ok(vec![
                Self::event(st, "invoice.payment_failed", invoice, None),
                Self::event(st, "customer.subscription.updated", s, None),
            ])
        })
    }

    /// The mayor fixes the card: the invoice is paid and the subscription is active again.
    pub fn recover(&self, sub: &str) -> Result<Vec<Value>> {
        self.with(|st| {
            let s = Self::set_status(st, sub, "active")?;
            let invoice = Self::invoice(st, &s, true);
            Ok(vec![
                Self::event(st, "invoice.paid", invoice, None),
                Self::event(st, "customer.subscription.updated", s, None),
            ])
        })
    }

    /// Any change Stripe reports on a subscription (metadata, renewal): `customer.subscription.updated`.
    pub fn touch(&self, sub: &str) -> Result<Value> {
        self.with(|st| {
            let s = st
                .subscriptions
                .get(sub)
                .cloned()
                .context("no such subscription")?;
            Ok(Self::event(st, "customer.subscription.updated", s, None))
        })
    }

    /// The subscription ends (cancelled in the portal, or unpaid for good).
    pub fn cancel(&self, sub: &str) -> Result<Vec<Value>> {
        self.with(|st| {
            let s = Self::set_status(st, sub, "canceled")?;
            Ok(vec![Self::event(
                st,
                "customer.subscription.deleted",
                s,
                None,
            )])
        })
    }

    /// `Stripe-Signature` for a payload, as Stripe computes it.
    pub fn sign(payload: &str, secret: &str, timestamp: i64) -> Result<String> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|e| anyhow!("hmac: {e}"))?;
        mac.update(format!("{timestamp}.{payload}").as_bytes());
        Ok(format!(
            "t={timestamp},v1={}",
            hex::encode(mac.finalize().into_bytes())
        ))
    }
}
