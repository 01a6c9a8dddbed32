//! The one place handlers are authorized: `Can<P>` resolves the viewer, the site's domain and
//! asks casbin; anonymous visitors are sent to log in, others get a 403 page.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::authz::Permission;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::Site;
use crate::web::session::{Account, Viewer};

/// A permission known at compile time, for `Can<P>`.
pub trait Perm: Send + Sync {
    /// The permission checked.
    const PERMISSION: Permission;
}

/// The account allowed to act, and where.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Who.
    pub account: Account,
    /// On which site.
    pub site: Site,
}

/// Extractor: the viewer holds permission `P` on this request's site.
pub struct Can<P: Perm>(pub Actor, pub PhantomData<P>);

impl<P: Perm> FromRequestParts<AppState> for Can<P> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let site = Site::from_request_parts(parts, state).await?;
        let Ok(Viewer(viewer)) = Viewer::from_request_parts(parts, state).await;
        let Some(account) = viewer else {
            return Err(AppError::Unauthenticated);
        };
        if let Err(e) = state.authz.refresh().await {
            tracing::warn!(error = %e, "authorization rules could not be refreshed");
        }
        if state
            .authz
            .can(Some(&account.id), &site.authz_domain(), P::PERMISSION)
            .await
        {
            Ok(Can(Actor { account, site }, PhantomData))
        } else {
            Err(AppError::forbidden(
                "Votre compte n'a pas les droits nécessaires pour cette action.",
            ))
        }
    }
}

/// Declares a marker type for `Can<…>` from a permission constant.
#[macro_export]
macro_rules! permission {
    ($(#[$doc:meta])* $name:ident = $perm:path) => {
        $(#[$doc])*
        pub struct $name;
        impl $crate::authz::Perm for $name {
            const PERMISSION: $crate::authz::Permission = $perm;
        }
    };
}

permission!(
    /// Edit the commune page.
    EditCommune = crate::authz::perms::EDIT_COMMUNE
);
permission!(
    /// Grant and revoke roles in a commune.
    ManageRoles = crate::authz::perms::MANAGE_ROLES
);
permission!(
    /// Publish posts in a commune.
    PublishPost = crate::authz::perms::PUBLISH_POST
);
permission!(
    /// Comment on, react to and evaluate posts.
    Comment = crate::authz::perms::COMMENT
);
permission!(
    /// Flag content or report a problem.
    Report = crate::authz::perms::REPORT
);
permission!(
    /// Moderate a commune's content.
    Moderate = crate::authz::perms::MODERATE
);
permission!(
    /// File a subscription request.
    RequestSubscription = crate::authz::perms::REQUEST_SUBSCRIPTION
);
permission!(
    /// Verify subscription requests.
    VerifySubscriptions = crate::authz::perms::VERIFY_SUBSCRIPTIONS
);
permission!(
    /// Enable, disable and configure the commune's modules.
    ManageModules = crate::authz::perms::MANAGE_MODULES
);
permission!(
    /// Subscribe the commune to premium modules and manage its payment.
    ManageBilling = crate::authz::perms::MANAGE_BILLING
);
