//! Files sent to a module with a form (contract 0.2.4, the `media` import). A signed-in
//! person's `multipart/form-data` post is read whole by the host, within
//! [`MAX_UPLOAD_BODY`]; its text fields go to the module as an urlencoded form's would, under
//! the same bounds (`input::form_fields`), and its files are cleaned here, before the call
//! and outside any transaction: each image decoded within the media pipeline's pixel bounds,
//! re-encoded as JPEG at most [`PHOTO_SIDE`] pixels a side, its metadata (EXIF, the camera's
//! GPS position) left behind, on the pipeline's bounded workers, and counted against the
//! sender's upload allowance (`media::limiter`). The module gets handles; what it keeps is
//! stored in the call's transaction (`host::media`), so a refused form keeps nothing.
//!
//! A file the host refuses (not an image, too large, too many) does not fail the request: the
//! module hears why (`media.refused`), in French, and answers its form with it.

use std::borrow::Cow;
use std::collections::BTreeSet;

use axum::body::Bytes;

use crate::media::MediaError;
use crate::media::image::{Cleaned, Fit, clean_blocking};
use crate::modules::bindings::parvis::module::types::Field;
use crate::modules::input::{self, InputError};
use crate::types::AccountId;

/// Most files one request may carry (the reports module takes three photos).
pub const MAX_FILES: usize = 4;
/// Largest file, as sent: a phone's photo is 2 to 8 MB.
pub const MAX_FILE: usize = 10 << 20;
/// Largest multipart body read for a module: the files and room for the text fields.
pub const MAX_UPLOAD_BODY: usize = MAX_FILES * MAX_FILE + input::MAX_BODY;
/// Longest side of a cleaned photo, in pixels: sharp on a phone and a laptop, a few hundred KB.
pub const PHOTO_SIDE: u32 = 1600;
/// Multipart bodies read and cleaned at once in this process: each may hold
/// [`MAX_UPLOAD_BODY`] in memory until its files are cleaned, so a flood of large forms (from
/// one account or many, before any allowance is counted) holds at most this many.
pub const BODIES_AT_ONCE: usize = 4;
/// How long a form with files waits for its turn before the host answers « busy ».
pub const TURN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

static BODIES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(BODIES_AT_ONCE);

/// The accounts holding a turn: one each at a time, so that no account's slow or repeated
/// forms take more than one of the [`BODIES_AT_ONCE`] turns everyone else waits for.
static HOLDERS: std::sync::Mutex<BTreeSet<AccountId>> = std::sync::Mutex::new(BTreeSet::new());

fn holders() -> std::sync::MutexGuard<'static, BTreeSet<AccountId>> {
    // The set is consistent after any panic (one insert or remove), so a poisoned lock is
    // still read.
    HOLDERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A turn to read and clean a large form's body, held until its files are cleaned.
#[derive(Debug)]
pub struct Turn {
    account: AccountId,
    _permit: Option<tokio::sync::SemaphorePermit<'static>>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        holders().remove(&self.account);
    }
}

/// A turn for `account`'s form with files: [`MediaError::Underway`] at once if the account
/// already holds one, [`MediaError::Busy`] when none came within [`TURN_WAIT`].
pub async fn turn(account: Option<AccountId>) -> Result<Turn, MediaError> {
    let account = account.ok_or(MediaError::Underway)?;
    if !holders().insert(account.clone()) {
        return Err(MediaError::Underway);
    }
    // From here the account is released whatever happens, the wait included.
    let mut turn = Turn {
        account,
        _permit: None,
    };
    let permit = tokio::time::timeout(TURN_WAIT, BODIES.acquire())
        .await
        .map_err(|_| MediaError::Busy)?
        .map_err(|_| MediaError::Busy)?;
    turn._permit = Some(permit);
    Ok(turn)
}

/// A file the host cleaned for a call.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The form field it came in.
    pub field: String,
    /// What the module passes to `media.keep`.
    pub handle: String,
    /// The cleaned image.
    pub image: Cleaned,
}

/// A file the host refused, and why (in French).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub field: String,
    pub message: String,
}

/// The files of one request, as the module's call sees them.
#[derive(Debug, Clone)]
pub struct Uploads {
    /// Who sent them (the media rows' owner).
    pub account: AccountId,
    pub files: Vec<Upload>,
    pub refused: Vec<Refused>,
}

/// Whether a request's content type is a multipart form.
pub fn is_multipart(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| {
        c.get(..19)
            .is_some_and(|p| p.eq_ignore_ascii_case("multipart/form-data"))
    })
}

/// A multipart body split into its text fields (bounded as a form, the CSRF token left out)
/// and its files by field (an empty file input left out).
pub struct Parts {
    pub fields: Vec<Field>,
    pub files: Vec<(String, Bytes)>,
}

