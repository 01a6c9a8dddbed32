//! `/admin/modules/usage` (« Consommation des modules »): what each module enabled in the
//! commune sent over the last 24 hours (notices, SMS, posts) and what it stores, against the
//! limits the host enforces (`parvis_core::modules::service::consumption`), so the commune's
//! admins see a module near its limits before it is refused.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use parvis_core::authz::{Can, ManageModules};
use parvis_core::error::AppResult;
use parvis_core::modules::{quota, service};
use parvis_core::state::AppState;
use parvis_core::web::render::Template;
use parvis_core::web::{Page, Tenant};
use serde::Serialize;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/modules/usage", get(usage))
}

/// One figure against its limit, as the page shows it.
#[derive(Debug, Serialize)]
struct Figure {
    label: &'static str,
    used: i64,
    limit: i64,
    /// `12 345`.
    used_text: String,
    limit_text: String,
    /// Rounded percentage of the limit, at most 100.
    percent: i64,
}

impl Figure {
    fn new(label: &'static str, used: i64, limit: i64) -> Figure {
        Figure {
            label,
            used,
            limit,
            used_text: parvis_core::util::thousands(used),
            limit_text: parvis_core::util::thousands(limit),
            percent: if limit > 0 {
                (used.saturating_mul(100) / limit).clamp(0, 100)
            } else {
                0
            },
        }
    }
}

#[derive(Debug, Serialize)]
struct ModuleUsage {
    id: String,
    name: String,
    sent: Vec<Figure>,
    storage: Vec<Figure>,
}

/// `admin/usage.html`.
#[derive(Debug, Serialize)]
struct Usage {
    modules: Vec<ModuleUsage>,
    /// Notices one account may get from a module in an hour.
    per_account_per_hour: i64,
}

impl Template for Usage {
    const NAME: &'static str = "admin/usage.html";
}

async fn usage(
    State(state): State<AppState>,
    _: Can<ManageModules>,
    page: Page,
    tenant: Tenant,
) -> AppResult<Response> {
    let modules = service::consumption(&state.modules, &tenant)
        .await?
        .into_iter()
        .map(|c| {
            let (sent, stored) = (c.sent, c.stored);
            let mut bytes = Figure::new("Espace de stockage", stored.bytes, stored.max_bytes);
            bytes.used_text = parvis_core::util::size_text(stored.bytes);
            bytes.limit_text = parvis_core::util::size_text(stored.max_bytes);
            ModuleUsage {
                id: c.module.id.to_string(),
                name: c.module.manifest.name.clone(),
                sent: vec![
                    Figure::new(
                        "Notifications à tous les abonnés",
                        sent.follower_notices.used,
                        sent.follower_notices.limit,
                    ),
                    Figure::new(
                        "Destinataires de notifications nominatives",
                        sent.notice_recipients.used,
                        sent.notice_recipients.limit,
                    ),
                    Figure::new("SMS envoyés", sent.sms.used, sent.sms.limit),
                    Figure::new(
                        "Publications dans le fil",
                        sent.posts.used,
                        sent.posts.limit,
                    ),
                ],
                storage: vec![
                    bytes,
                    Figure::new("Documents", stored.documents, stored.max_documents),
                ],
            }
        })
        .collect();
    let usage = Usage {
        modules,
        per_account_per_hour: quota::NOTICES_PER_ACCOUNT_PER_HOUR,
    };
    page.render_form(&state, StatusCode::OK, &usage)
}
