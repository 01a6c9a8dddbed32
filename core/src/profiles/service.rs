//! Rules of citizen profiles: who sees a profile, what a valid bio is, and how an avatar is
//! replaced (cleaned first, then stored and swapped in one transaction: nothing half-written).

use axum::body::Bytes;

use crate::db::Db;
use crate::media::MediaError;
use crate::media::image::{Fit, clean_blocking};
use crate::media::store::{self as media, NewMedia};
use crate::profiles::store::{self, Profile, Visibility};
use crate::types::AccountId;

/// Largest avatar upload accepted.
pub const MAX_AVATAR_BYTES: usize = 5 << 20;
/// Side of the avatar on profiles.
pub const AVATAR_SIDE: u32 = 256;
/// Side of the avatar in lists and author lines.
pub const AVATAR_SMALL_SIDE: u32 = 64;
/// Longest bio, in characters.
pub const MAX_BIO: usize = 500;

/// Why a profile change is refused.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Bad input; the message says how to fix it.
    #[error("{0}")]
    Invalid(String),
    /// The upload was refused.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Whether `viewer` may see `profile`: its owner always; others as its visibility says.
pub fn can_see(profile: &Profile, viewer: Option<&AccountId>) -> bool {
    if viewer.is_some_and(|v| v.0 == profile.id) {
        return true;
    }
    match profile.visibility {
        Visibility::Public => true,
        Visibility::Members => viewer.is_some(),
        Visibility::Private => false,
    }
}

/// Whether a listed citizen's profile is visible to `viewer` (lists show only those).
pub fn can_see_card(card: &store::Card, viewer: Option<&AccountId>) -> bool {
    viewer.is_some_and(|v| v.0 == card.id)
        || match card.visibility {
            Visibility::Public => true,
            Visibility::Members => viewer.is_some(),
            Visibility::Private => false,
        }
}

/// Checks and saves the bio and privacy settings.
pub async fn save_settings(
    db: &Db,
    account: &AccountId,
    bio: &str,
    visibility: &str,
    show_follows: bool,
) -> Result<(), ProfileError> {
    let bio = bio.replace("\r\n", "\n");
    let bio = bio.trim();
    if bio.chars().count() > MAX_BIO {
        return Err(ProfileError::Invalid(format!(
            "La présentation est trop longue ({MAX_BIO} caractères au plus)."
        )));
    }
    let visibility = Visibility::parse(visibility).ok_or_else(|| {
        ProfileError::Invalid("Choisissez qui peut voir votre profil.".to_string())
    })?;
    store::save_settings(db, account, bio, visibility, show_follows).await?;
    Ok(())
}

/// Replaces the account's avatar with `upload`, resized to 256 and 64 px squares.
pub async fn set_avatar(
    db: &Db,
    account: &AccountId,
    upload: Option<Bytes>,
) -> Result<(), ProfileError> {
    let upload = upload.ok_or(MediaError::Missing)?;
    if upload.len() > MAX_AVATAR_BYTES {
        return Err(MediaError::TooLarge(MAX_AVATAR_BYTES).into());
    }
    let sizes = clean_blocking(
        upload,
        vec![Fit::Square(AVATAR_SIDE), Fit::Square(AVATAR_SMALL_SIDE)],
    )
    .await?;
    let [large, small] = sizes.as_slice() else {
        return Err(MediaError::NotAnImage.into());
    };
    let old = store::profile(db, &account.0)
        .await?
        .and_then(|p| p.avatar_ids);
    // Across communes: the pages of those where this person is an official show the photo
    // (`store::set_avatar` raises their version).
    let mut tx = db.platform_write_tx().await?;
    let large_id =
        media::insert_platform(&mut tx, &NewMedia::image("avatar", account, large)).await?;
    let small_id =
        media::insert_platform(&mut tx, &NewMedia::image("avatar-small", account, small)).await?;
    store::set_avatar(&mut tx, account, Some((&large_id, &small_id))).await?;
    if let Some((l, s)) = old {
        media::delete_platform(&mut tx, account, &l).await?;
        media::delete_platform(&mut tx, account, &s).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Removes the account's avatar (its files are deleted).
pub async fn remove_avatar(db: &Db, account: &AccountId) -> Result<(), ProfileError> {
    let old = store::profile(db, &account.0)
        .await?
        .and_then(|p| p.avatar_ids);
    let mut tx = db.platform_write_tx().await?;
    store::set_avatar(&mut tx, account, None).await?;
    if let Some((l, s)) = old {
        media::delete_platform(&mut tx, account, &l).await?;
        media::delete_platform(&mut tx, account, &s).await?;
    }
    tx.commit().await?;
    Ok(())
}