/// Reads a multipart body already in memory (at most [`MAX_UPLOAD_BODY`]).
pub async fn split(content_type: &str, body: Bytes) -> Result<Parts, InputError> {
    let unreadable = || InputError::Malformed("Le formulaire envoyé est illisible.".to_string());
    let boundary = multer::parse_boundary(content_type).map_err(|_| unreadable())?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut files = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        let name = field.name().unwrap_or_default().to_string();
        let is_file = field.file_name().is_some();
        let data = field.bytes().await.map_err(|_| unreadable())?;
        if is_file {
            if !data.is_empty() {
                files.push((name, data));
            }
        } else {
            let value = String::from_utf8(data.to_vec()).map_err(|_| unreadable())?;
            texts.push((name, value));
            if texts.len() > input::MAX_FORM_FIELDS + 1 {
                break;
            }
        }
    }
    let fields = input::form_fields(
        texts
            .into_iter()
            .map(|(n, v)| (Cow::Owned(n), Cow::Owned(v))),
    )?;
    Ok(Parts { fields, files })
}

/// Cleans the files of a request sent by `account`: at most [`MAX_FILES`], each at most
/// [`MAX_FILE`] bytes and within the account's upload allowance; the others are refused with
/// the reason.
pub async fn clean(account: &AccountId, files: Vec<(String, Bytes)>) -> Uploads {
    let mut out = Uploads {
        account: account.clone(),
        files: Vec::new(),
        refused: Vec::new(),
    };
    for (n, (field, bytes)) in files.into_iter().enumerate() {
        let refused = |message: String| Refused {
            field: field.clone(),
            message,
        };
        if n >= MAX_FILES {
            out.refused.push(refused(format!(
                "Trop de fichiers envoyés\u{a0}: {MAX_FILES} au plus."
            )));
            continue;
        }
        if bytes.len() > MAX_FILE {
            out.refused
                .push(refused(MediaError::TooLarge(MAX_FILE).to_string()));
            continue;
        }
        if let Err(e) = crate::media::limiter::uploads().allow(account) {
            out.refused.push(refused(e.to_string()));
            continue;
        }
        match clean_blocking(bytes, vec![Fit::Within(PHOTO_SIDE)]).await {
            Ok(mut cleaned) if !cleaned.is_empty() => out.files.push(Upload {
                field: field.clone(),
                handle: crate::util::new_id(),
                image: cleaned.swap_remove(0),
            }),
            Ok(_) => out
                .refused
                .push(refused(MediaError::NotAnImage.to_string())),
            Err(e) => out.refused.push(refused(e.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Bytes) {
        let mut out = Vec::new();
        for (name, file, data) in parts {
            out.extend_from_slice(b"--XyZ\r\n");
            match file {
                Some(f) => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
                ),
                None => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--XyZ--\r\n");
        (
            "multipart/form-data; boundary=XyZ".to_string(),
            Bytes::from(out),
        )
    }

    #[tokio::test]
    async fn text_fields_and_files_are_told_apart() -> anyhow::Result<()> {
        let (ct, b) = body(&[
            ("csrf_token", None, b"t"),
            ("description", None, "Trou « profond »".as_bytes()),
            ("photo", Some("a.png"), b"\x89PNG"),
            ("photo", Some(""), b""),
        ]);
        assert!(is_multipart(Some(&ct)) && !is_multipart(Some("text/plain")));
        let parts = split(&ct, b).await?;
        let names: Vec<_> = parts
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(names, [("description", "Trou « profond »")]);
        assert_eq!(parts.files.len(), 1);
        let many: Vec<(&str, Option<&str>, &[u8])> =
            (0..300).map(|_| ("a", None, &b"x"[..])).collect();
        let (ct, b) = body(&many);
        assert!(split(&ct, b).await.is_err());
        assert!(split(&ct, Bytes::from_static(b"nonsense")).await.is_err());
        Ok(())
    }

    #[tokio::test]
    async fn what_is_not_an_image_is_refused_with_its_reason() {
        let account = AccountId("a".into());
        let files = (0..5)
            .map(|_| {
                (
                    "photo".to_string(),
                    Bytes::from_static(b"%PDF-1.4 not an image"),
                )
            })
            .collect();
        let out = clean(&account, files).await;
        assert!(out.files.is_empty());
        assert_eq!(out.refused.len(), 5);
        assert!(
            out.refused[0].message.contains("pas une image"),
            "{:?}",
            out.refused
        );
        assert!(
            out.refused[4].message.contains("Trop de fichiers"),
            "{:?}",
            out.refused
        );
    }
}
