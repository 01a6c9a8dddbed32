//! Account rules, free of HTTP: validation, hashing, tokens, the e-mails to send.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString, rand_core::OsRng,
};

use serde::Serialize;

use crate::accounts::store;
use crate::db::{Db, sql};
use crate::jobs::Jobs;
use crate::mail::Email;
use crate::types::AccountId;
use crate::util::{now, random_token};
use crate::web::render::{Template, Templates};

/// Verification links last 48 hours; reset links one hour.
const VERIFY_TTL: i64 = 48 * 3600;
const RESET_TTL: i64 = 3600;
/// Minimum password length (ANSSI recommends long passphrases over complexity rules).
pub const MIN_PASSWORD: usize = 10;

/// What can go wrong, each with the French message shown next to the form.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The form is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Wrong e-mail or password (deliberately not saying which).
    #[error("Adresse e-mail ou mot de passe incorrect.")]
    BadCredentials,
    /// The address is not verified yet; a new link was sent.
    #[error("Confirmez d'abord votre adresse e-mail : nous venons de vous renvoyer le lien.")]
    Unverified,
    /// The link is invalid, used or expired.
    #[error("Ce lien n'est plus valable (déjà utilisé ou expiré). Demandez-en un nouveau.")]
    BadToken,
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Anything else (hashing, templates).
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Sign-up form.
pub struct Signup<'a> {
    /// Name shown to others.
    pub display_name: &'a str,
    /// E-mail address.
    pub email: &'a str,
    /// Password.
    pub password: &'a str,
}

/// The identity an e-mail address stands for: what accounts are stored and matched under, and
/// what every per-address limit keys on, so that `"  Victim@X.fr\t"` is `victim@x.fr` for both.
pub fn email_identity(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Normalises (see [`email_identity`]) and checks an e-mail address.
pub fn normalize_email(raw: &str) -> Result<String, AccountError> {
    let email = email_identity(raw);
    let valid = email.len() <= 254
        && email.parse::<lettre::Address>().is_ok()
        && email
            .rsplit_once('@')
            .is_some_and(|(_, d)| d.contains('.') || d.ends_with("localhost"));
    if valid {
        Ok(email)
    } else {
        Err(AccountError::Invalid(format!(
            "« {} » n'est pas une adresse e-mail valide.",
            raw.trim().chars().take(80).collect::<String>()
        )))
    }
}

fn check_password(password: &str) -> Result<(), AccountError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(AccountError::Invalid(format!(
            "Le mot de passe doit compter au moins {MIN_PASSWORD} caractères."
        )));
    }
    if n > 1024 {
        return Err(AccountError::Invalid(
            "Le mot de passe est trop long (1024 caractères au plus).".into(),
        ));
    }
    Ok(())
}

fn check_display_name(name: &str) -> Result<String, AccountError> {
    let name = name.trim();
    let n = name.chars().count();
    if !(2..=80).contains(&n) || name.chars().any(char::is_control) {
        return Err(AccountError::Invalid(
            "Le nom affiché doit compter entre 2 et 80 caractères.".into(),
        ));
    }
    Ok(name.to_string())
}

/// The password hash of an account made through FranceConnect, which has no password until
/// its owner chooses one (« Mot de passe oublié ? »): no password verifies against it.
pub const NO_PASSWORD: &str = "!";

/// Whether the account has a password (one made through FranceConnect may not).
pub async fn has_password(db: &crate::db::Db, account: &AccountId) -> Result<bool, sqlx::Error> {
    Ok(store::by_id(db, account)
        .await?
        .is_some_and(|row| row.password_hash != NO_PASSWORD))
}

/// Hashes a password with Argon2id (off the async runtime: it takes tens of milliseconds).
pub async fn hash_password(password: &str) -> Result<String, AccountError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await
    .map_err(|e| anyhow::anyhow!(e))?
    .map_err(AccountError::Other)
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// `mail/verify.txt`: the link that confirms an address.
#[derive(Serialize)]
struct VerifyMail<'a> {
    name: &'a str,
    /// Where the account was created (the commune, or Parvis).
    site_name: &'a str,
    link: String,
}

