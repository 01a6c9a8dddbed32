//! Rate limits against spam in the feed (per account): posts per hour, comments per minute
//! and per hour, reactions and evaluations per minute.

use crate::rate_limit::RateLimit;
use crate::types::AccountId;

/// Posts an account may publish per hour (a commune publishing a day's notices stays under).
pub const POSTS_PER_HOUR: u32 = 30;
/// Comments an account may write per minute.
pub const COMMENTS_PER_MINUTE: u32 = 5;
/// Comments an account may write per hour.
pub const COMMENTS_PER_HOUR: u32 = 60;
/// Reactions and evaluations an account may give per minute.
pub const REACTIONS_PER_MINUTE: u32 = 30;

/// What the limiter refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too many posts this hour.
    Posts,
    /// Too many comments recently.
    Comments,
    /// Too many reactions or evaluations this minute.
    Reactions,
}

impl Refused {
    /// What the 429 page says.
    pub fn message(self) -> &'static str {
        match self {
            Refused::Posts => {
                "Vous avez publié beaucoup de messages en peu de temps. Réessayez dans une heure."
            }
            Refused::Comments => {
                "Vous commentez trop vite. Patientez quelques minutes avant de commenter à nouveau."
            }
            Refused::Reactions => {
                "Vous réagissez trop vite. Patientez une minute avant de recommencer."
            }
        }
    }
}

/// The limits of posts, comments, reactions and evaluations.
pub struct FeedLimiter {
    posts: RateLimit<String>,
    comments_minute: RateLimit<String>,
    comments_hour: RateLimit<String>,
    reactions: RateLimit<String>,
}

impl Default for FeedLimiter {
    fn default() -> Self {
        FeedLimiter {
            posts: RateLimit::per_hour(POSTS_PER_HOUR),
            comments_minute: RateLimit::per_minute(COMMENTS_PER_MINUTE),
            comments_hour: RateLimit::per_hour(COMMENTS_PER_HOUR),
            reactions: RateLimit::per_minute(REACTIONS_PER_MINUTE),
        }
    }
}

impl FeedLimiter {
    /// Records a post.
    pub fn post(&self, account: &AccountId) -> Result<(), Refused> {
        self.posts
            .check(&account.0)
            .then_some(())
            .ok_or(Refused::Posts)
    }

    /// Records a comment.
    pub fn comment(&self, account: &AccountId) -> Result<(), Refused> {
        let ok = self.comments_minute.check(&account.0) && self.comments_hour.check(&account.0);
        ok.then_some(()).ok_or(Refused::Comments)
    }

    /// Records a reaction or an evaluation.
    pub fn reaction(&self, account: &AccountId) -> Result<(), Refused> {
        self.reactions
            .check(&account.0)
            .then_some(())
            .ok_or(Refused::Reactions)
    }
}
