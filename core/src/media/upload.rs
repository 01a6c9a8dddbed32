//! Reading a multipart form with files, within limits: each file field has its own byte limit,
//! checked while the chunks arrive (nothing larger is ever held in memory), and the route's
//! whole body is capped by [`body_limit`] so a client cannot stream forever.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest as _, Multipart, Request};
use axum::http::header;

use crate::media::MediaError;

/// Room for the text fields of a form that also carries files.
const FIELDS_ALLOWANCE: usize = 256 << 10;
/// Longest text field accepted in a multipart form.
const MAX_FIELD: usize = 64 << 10;

/// The body limit of a route that takes files of at most `max_files` bytes in total: set it
/// with `.layer(body_limit(…))` on that route only.
pub fn body_limit(max_files: usize) -> DefaultBodyLimit {
    DefaultBodyLimit::max(max_files + FIELDS_ALLOWANCE)
}

/// A multipart form once read: its text fields and its non-empty files.
#[derive(Debug, Default)]
pub struct Form {
    /// Text fields by name (the last value wins).
    pub fields: HashMap<String, String>,
    /// Files by field name; a file input left empty is absent.
    pub files: HashMap<String, Bytes>,
}

impl Form {
    /// A text field, or "".
    pub fn text(&self, name: &str) -> &str {
        self.fields
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// Reads `multipart`; `files` names each file field with its byte limit. Fields not named there
/// are read as text. A file over its limit, or a body over the route's, is
/// [`MediaError::TooLarge`]. Past a field's limit the rest of the body is still read and dropped
/// (the route's body limit bounds it), so the client hears the 413 rather than a connection
/// reset while it is still sending.
pub async fn read(multipart: &mut Multipart, files: &[(&str, usize)]) -> Result<Form, MediaError> {
    let largest = files.iter().map(|(_, max)| *max).max().unwrap_or(0);
    let failed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            MediaError::TooLarge(largest)
        } else {
            MediaError::Unreadable
        }
    };
    let mut form = Form::default();
    let mut refused: Option<usize> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(failed)? {
        if refused.is_some() {
            while field.chunk().await.map_err(failed)?.is_some() {}
            continue;
        }
        let name = field.name().unwrap_or_default().to_string();
        let max = files.iter().find(|(n, _)| *n == name).map(|(_, max)| *max);
        let mut data = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(failed)? {
            let limit = max.unwrap_or(MAX_FIELD);
            if refused.is_some() || data.len() + chunk.len() > limit {
                refused = Some(limit);
                continue;
            }
            data.extend_from_slice(&chunk);
        }
        if refused.is_some() {
            continue;
        }
        if max.is_some() {
            if !data.is_empty() {
                form.files.insert(name, Bytes::from(data));
            }
        } else {
            form.fields
                .insert(name, String::from_utf8_lossy(&data).into_owned());
        }
    }
    match refused {
        Some(limit) => Err(MediaError::TooLarge(limit)),
        None => Ok(form),
    }
}

/// Reads a form posted either as `multipart/form-data` (with its files, see [`read`]) or as
/// `application/x-www-form-urlencoded` (the same form without files, as scripts send it).
pub async fn read_any<S: Send + Sync>(
    req: Request,
    state: &S,
    files: &[(&str, usize)],
) -> Result<Form, MediaError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        let mut body = Multipart::from_request(req, state)
            .await
            .map_err(|_| MediaError::Unreadable)?;
        read(&mut body, files).await
    } else {
        let axum::Form(fields) = axum::Form::<HashMap<String, String>>::from_request(req, state)
            .await
            .map_err(|_| MediaError::Unreadable)?;
        Ok(Form {
            fields,
            files: HashMap::new(),
        })
    }
}
