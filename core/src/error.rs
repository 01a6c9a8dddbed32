//! One error type for handlers: each variant maps to a status and a French message. Pages are
//! rendered in the site's layout by [`crate::web::errors::render_error_pages`]; API paths get
//! `{"error": {"code", "message"}}`. Internal causes are logged, never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400: the input is wrong; the message says how to fix it.
    #[error("{0}")]
    BadRequest(String),
    /// 401: the action needs an account; pages redirect to the login form.
    #[error("Vous devez être connecté pour faire cela.")]
    Unauthenticated,
    /// 403: signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: nothing here.
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with what exists.
    #[error("{0}")]
    Conflict(String),
    /// 408: the body came too slowly (a stalled or trickling client holds no resource long).
    #[error(
        "L'envoi a été trop lent et a été interrompu. Vérifiez votre connexion, puis réessayez."
    )]
    TooSlow,
    /// 413: the upload is too large.
    #[error("{0}")]
    TooLarge(String),
    /// 429: too many attempts.
    #[error("Trop de tentatives. Réessayez dans une minute.")]
    TooManyRequests,
    /// 500: a bug or an unavailable dependency; the cause is logged.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

/// Handlers return this.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// 400 with a message for the person.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        AppError::BadRequest(msg.into())
    }
    /// 403 with a message for the person.
    pub fn forbidden(msg: impl Into<String>) -> Self {
        AppError::Forbidden(msg.into())
    }
    /// 404 with a message for the person.
    pub fn not_found(msg: impl Into<String>) -> Self {
        AppError::NotFound(msg.into())
    }
    /// 409 with a message for the person.
    pub fn conflict(msg: impl Into<String>) -> Self {
        AppError::Conflict(msg.into())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooSlow => StatusCode::REQUEST_TIMEOUT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable machine-readable code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthenticated => "unauthenticated",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::Conflict(_) => "conflict",
            AppError::TooSlow => "request_timeout",
            AppError::TooLarge(_) => "payload_too_large",
            AppError::TooManyRequests => "too_many_requests",
            AppError::Internal(_) => "internal",
        }
    }

    /// The message shown to people (never the internal cause).
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) => {
                "Une erreur inattendue s'est produite. L'équipe technique a été prévenue ; \
                 réessayez dans quelques instants."
                    .to_string()
            }
            other => other.to_string(),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => AppError::not_found("Cette page n'existe pas."),
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::Internal(e)
    }
}

impl From<tera::Error> for AppError {
    fn from(e: tera::Error) -> Self {
        AppError::Internal(e.into())
    }
}

/// Attached to error responses so the error-page middleware renders them in the site's layout.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    /// Status of the response.
    pub status: StatusCode,
    /// Machine code (for JSON).
    pub code: &'static str,
    /// French message.
    pub message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(cause) = &self {
            tracing::error!(error = ?cause, "request failed");
        }
        let page = ErrorPage {
            status: self.status(),
            code: self.code(),
            message: self.public_message(),
        };
        let mut response = (page.status, page.message.clone()).into_response();
        response.extensions_mut().insert(page);
        response
    }
}
