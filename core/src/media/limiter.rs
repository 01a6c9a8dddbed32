//! How many uploads one account may send: decoding an image is the most expensive thing a
//! signed-in account can ask of the server (up to a second of a core and 100 MB), so every
//! route that takes files (avatars, post attachments) asks [`uploads`] first, before reading
//! any pixel. Keyed on the account id (accounts are the identity; an address or e-mail
//! spelling cannot be varied to get fresh tokens).
//!
//! The limits fit real use: someone trying avatars until one looks right, a commune publishing
//! a morning's notices with photos; a script is stopped after a handful.

use std::sync::LazyLock;

use crate::media::MediaError;
use crate::rate_limit::RateLimit;
use crate::types::AccountId;

/// Upload requests an account may send per minute (in a burst).
pub const UPLOADS_PER_MINUTE: u32 = 6;
/// Upload requests an account may send per hour.
pub const UPLOADS_PER_HOUR: u32 = 40;

/// The upload limits of one process.
pub struct UploadLimiter {
    minute: RateLimit<String>,
    hour: RateLimit<String>,
}

impl Default for UploadLimiter {
    fn default() -> Self {
        UploadLimiter {
            minute: RateLimit::per_minute(UPLOADS_PER_MINUTE),
            hour: RateLimit::per_hour(UPLOADS_PER_HOUR),
        }
    }
}

impl UploadLimiter {
    /// Records one upload request of `account` (whatever its number of files, each bounded);
    /// [`MediaError::TooManyUploads`] when over a limit.
    pub fn allow(&self, account: &AccountId) -> Result<(), MediaError> {
        if self.minute.check(&account.0) && self.hour.check(&account.0) {
            Ok(())
        } else {
            Err(MediaError::TooManyUploads)
        }
    }
}

/// The process's upload limiter: like the image workers it protects, one per process.
pub fn uploads() -> &'static UploadLimiter {
    static UPLOADS: LazyLock<UploadLimiter> = LazyLock::new(UploadLimiter::default);
    &UPLOADS
}