impl Template for VerifyMail<'_> {
    const NAME: &'static str = "mail/verify.txt";
}

/// `mail/already_registered.txt`: a sign-up with an address that has an account.
#[derive(Serialize)]
struct AlreadyRegisteredMail<'a> {
    name: &'a str,
    login_link: String,
    reset_link: String,
}

impl Template for AlreadyRegisteredMail<'_> {
    const NAME: &'static str = "mail/already_registered.txt";
}

/// `mail/reset.txt`: the link that sets a new password.
#[derive(Serialize)]
struct ResetMail<'a> {
    name: &'a str,
    link: String,
}

impl Template for ResetMail<'_> {
    const NAME: &'static str = "mail/reset.txt";
}

fn mail<T: Template>(
    templates: &Templates,
    to: &str,
    subject: &str,
    text: &T,
) -> Result<Email, AccountError> {
    Ok(Email {
        to: to.to_string(),
        subject: subject.to_string(),
        text: templates.render(text).map_err(anyhow::Error::from)?,
        attachments: vec![],
        notice: None,
        html: None,
        list_unsubscribe: None,
    })
}

/// The services an account flow needs.
pub struct Accounts<'a> {
    /// Storage.
    pub db: &'a Db,
    /// Job queue for mail.
    pub jobs: &'a Jobs,
    /// Mail templates.
    pub templates: &'a Templates,
}

impl Accounts<'_> {
    /// Creates an unverified account and mails the verification link (`origin` + `/verification`).
    /// An address already registered gets a warning e-mail instead, and the visitor sees the
    /// same page: sign-up does not reveal who has an account.
    pub async fn signup(
        &self,
        form: Signup<'_>,
        origin: &str,
        site_name: &str,
    ) -> Result<(), AccountError> {
        let display_name = check_display_name(form.display_name)?;
        let email = normalize_email(form.email)?;
        check_password(form.password)?;
        let hash = hash_password(form.password).await?;
        let id = AccountId::generate();
        let mut tx = self.db.begin_immediate().await?;
        let message = if store::insert(&mut tx, &id, &email, &display_name, &hash, None).await? {
            let token = random_token();
            store::insert_token(&mut tx, &token, &id, "verify", VERIFY_TTL).await?;
            let text = VerifyMail {
                name: &display_name,
                site_name,
                link: format!("{origin}/verification?token={token}"),
            };
            mail(
                self.templates,
                &email,
                "Confirmez votre adresse e-mail sur Parvis",
                &text,
            )?
        } else {
            let text = AlreadyRegisteredMail {
                name: &display_name,
                login_link: format!("{origin}/connexion"),
                reset_link: format!("{origin}/mot-de-passe-oublie"),
            };
            mail(
                self.templates,
                &email,
                "Vous avez déjà un compte Parvis",
                &text,
            )?
        };
        self.jobs.enqueue(&mut *tx, &message).await?;
        tx.commit().await?;
        self.jobs.notify();
        Ok(())
    }

    /// The address a verification link would confirm, without consuming it (the link only
    /// shows a confirmation form: opening it, or a mail scanner prefetching it, changes nothing).
    pub async fn verification_email(&self, token: &str) -> Result<String, AccountError> {
        let id = store::token_account(self.db, token, "verify")
            .await?
            .ok_or(AccountError::BadToken)?;
        let account = store::by_id(self.db, &id)
            .await?
            .ok_or(AccountError::BadToken)?;
        Ok(account.email)
    }

    /// Consumes a verification link (confirmed by a form POST); returns the account to sign in.
    pub async fn verify(&self, token: &str) -> Result<AccountId, AccountError> {
        let mut tx = self.db.begin_immediate().await?;
        let id = store::consume_token(&mut tx, token, "verify")
            .await?
            .ok_or(AccountError::BadToken)?;
        store::mark_verified(&mut tx, &id).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Checks credentials. An unverified address gets a fresh link.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        origin: &str,
    ) -> Result<AccountId, AccountError> {
        let email = normalize_email(email).map_err(|_| AccountError::BadCredentials)?;
        let Some(account) = store::by_email(self.db, &email).await? else {
            // Same work as a real check, so timing does not reveal unknown addresses.
            let _ = hash_password(password).await;
            return Err(AccountError::BadCredentials);
        };
        if !verify_password(password, &account.password_hash).await {
            return Err(AccountError::BadCredentials);
        }
        if account.email_verified_at.is_none() {
            let token = random_token();
            let mut tx = self.db.begin_immediate().await?;
            store::insert_token(&mut tx, &token, &account.id, "verify", VERIFY_TTL).await?;
            let text = VerifyMail {
                name: &account.display_name,
                site_name: "Parvis",
                link: format!("{origin}/verification?token={token}"),
            };
            let message = mail(
                self.templates,
                &email,
                "Confirmez votre adresse e-mail sur Parvis",
                &text,
            )?;
            self.jobs.enqueue(&mut *tx, &message).await?;
            tx.commit().await?;
            self.jobs.notify();
            return Err(AccountError::Unverified);
        }
        Ok(account.id)
    }

    /// Mails a reset link if the address has an account; silent otherwise.
    pub async fn request_reset(&self, email: &str, origin: &str) -> Result<(), AccountError> {
        let email = normalize_email(email)?;
        let Some(account) = store::by_email(self.db, &email).await? else {
            return Ok(());
        };
        let token = random_token();
        let mut tx = self.db.begin_immediate().await?;
        store::insert_token(&mut tx, &token, &account.id, "reset", RESET_TTL).await?;
        let text = ResetMail {
            name: &account.display_name,
            link: format!("{origin}/reinitialiser?token={token}"),
        };
        let message = mail(
            self.templates,
            &email,
            "Réinitialisez votre mot de passe Parvis",
            &text,
        )?;
        self.jobs.enqueue(&mut *tx, &message).await?;
        tx.commit().await?;
        self.jobs.notify();
        Ok(())
    }

    /// Sets a new password from a reset link; ends every other session. Returns the account.
    pub async fn reset(&self, token: &str, password: &str) -> Result<AccountId, AccountError> {
        check_password(password)?;
        let hash = hash_password(password).await?;
        let mut tx = self.db.begin_immediate().await?;
        let id = store::consume_token(&mut tx, token, "reset")
            .await?
            .ok_or(AccountError::BadToken)?;
        store::set_password(&mut tx, &id, &hash).await?;
        // Receiving the link proves the address too.
        store::mark_verified(&mut tx, &id).await?;
        // Every session on every host ends, and no hand-off code opens a new one.
        sql::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(&id.0)
            .execute(&mut tx)
            .await?;
        sql::query("DELETE FROM sso_codes WHERE account_id = $1")
            .bind(&id.0)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }
}

