//! Files people send with a form (contract 0.2.4): the host cleans them (images re-encoded as
//! JPEG, at most 1,600 pixels a side, EXIF and GPS left behind) before the call and hands the
//! module handles; the module keeps what it shows, in the call's transaction.
//!
//! ```ignore
//! // The form: `enctype="multipart/form-data"` and `action=(req.upload_action("/nouveau"))`,
//! // with `input type="file" name="photo" accept="image/*"`.
//! if let Some(refused) = media::refused().first() {
//!     return form_again_with_error("photo", &refused.message);
//! }
//! for upload in media::uploads().iter().filter(|u| u.field == "photo") {
//!     let id = media::keep(&upload.handle)?; // shown at media::url(&id)
//! }
//! ```

use crate::bindings::parvis::module::media as wit;
use crate::store::StoreError;

pub use wit::{Refusal, Upload};

/// The files of this request the host cleaned, in the order they were sent.
pub fn uploads() -> Vec<Upload> {
    wit::uploads()
}

/// The files of this request the host refused, each with its French reason.
pub fn refused() -> Vec<Refusal> {
    wit::refused()
}

/// Stores an upload of this request for good (rolled back with the call if it answers 400 or
/// more); returns its id.
pub fn keep(handle: &str) -> Result<String, StoreError> {
    Ok(wit::keep(handle)?)
}

/// Deletes a file this module kept; false if there was none.
pub fn delete(id: &str) -> Result<bool, StoreError> {
    Ok(wit::delete(id)?)
}

/// Where a kept file is served.
pub fn url(id: &str) -> String {
    format!("/media/{id}")
}

/// A kept photo (`/media/<id>`) with its text alternative, as modules store it beside their
/// documents.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Photo {
    pub id: String,
    pub alt: String,
}

/// The files sent in the form field `field`, or the French reason they cannot be taken: a
/// file the host refused (not an image, too large), or more than `max`. A refused file
/// refuses the whole form: nothing is saved without the photos the person meant to send.
pub fn photos_of(field: &str, max: usize) -> Result<Vec<Upload>, String> {
    if let Some(refused) = refused().into_iter().next() {
        return Err(refused.message);
    }
    let photos: Vec<Upload> = uploads().into_iter().filter(|u| u.field == field).collect();
    if photos.len() > max {
        return Err(match max {
            1 => "Une seule photo, s'il vous plaît.".to_string(),
            _ => format!("Trop de photos\u{a0}: {max} au plus."),
        });
    }
    Ok(photos)
}

/// Keeps `uploads` for good (in the call's transaction), each described by `alt`.
pub fn keep_photos(uploads: &[Upload], alt: &str) -> Result<Vec<Photo>, StoreError> {
    uploads
        .iter()
        .map(|u| {
            Ok(Photo {
                id: keep(&u.handle)?,
                alt: alt.to_string(),
            })
        })
        .collect()
}
