//! Subscription requests: a mayor (or staff) asks for their commune; a platform admin verifies
//! the person and approves (the requester becomes the tenant's admin) or refuses with a reason.

use serde::Serialize;

use crate::db::{Db, sql};
use crate::error::AppError;
use crate::rate_limit::RateLimit;
use crate::types::{AccountId, InseeCode};
use crate::util::{new_id, now};

/// Requests an account may file per hour: a mayor files one, a town-hall agent a few; each one
/// costs a platform admin a verification call.
pub const REQUESTS_PER_HOUR: u32 = 5;

/// Limits the requests filed per account.
pub struct RequestLimiter {
    per_account: RateLimit<AccountId>,
}

impl Default for RequestLimiter {
    fn default() -> Self {
        RequestLimiter {
            per_account: RateLimit::per_hour(REQUESTS_PER_HOUR),
        }
    }
}

impl RequestLimiter {
    /// Records a filing attempt; a 429 error when the account is over its limit.
    pub fn check(&self, account: &AccountId) -> Result<(), AppError> {
        if self.per_account.check(account) {
            Ok(())
        } else {
            Err(AppError::TooManyRequests)
        }
    }
}

/// The functions a requester may hold.
pub const REQUESTER_ROLES: &[&str] = &[
    "Maire",
    "Adjoint ou adjointe au maire",
    "Conseiller ou conseillère municipale",
    "Directeur ou secrétaire général de mairie",
    "Agent de la mairie",
];

/// A request, as the admin pages show it.
#[derive(Debug, Clone, Serialize, sql::Row)]
pub struct SubscriptionRequest {
    /// Id.
    pub id: String,
    /// Commune code.
    pub insee: String,
    /// Commune name.
    pub commune_name: String,
    /// Commune population.
    pub population: Option<i64>,
    /// Requesting account.
    pub account_id: String,
    /// Its e-mail.
    pub account_email: String,
    /// Name given in the form.
    pub requester_name: String,
    /// Function given in the form.
    pub requester_role: String,
    /// Phone to call back for verification.
    pub phone: String,
    /// Free message.
    pub message: String,
    /// pending, approved or rejected.
    pub status: String,
    /// Reason of a refusal.
    pub decision_reason: Option<String>,
    /// Filed at (Unix seconds).
    pub created_at: i64,
}

/// The form a requester fills.
pub struct NewRequest<'a> {
    /// Commune code as typed.
    pub insee: &'a str,
    /// Name.
    pub requester_name: &'a str,
    /// Function.
    pub requester_role: &'a str,
    /// Phone.
    pub phone: &'a str,
    /// Message.
    pub message: &'a str,
}

