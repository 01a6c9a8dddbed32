//! Domain identifiers, parsed once at the edge so the rest of the code can trust them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Primary key of a tenant (one commune). Every tenant-owned row carries it.
///
/// Its inside is private: a `TenantId` comes from the database (a column decodes as one, and a
/// statement binds one as is), from a payload the host stored itself (a queued job), or from
/// [`Db::confirm_tenant`](crate::db::Db::confirm_tenant) for a number read from outside the
/// database. Code cannot make one up from an integer at hand.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct TenantId(i64);

impl rusqlite::types::FromSql for TenantId {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(TenantId)
    }
}

impl TenantId {
    /// The number, for a log line, a URL or a setting (never to make another `TenantId`).
    pub fn get(self) -> i64 {
        self.0
    }

    /// A tenant id for the crate's unit tests, which have no database.
    #[cfg(test)]
    pub(crate) const fn for_tests(raw: i64) -> TenantId {
        TenantId(raw)
    }

    /// The casbin domain this tenant's role assignments live in.
    pub fn authz_domain(self) -> String {
        format!("tenant:{}", self.0)
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A global account (one per person, for all communes). A UUIDv7 in text form; a column decodes
/// as one and a statement binds one as is.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct AccountId(pub String);

impl rusqlite::types::FromSql for AccountId {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        String::column_result(value).map(AccountId)
    }
}

impl AccountId {
    /// A fresh, time-ordered identifier.
    pub fn generate() -> Self {
        AccountId(crate::util::new_id())
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An INSEE commune code: five characters, digits except Corsica's `2A`/`2B` prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InseeCode(String);

/// Why a text is not an INSEE code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("« {0} » n'est pas un code INSEE de commune (5 caractères, par exemple 75056 ou 2A004)")]
pub struct InvalidInsee(pub String);

impl InseeCode {
    /// Parses a code, left-padding a 4-digit code (`1001` → `01001`) as the official files sometimes need.
    pub fn parse(raw: &str) -> Result<Self, InvalidInsee> {
        let s = raw.trim().to_ascii_uppercase();
        let s = if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
            format!("0{s}")
        } else {
            s
        };
        let b = s.as_bytes();
        let ok = b.len() == 5
            && (b[0].is_ascii_digit())
            && (b[1].is_ascii_digit() || (b[0] == b'2' && (b[1] == b'A' || b[1] == b'B')))
            && b[2..].iter().all(u8::is_ascii_digit);
        if ok {
            Ok(InseeCode(s))
        } else {
            Err(InvalidInsee(raw.to_string()))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for InseeCode {
    type Error = InvalidInsee;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        InseeCode::parse(&value)
    }
}

impl From<InseeCode> for String {
    fn from(value: InseeCode) -> Self {
        value.0
    }
}

impl fmt::Display for InseeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant's subdomain label: lowercase ASCII letters, digits and inner hyphens, 1–63 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

/// Why a text is not a valid slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "« {0} » n'est pas un identifiant de sous-domaine valide (lettres minuscules, chiffres et tirets, 63 caractères au plus)"
)]
pub struct InvalidSlug(pub String);

/// Labels that name platform services, never a commune.
const RESERVED_SLUGS: &[&str] = &["www", "admin", "api", "static", "mail", "app", "status"];

impl Slug {
    /// Parses an already-normalised slug (as found in a Host header or on the command line).
    pub fn parse(raw: &str) -> Result<Self, InvalidSlug> {
        let ok = !raw.is_empty()
            && raw.len() <= 63
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-')
            && !RESERVED_SLUGS.contains(&raw);
        if ok {
            Ok(Slug(raw.to_string()))
        } else {
            Err(InvalidSlug(raw.to_string()))
        }
    }

    /// Derives a slug from a commune name: « L'Haÿ-les-Roses » → `l-hay-les-roses`.
    pub fn from_name(name: &str) -> Self {
        let folded = deunicode::deunicode(name).to_ascii_lowercase();
        let mut out = String::with_capacity(folded.len());
        for c in folded.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        while out.ends_with('-') {
            out.pop();
        }
        out.truncate(63);
        while out.ends_with('-') {
            out.pop();
        }
        if out.is_empty() || RESERVED_SLUGS.contains(&out.as_str()) {
            out = format!("commune-{out}");
        }
        Slug(out)
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = InvalidSlug;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Slug::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(value: Slug) -> Self {
        value.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insee_codes() {
        assert_eq!(InseeCode::parse("75056").map(|c| c.0), Ok("75056".into()));
        assert_eq!(InseeCode::parse("2a004").map(|c| c.0), Ok("2A004".into()));
        assert_eq!(InseeCode::parse("1001").map(|c| c.0), Ok("01001".into()));
        assert!(InseeCode::parse("7505").is_ok());
        assert!(InseeCode::parse("ABCDE").is_err());
        assert!(InseeCode::parse("2C004").is_err());
        assert!(InseeCode::parse("750561").is_err());
    }

    #[test]
    fn slugs_from_names() {
        assert_eq!(
            Slug::from_name("L'Haÿ-les-Roses").as_str(),
            "l-hay-les-roses"
        );
        assert_eq!(Slug::from_name("Paris").as_str(), "paris");
        assert_eq!(Slug::from_name("Saint-Étienne").as_str(), "saint-etienne");
        assert_eq!(Slug::from_name("Œuilly").as_str(), "oeuilly");
        assert!(Slug::parse("paris").is_ok());
        assert!(Slug::parse("Paris").is_err());
        assert!(Slug::parse("-x").is_err());
        assert!(Slug::parse("www").is_err());
    }
}

/// A feature module's id: the URL segment under `/m/` (`polls`, `office-hours`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModuleId(String);

/// A module id that is not 2–40 lowercase letters, digits and inner dashes.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "identifiant de module invalide : « {0} » (2 à 40 caractères : minuscules, chiffres, tirets)"
)]
pub struct InvalidModuleId(pub String);

impl ModuleId {
    /// Parses an id at the edge (manifest, URL, CLI argument).
    pub fn parse(raw: &str) -> Result<Self, InvalidModuleId> {
        let ok = (2..=40).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-')
            && raw.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
        if ok {
            Ok(ModuleId(raw.to_string()))
        } else {
            Err(InvalidModuleId(raw.to_string()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
