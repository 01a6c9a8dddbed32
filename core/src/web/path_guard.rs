//! Path segments are ids (`/citoyens/{id}`, `/messages/{id}`, `/publications/{id}`, a module's
//! path) that handlers echo into `Location` headers and links. A percent-encoded control
//! character (`%0D%0A`, `%00`, `%09`) is never part of an id, and once decoded it cannot go into
//! a header (axum's `Redirect::to` panics on it, killing the request's task). Such a path is
//! refused here, once for every route, with a 400 before any handler sees it.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ErrorPage;

/// Middleware: a 400 (French page or JSON) for a path with a percent-encoded control character.
pub async fn refuse_control_characters(req: Request, next: Next) -> Response {
    if !has_encoded_control(req.uri().path()) {
        return next.run(req).await;
    }
    let message = "Cette adresse contient des caractères invalides.".to_string();
    let mut response = (StatusCode::BAD_REQUEST, message.clone()).into_response();
    response.extensions_mut().insert(ErrorPage {
        status: StatusCode::BAD_REQUEST,
        code: "bad_request",
        message,
    });
    response
}

/// `%00`–`%1F` and `%7F` (any case). A raw control character never gets this far: the HTTP
/// parser refuses it in the request line.
fn has_encoded_control(path: &str) -> bool {
    path.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && match (w[1], w[2].to_ascii_lowercase()) {
                (b'0' | b'1', c) => c.is_ascii_hexdigit(),
                (b'7', b'f') => true,
                _ => false,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::has_encoded_control;

    #[test]
    fn control_characters_are_found_in_any_case() {
        for bad in [
            "/citoyens/%0D%0Ax",
            "/a/%0a",
            "/m/polls/%00",
            "/x%7F",
            "/x%7f",
            "/%1b",
        ] {
            assert!(has_encoded_control(bad), "{bad}");
        }
        for ok in [
            "/citoyens/abc-123",
            "/a%20b",
            "/%C3%A9t%C3%A9",
            "/100%25",
            "/%2F",
            "/%",
        ] {
            assert!(!has_encoded_control(ok), "{ok}");
        }
    }
}
