//! [`Response`] builders and the handler [`Error`] type.

use crate::html::{Markup, html};
use crate::store::StoreError;
use crate::{Body, Download, Page, Response};
use serde::Serialize;

impl Response {
    /// A 200 HTML fragment the host wraps in the commune's layout, built with
    /// [`html!`](crate::html::html) (raw markup must say so with
    /// [`PreEscaped`](crate::html::PreEscaped)).
    pub fn page(title: impl Into<String>, html: Markup) -> Self {
        Self {
            status: 200,
            body: Body::Page(Page {
                title: title.into(),
                html: html.into_string(),
            }),
            flash: None,
        }
    }

    /// A 303 redirect to an absolute path on the same host (see [`crate::Request::redirect`]
    /// for a path below the mount point).
    pub fn redirect(location: impl Into<String>) -> Self {
        Self {
            status: 303,
            body: Body::Redirect(location.into()),
            flash: None,
        }
    }

    /// A 200 JSON document; a 500 if the value cannot be serialised.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(text) => Self::json_text(text),
            Err(err) => Error::Internal(format!("JSON serialisation: {err}")).into_response(),
        }
    }

    /// A 200 response with an already serialised JSON document.
    pub fn json_text(text: String) -> Self {
        Self {
            status: 200,
            body: Body::Json(text),
            flash: None,
        }
    }

    /// A 200 file download.
    pub fn download(filename: &str, content_type: &str, data: Vec<u8>) -> Self {
        Self {
            status: 200,
            body: Body::Download(Download {
                filename: filename.to_owned(),
                content_type: content_type.to_owned(),
                data,
            }),
            flash: None,
        }
    }

    /// A 200 CSV download (UTF-8).
    pub fn csv(filename: &str, data: Vec<u8>) -> Self {
        Self::download(filename, "text/csv; charset=utf-8", data)
    }

    /// A response with no body.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            body: Body::Empty,
            flash: None,
        }
    }

    /// An error page: a heading, one paragraph and the given status.
    pub fn error_page(status: u16, title: &str, message: &str) -> Self {
        Self::page(
            title,
            html! {
                h1 { (title) }
                p { (message) }
            },
        )
        .with_status(status)
    }

    /// The French 404 page.
    pub fn not_found() -> Self {
        Self::error_page(
            404,
            "Page introuvable",
            "La page demandée n'existe pas ou plus.",
        )
    }

    /// The French 403 page.
    pub fn forbidden() -> Self {
        Self::error_page(
            403,
            "Accès refusé",
            "Vous n'avez pas les droits nécessaires pour cette action.",
        )
    }

    /// Replaces the status (e.g. 422 for a form re-rendered with errors).
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Adds a message shown once on the next page (after a redirect).
    pub fn with_flash(mut self, message: impl Into<String>) -> Self {
        self.flash = Some(message.into());
        self
    }
}

/// Why a handler could not answer normally; turned into a French error page.
///
/// Remember that a status ≥ 400 rolls back everything the call wrote.
#[derive(Debug)]
pub enum Error {
    /// 404: no such page or document.
    NotFound,
    /// 403: the viewer may not do this.
    Forbidden,
    /// 401: the viewer must sign in first.
    SignInRequired,
    /// 405: the path exists with another method.
    MethodNotAllowed,
    /// A user-facing error page with its own status, title and message.
    Page {
        /// HTTP status.
        status: u16,
        /// Page title and heading.
        title: String,
        /// One explanatory paragraph.
        message: String,
    },
    /// A ready-made response (a form re-rendered with its errors, …).
    Response(Box<Response>),
    /// The storage refused or failed.
    Store(StoreError),
    /// A bug or a host failure: logged, answered with a generic 500.
    Internal(String),
}

impl Error {
    /// A user-facing error page.
    pub fn page(status: u16, title: &str, message: &str) -> Self {
        Self::Page {
            status,
            title: title.to_owned(),
            message: message.to_owned(),
        }
    }

    /// A 400 page with this message.
    pub fn bad_request(message: &str) -> Self {
        Self::page(400, "Requête invalide", message)
    }

    /// A 409 page with this message.
    pub fn conflict(message: &str) -> Self {
        Self::page(409, "Action impossible", message)
    }

    /// The response the viewer gets.
    pub fn into_response(self) -> Response {
        match self {
            Self::NotFound => Response::not_found(),
            Self::Forbidden => Response::forbidden(),
            Self::SignInRequired => Response::page(
                "Connexion requise",
                html! {
                    h1 { "Connexion requise" }
                    p {
                        "Cette page demande d'être connecté. "
                        a href="/connexion" { "Se connecter" }
                    }
                },
            )
            .with_status(401),
            Self::MethodNotAllowed => Response::error_page(
                405,
                "Méthode non autorisée",
                "Cette adresse n'accepte pas ce type de requête.",
            ),
            Self::Page {
                status,
                title,
                message,
            } => Response::error_page(status, &title, &message),
            Self::Response(response) => *response,
            Self::Store(StoreError::Conflict(_)) => Response::error_page(
                409,
                "Action impossible",
                "Ces données ont été modifiées entre-temps. Veuillez réessayer.",
            ),
            Self::Store(err) => internal(&err.to_string()),
            Self::Internal(message) => internal(&message),
        }
    }
}

fn internal(message: &str) -> Response {
    crate::host::error(message);
    Response::error_page(
        500,
        "Erreur interne",
        "Une erreur est survenue. Veuillez réessayer plus tard.",
    )
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl From<Response> for Error {
    fn from(response: Response) -> Self {
        Self::Response(Box::new(response))
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound => f.write_str("not found"),
            Self::Forbidden => f.write_str("forbidden"),
            Self::SignInRequired => f.write_str("sign-in required"),
            Self::MethodNotAllowed => f.write_str("method not allowed"),
            Self::Page {
                status, message, ..
            } => write!(f, "{status}: {message}"),
            Self::Response(r) => write!(f, "response {}", r.status),
            Self::Store(err) => write!(f, "storage: {err}"),
            Self::Internal(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}