/// Files a request after checking it; returns its id.
pub async fn create(
    db: &Db,
    account: &AccountId,
    form: NewRequest<'_>,
) -> Result<String, AppError> {
    let insee = InseeCode::parse(form.insee).map_err(|e| AppError::bad_request(e.to_string()))?;
    let name = form.requester_name.trim();
    if name.chars().count() < 3 || name.chars().count() > 120 {
        return Err(AppError::bad_request(
            "Indiquez vos prénom et nom (3 à 120 caractères).",
        ));
    }
    if !REQUESTER_ROLES.contains(&form.requester_role) {
        return Err(AppError::bad_request(
            "Choisissez votre fonction dans la liste.",
        ));
    }
    let phone: String = form
        .phone
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.')
        .collect();
    let phone_ok = (10..=15).contains(&phone.len())
        && phone
            .trim_start_matches('+')
            .bytes()
            .all(|b| b.is_ascii_digit());
    if !phone_ok {
        return Err(AppError::bad_request(
            "Indiquez un numéro de téléphone où nous pourrons vous rappeler (par exemple 04 74 24 03 08).",
        ));
    }
    let message = form.message.trim();
    if message.chars().count() > 2000 {
        return Err(AppError::bad_request(
            "Le message est trop long (2 000 caractères au plus).",
        ));
    }
    let known = sql::query("SELECT 1 AS one FROM communes WHERE insee = $1")
        .bind(insee.as_str())
        .fetch_optional(db.platform())
        .await?;
    if known.is_none() {
        let parent: Option<(String, Option<i64>)> = sql::query_as("SELECT c.name, c.name_kind FROM neighbourhoods n JOIN communes c ON c.insee = n.parent_insee WHERE n.code = $1")
            .bind(insee.as_str())
            .fetch_optional(db.platform())
            .await?;
        return Err(AppError::bad_request(match parent {
            Some((parent, kind)) => format!(
                "Le code {insee} désigne une commune déléguée ou un arrondissement {} : inscrivez cette commune.",
                crate::communes::names::of(&parent, kind)
            ),
            None => format!("Aucune commune n'a le code INSEE {insee}."),
        }));
    }
    let mut tx = db.begin_immediate().await?;
    let duplicate = sql::query(
        "SELECT 1 AS one FROM subscription_requests WHERE insee = $1 AND account_id = $2 AND status = 'pending'",
    )
    .bind(insee.as_str())
    .bind(&account.0)
    .fetch_optional(&mut tx)
    .await?;
    if duplicate.is_some() {
        return Err(AppError::conflict(
            "Vous avez déjà une demande en attente pour cette commune.",
        ));
    }
    let id = new_id();
    sql::query(
        "INSERT INTO subscription_requests (id, insee, account_id, requester_name, requester_role, phone, message, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(insee.as_str())
    .bind(&account.0)
    .bind(name)
    .bind(form.requester_role)
    .bind(&phone)
    .bind(message)
    .bind(now())
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

const SELECT: &str = "SELECT r.id, r.insee, c.name AS commune_name, c.population, r.account_id, a.email AS account_email, \
     r.requester_name, r.requester_role, r.phone, r.message, r.status, r.decision_reason, r.created_at \
     FROM subscription_requests r JOIN communes c ON c.insee = r.insee JOIN accounts a ON a.id = r.account_id";

/// Requests by status, oldest first.
pub async fn list(db: &Db, status: &str) -> Result<Vec<SubscriptionRequest>, sqlx::Error> {
    sql::query_as(&format!(
        "{SELECT} WHERE r.status = $1 ORDER BY r.created_at, r.id LIMIT 500"
    ))
    .bind(status)
    .fetch_all(db.platform())
    .await
}

/// One request.
pub async fn get(db: &Db, id: &str) -> Result<Option<SubscriptionRequest>, sqlx::Error> {
    sql::query_as(&format!("{SELECT} WHERE r.id = $1"))
        .bind(id)
        .fetch_optional(db.platform())
        .await
}

/// Records a decision on a pending request; false when it was not pending any more.
pub async fn decide(
    db: &Db,
    id: &str,
    approved: bool,
    reason: Option<&str>,
    by: &AccountId,
) -> Result<bool, sqlx::Error> {
    let done = sql::query(
        "UPDATE subscription_requests SET status = $1, decision_reason = $2, decided_by = $3, decided_at = $4 \
         WHERE id = $5 AND status = 'pending'",
    )
    .bind(if approved { "approved" } else { "rejected" })
    .bind(reason)
    .bind(&by.0)
    .bind(now())
    .bind(id)
    .execute(db.platform())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What this feature keeps about a person (see [`crate::privacy::personal`]).
pub struct Personal;

#[async_trait::async_trait]
impl crate::privacy::personal::PersonalData for Personal {
    fn tables(&self) -> &'static [&'static str] {
        &[]
    }

    async fn export(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &crate::types::AccountId,
        out: &mut crate::privacy::personal::Export,
    ) -> Result<(), sqlx::Error> {
        out.rows(
            conn,
            "subscription_requests",
            "SELECT insee, requester_name, requester_role, phone, message, status, created_at FROM subscription_requests \
             WHERE account_id = $1",
            account,
        )
        .await?;
        Ok(())
    }

    async fn erase(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &crate::types::AccountId,
    ) -> Result<(), sqlx::Error> {
        crate::privacy::personal::erase_with(
            conn,
            account,
            &["DELETE FROM subscription_requests WHERE account_id = $1 AND status = 'pending'"],
        )
        .await
    }
}
