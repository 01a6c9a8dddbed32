//! Uploaded media: images and PDFs checked, cleaned and stored in the database, served with
//! caching and safe headers. Other features use it in three steps:
//!
//! 1. [`upload::read_file`] reads one multipart field within a byte limit (413 beyond it),
//!    under a per-route [`axum::extract::DefaultBodyLimit`] set with [`upload::body_limit`];
//! 2. [`image::clean`] decodes an image (PNG, JPEG, WebP, GIF) after checking its declared
//!    size, re-encodes it as JPEG (no metadata survives) in the sizes asked for; [`pdf::check`]
//!    checks a PDF;
//! 3. [`store::insert_platform`] (media of an account, such as avatars: accounts are global)
//!    or [`store::insert_tenant`] (media a commune's content owns) stores it; `GET /media/<id>`
//!    serves it ([`routes`]).
//!
//! Image work is bounded three ways (issue 13): the declared size is checked from the header
//! before any pixel is decoded ([`image::MAX_INPUT_PIXELS`]), cleanings run one per core off the
//! async workers ([`image::clean_blocking`]), and each account may upload only so many files
//! ([`limiter`]).
//!
//! Failures are [`MediaError`]s with a French message and their status (422, 413, 429, 503).

pub mod image;
pub mod limiter;
pub mod pdf;
pub mod routes;
pub mod store;
pub mod upload;

use axum::http::StatusCode;

/// Why an upload is refused.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// No file was chosen.
    #[error("Choisissez un fichier à envoyer.")]
    Missing,
    /// Larger than allowed (bytes).
    #[error("Le fichier est trop volumineux ({} au plus).", human_size(*.0))]
    TooLarge(usize),
    /// Not an image the platform reads.
    #[error("Ce fichier n'est pas une image lisible (formats acceptés : JPEG, PNG, WebP, GIF).")]
    NotAnImage,
    /// The image declares more pixels than allowed (a decompression bomb, or simply huge).
    #[error(
        "L'image est trop grande ({max_side} pixels de côté et {megapixels} millions de pixels au plus)."
    )]
    TooManyPixels {
        /// Largest side accepted.
        max_side: u32,
        /// Largest area accepted, in millions of pixels.
        megapixels: u64,
    },
    /// Not a PDF document.
    #[error("Ce fichier n'est pas un document PDF valide.")]
    NotAPdf,
    /// The multipart body could not be read.
    #[error("Le fichier envoyé est illisible. Réessayez.")]
    Unreadable,
    /// The account sent too many files lately (see [`limiter`]).
    #[error(
        "Vous avez envoyé beaucoup de fichiers en peu de temps. Patientez quelques minutes avant d'en envoyer d'autres."
    )]
    TooManyUploads,
    /// The account is already sending a form with files (one at a time each).
    #[error(
        "Un envoi de fichiers de votre compte est déjà en cours. Attendez qu'il se termine, puis réessayez."
    )]
    Underway,
    /// Every image worker stayed busy while this upload waited its turn.
    #[error("Le serveur traite beaucoup d'images en ce moment. Réessayez dans une minute.")]
    Busy,
}

impl MediaError {
    /// The HTTP status of this refusal: 413 for sizes in bytes, 429 for too many uploads,
    /// 409 for a second upload while the first is read, 503 when busy, 422 otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            MediaError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            MediaError::Unreadable => StatusCode::BAD_REQUEST,
            MediaError::TooManyUploads => StatusCode::TOO_MANY_REQUESTS,
            MediaError::Underway => StatusCode::CONFLICT,
            MediaError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl From<MediaError> for crate::error::AppError {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::TooLarge(_) => crate::error::AppError::TooLarge(e.to_string()),
            MediaError::TooManyUploads | MediaError::Busy => {
                crate::error::AppError::TooManyRequests
            }
            MediaError::Underway => crate::error::AppError::Conflict(e.to_string()),
            other => crate::error::AppError::bad_request(other.to_string()),
        }
    }
}

/// `2 Mo`, `512 Ko`: sizes as French people read them.
pub fn human_size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} Mo", bytes >> 20)
    } else if bytes >= 1 << 20 {
        format!("{:.1} Mo", bytes as f64 / f64::from(1 << 20)).replace('.', ",")
    } else {
        format!("{} Ko", bytes.div_ceil(1 << 10))
    }
}

/// A byte count column read as [`human_size`]: a row struct's `size` field reads `byte_size`
/// with `#[row(rename = "byte_size", try_from = "HumanSize")]`.
#[derive(Debug, Clone, Copy)]
pub struct HumanSize(i64);

crate::db::sql::transparent!(HumanSize(i64));

impl From<HumanSize> for String {
    fn from(bytes: HumanSize) -> String {
        human_size(usize::try_from(bytes.0).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_in_french() {
        assert_eq!(super::human_size(2 << 20), "2 Mo");
        assert_eq!(super::human_size(3 << 19), "1,5 Mo");
        assert_eq!(super::human_size(1000), "1 Ko");
    }
}
