//! What the host hands a module, bounded before the call: the path below the mount point, the
//! query, the form fields and a raw body. A request past these bounds is refused by the host
//! itself (413 or 400, a French page or JSON) and never reaches the module, so it can neither
//! exhaust the module's memory nor be echoed past the response limit, and it is not counted
//! as a fault of the module (see « Ce qui compte comme une panne » in `modules/README.md`).
//!
//! The bounds are far above what any form of the modules here needs (the longest text they
//! accept is 5,000 characters, the most fields about 30) and far below what would strain an
//! instance's 64 MiB or its 1 MiB response.

use std::borrow::Cow;

use axum::http::StatusCode;

use crate::modules::bindings::parvis::module::types::Field;

/// Longest path below the mount point, in bytes.
pub const MAX_PATH: usize = 1024;
/// Longest query string, in bytes (as sent, percent-encoded).
pub const MAX_QUERY: usize = 4096;
/// Most query parameters.
pub const MAX_QUERY_FIELDS: usize = 64;
/// Largest body read for a module (a form, or JSON), in bytes as sent.
pub const MAX_BODY: usize = 256 << 10;
/// Most form fields.
pub const MAX_FORM_FIELDS: usize = 256;
/// Longest field name, in bytes (decoded).
pub const MAX_FIELD_NAME: usize = 256;
/// Longest field value, in bytes (decoded): 8,000 French characters and then some.
pub const MAX_FIELD_VALUE: usize = 32 << 10;
/// Most decoded bytes of all fields together.
pub const MAX_FORM_BYTES: usize = 128 << 10;

/// Why the host refused a request before calling the module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The body, a field or the whole form is too large.
    #[error("{0}")]
    TooLarge(String),
    /// Too many fields, or a path or query too long: no page of a module needs that.
    #[error("{0}")]
    Malformed(String),
}

impl InputError {
    /// The status the host answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            InputError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            InputError::Malformed(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The error code of the JSON answer.
    pub fn code(&self) -> &'static str {
        match self {
            InputError::TooLarge(_) => "payload_too_large",
            InputError::Malformed(_) => "bad_request",
        }
    }
}

/// The message when the body is over `limit` (the host stops reading there).
pub fn body_too_large(limit: usize) -> InputError {
    InputError::TooLarge(format!(
        "Le contenu envoyé dépasse {} : il n'a pas été transmis au service.",
        crate::util::size_text(i64::try_from(limit).unwrap_or(i64::MAX))
    ))
}

/// Checks the path below the mount point.
pub fn path(path: &str) -> Result<(), InputError> {
    if path.len() > MAX_PATH {
        return Err(InputError::Malformed(
            "Cette adresse est trop longue.".to_string(),
        ));
    }
    Ok(())
}

/// The query's parameters, bounded.
pub fn query(raw: Option<&str>) -> Result<Vec<Field>, InputError> {
    let raw = raw.unwrap_or("");
    if raw.len() > MAX_QUERY {
        return Err(InputError::Malformed(
            "Cette adresse est trop longue.".to_string(),
        ));
    }
    fields(
        url::form_urlencoded::parse(raw.as_bytes()),
        MAX_QUERY_FIELDS,
        "Cette adresse a trop de paramètres.",
    )
}

/// The fields of an urlencoded form (the CSRF token left out), bounded in number and size.
/// Counting stops at the first field past a bound: two million empty fields cost no more than
/// the first [`MAX_FORM_FIELDS`].
pub fn form(raw: &[u8]) -> Result<Vec<Field>, InputError> {
    form_fields(url::form_urlencoded::parse(raw))
}

/// The text fields of a form read otherwise (a multipart form's, see `modules::uploads`),
/// under the same bounds as an urlencoded one.
pub fn form_fields<'a>(
    pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
) -> Result<Vec<Field>, InputError> {
    fields(
        pairs,
        MAX_FORM_FIELDS,
        "Le formulaire envoyé a trop de champs.",
    )
}

fn fields<'a>(
    pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>,
    max_fields: usize,
    too_many: &str,
) -> Result<Vec<Field>, InputError> {
    let mut out = Vec::new();
    let mut total = 0usize;
    for (name, value) in pairs {
        if name == crate::web::csrf::CSRF_FIELD {
            continue;
        }
        if out.len() == max_fields {
            return Err(InputError::Malformed(too_many.to_string()));
        }
        if name.len() > MAX_FIELD_NAME || value.len() > MAX_FIELD_VALUE {
            return Err(InputError::TooLarge(format!(
                "Un champ du formulaire dépasse {} Kio : il n'a pas été transmis au service.",
                MAX_FIELD_VALUE >> 10
            )));
        }
        total += name.len() + value.len();
        if total > MAX_FORM_BYTES {
            return Err(InputError::TooLarge(format!(
                "Le formulaire dépasse {} Kio : il n'a pas été transmis au service.",
                MAX_FORM_BYTES >> 10
            )));
        }
        out.push(Field {
            name: name.into_owned(),
            value: value.into_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_forms_pass_and_the_csrf_token_is_left_out() {
        let f = form(b"csrf_token=x&question=Oui%3F&option=a&option=b").unwrap_or_default();
        let names: Vec<&str> = f.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["question", "option", "option"]);
        assert_eq!(f[0].value, "Oui?");
    }

    #[test]
    fn millions_of_empty_fields_are_refused_early() {
        let raw = "a&".repeat(2_000_000);
        let e = form(raw.as_bytes()).err();
        assert_eq!(
            e.as_ref().map(InputError::status),
            Some(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn a_huge_field_or_form_is_too_large() {
        let phone = format!("phone={}", "0".repeat(600_000));
        let e = form(phone.as_bytes()).err();
        assert_eq!(
            e.as_ref().map(InputError::status),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
        let many = (0..10)
            .map(|i| format!("f{i}={}", "x".repeat(20_000)))
            .collect::<Vec<_>>()
            .join("&");
        let e = form(many.as_bytes()).err();
        assert_eq!(
            e.as_ref().map(InputError::status),
            Some(StatusCode::PAYLOAD_TOO_LARGE)
        );
    }

    #[test]
    fn long_paths_and_queries_are_refused() {
        assert!(path(&"/a".repeat(600)).is_err());
        assert!(path("/3/votants.csv").is_ok());
        assert!(query(Some(&"a=1&".repeat(2000))).is_err());
        assert!(query(Some(&"a&".repeat(100))).is_err());
        assert_eq!(query(Some("page=2")).map(|q| q.len()), Ok(1));
    }
}