/// Whether `password` is the account's (to confirm a sensitive action such as deletion).
pub async fn password_matches(
    db: &Db,
    account: &AccountId,
    password: &str,
) -> Result<bool, AccountError> {
    match store::by_id(db, account).await? {
        Some(row) => Ok(verify_password(password, &row.password_hash).await),
        None => Ok(false),
    }
}

/// Creates a verified account directly (CLI `user create`, demo); `Ok(None)` if the e-mail exists.
pub async fn create_verified(
    db: &Db,
    email: &str,
    display_name: &str,
    password: &str,
) -> Result<Option<AccountId>, AccountError> {
    let email = normalize_email(email)?;
    let display_name = check_display_name(display_name)?;
    check_password(password)?;
    let hash = hash_password(password).await?;
    let id = AccountId::generate();
    let mut conn = db.platform().acquire().await?;
    Ok(
        store::insert(&mut conn, &id, &email, &display_name, &hash, Some(now()))
            .await?
            .then_some(id),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            normalize_email(" Alice@Example.FR ").ok().as_deref(),
            Some("alice@example.fr")
        );
        assert!(normalize_email("alice").is_err());
        assert!(normalize_email("alice@").is_err());
        assert!(normalize_email("a@b").is_err());
    }

    #[test]
    fn passwords_and_names() {
        assert!(check_password("court").is_err());
        assert!(check_password("une phrase de passe").is_ok());
        assert!(check_display_name(" A ").is_err());
        assert_eq!(
            check_display_name(" Alice Martin ").ok().as_deref(),
            Some("Alice Martin")
        );
    }
}
