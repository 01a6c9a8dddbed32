//! SQL for accounts and e-mail tokens (platform tables: accounts are global).

use sqlx::AnyConnection;

use crate::db::{Db, sql};
use crate::types::AccountId;
use crate::util::{now, token_hash};

/// An account row with its password hash.
#[derive(sql::Row)]
pub struct AccountRow {
    /// Id.
    pub id: AccountId,
    /// Lowercase e-mail.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// When the address was verified.
    pub email_verified_at: Option<i64>,
}

const SELECT: &str =
    "SELECT id, email, display_name, password_hash, email_verified_at FROM accounts";

/// Finds an account by e-mail (lowercase).
pub async fn by_email(db: &Db, email: &str) -> Result<Option<AccountRow>, sqlx::Error> {
    sql::query_as(&format!("{SELECT} WHERE email = $1"))
        .bind(email)
        .fetch_optional(db.platform())
        .await
}

/// Finds an account by id.
pub async fn by_id(db: &Db, id: &AccountId) -> Result<Option<AccountRow>, sqlx::Error> {
    sql::query_as(&format!("{SELECT} WHERE id = $1"))
        .bind(&id.0)
        .fetch_optional(db.platform())
        .await
}

/// Inserts an account; `Ok(false)` when the e-mail is taken.
pub async fn insert(
    conn: &mut AnyConnection,
    id: &AccountId,
    email: &str,
    display_name: &str,
    password_hash: &str,
    verified_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let done = sql::query(
        "INSERT INTO accounts (id, email, display_name, password_hash, email_verified_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email) DO NOTHING",
    )
    .bind(&id.0)
    .bind(email)
    .bind(display_name)
    .bind(password_hash)
    .bind(verified_at)
    .bind(now())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores a single-use e-mail token (only its hash).
pub async fn insert_token(
    conn: &mut AnyConnection,
    token: &str,
    account: &AccountId,
    purpose: &str,
    ttl_secs: i64,
) -> Result<(), sqlx::Error> {
    sql::query("INSERT INTO email_tokens (token_hash, account_id, purpose, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash(token))
        .bind(&account.0)
        .bind(purpose)
        .bind(now() + ttl_secs)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Consumes a valid, unused, unexpired token; returns its account.
pub async fn consume_token(
    conn: &mut AnyConnection,
    token: &str,
    purpose: &str,
) -> Result<Option<AccountId>, sqlx::Error> {
    sql::query_scalar(
        "UPDATE email_tokens SET used_at = $1 WHERE token_hash = $2 AND purpose = $3 \
         AND used_at IS NULL AND expires_at > $1 RETURNING account_id",
    )
    .bind(now())
    .bind(token_hash(token))
    .bind(purpose)
    .fetch_optional(&mut *conn)
    .await
}

/// The account of a currently valid token (without consuming it).
pub async fn token_account(
    db: &Db,
    token: &str,
    purpose: &str,
) -> Result<Option<AccountId>, sqlx::Error> {
    sql::query_scalar(
        "SELECT account_id FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash(token))
    .bind(purpose)
    .bind(now())
    .fetch_optional(db.platform())
    .await
}

/// Whether a token is currently valid (without consuming it).
pub async fn token_is_valid(db: &Db, token: &str, purpose: &str) -> Result<bool, sqlx::Error> {
    let row = sql::query(
        "SELECT 1 AS ok FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash(token))
    .bind(purpose)
    .bind(now())
    .fetch_optional(db.platform())
    .await?;
    Ok(row.is_some())
}

/// Marks the address verified.
pub async fn mark_verified(conn: &mut AnyConnection, id: &AccountId) -> Result<(), sqlx::Error> {
    sql::query(
        "UPDATE accounts SET email_verified_at = COALESCE(email_verified_at, $1) WHERE id = $2",
    )
    .bind(now())
    .bind(&id.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Replaces the password hash.
pub async fn set_password(
    conn: &mut AnyConnection,
    id: &AccountId,
    hash: &str,
) -> Result<(), sqlx::Error> {
    sql::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(&id.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// What this feature keeps about a person (see [`crate::privacy::personal`]).
pub struct Personal;

#[async_trait::async_trait]
impl crate::privacy::personal::PersonalData for Personal {
    fn tables(&self) -> &'static [&'static str] {
        &[
            "accounts",
            "sessions",
            "sso_codes",
            "email_tokens",
            "totp_recovery_codes",
            "login_challenges",
            "identity_links",
            "oidc_logins",
        ]
    }

    async fn export(
        &self,
        conn: &mut sqlx::AnyConnection,
        account: &crate::types::AccountId,
        out: &mut crate::privacy::personal::Export,
    ) -> Result<(), sqlx::Error> {
        out.first(
            conn,
            "account",
            "SELECT id, email, display_name, email_verified_at, created_at, \
             totp_enabled_at AS double_authentification_depuis FROM accounts WHERE id = $1",
            account,
            serde_json::Value::Null,
        )
        .await?;
        out.rows(
            conn,
            "sessions",
            "SELECT created_at, expires_at FROM sessions WHERE account_id = $1",
            account,
        )
        .await?;
        out.rows(
            conn,
            "sso_codes",
            "SELECT host, created_at, expires_at, used_at FROM sso_codes WHERE account_id = $1",
            account,
        )
        .await?;
        out.rows(
            conn,
            "franceconnect",
            "SELECT given_name AS prenoms, family_name AS nom, birthdate AS date_de_naissance, \
             linked_at AS liee_le FROM identity_links WHERE account_id = $1",
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
            &[
                "DELETE FROM sessions WHERE account_id = $1",
                "DELETE FROM sso_codes WHERE account_id = $1",
                "DELETE FROM totp_recovery_codes WHERE account_id = $1",
                "DELETE FROM login_challenges WHERE account_id = $1",
                "DELETE FROM email_tokens WHERE account_id = $1",
                "DELETE FROM identity_links WHERE account_id = $1",
                "DELETE FROM oidc_logins WHERE account_id = $1",
            ],
        )
        .await
    }
}
