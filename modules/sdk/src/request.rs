//! Helpers on the incoming [`Request`]: fields, viewer, links.

use crate::html::{Markup, html};
use crate::{Commune, Error, Field, Request, Response, Viewer};
use serde::de::DeserializeOwned;

/// The first value of `name` among `fields`.
fn first<'a>(fields: &'a [crate::Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value.as_str())
}

/// Every value of `name` among `fields`, in order.
fn all<'a>(fields: &'a [crate::Field], name: &str) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|f| f.name == name)
        .map(|f| f.value.as_str())
        .collect()
}

/// Builders, for unit tests of handlers and views that do not call the host.
impl Request {
    /// An anonymous public request (`base` = `/m/test`, empty settings, a fake CSRF token).
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: Vec::new(),
            form: Vec::new(),
            body: Vec::new(),
            content_type: None,
            viewer: Viewer {
                account: None,
                display_name: None,
                roles: Vec::new(),
            },
            admin: false,
            base: "/m/test".to_owned(),
            csrf_token: "csrf-test".to_owned(),
            settings: "{}".to_owned(),
            commune: Commune {
                name: "Commune de test".to_owned(),
                slug: "test".to_owned(),
                population: 0,
            },
        }
    }

    /// Adds a posted form field.
    pub fn with_form(mut self, name: &str, value: &str) -> Self {
        self.form.push(Field {
            name: name.to_owned(),
            value: value.to_owned(),
        });
        self
    }

    /// Adds a query-string parameter.
    pub fn with_query(mut self, name: &str, value: &str) -> Self {
        self.query.push(Field {
            name: name.to_owned(),
            value: value.to_owned(),
        });
        self
    }

    /// Signs the viewer in.
    pub fn signed_in(mut self, account: &str, display_name: &str) -> Self {
        self.viewer.account = Some(account.to_owned());
        self.viewer.display_name = Some(display_name.to_owned());
        self
    }

    /// Gives the viewer a role in the commune.
    pub fn with_role(mut self, role: &str) -> Self {
        self.viewer.roles.push(role.to_owned());
        self
    }

    /// Makes it an admin request (mounted under `/admin/m/test`).
    pub fn as_admin(mut self) -> Self {
        self.admin = true;
        self.base = "/admin/m/test".to_owned();
        self
    }
}

impl Request {
    /// True for `GET` (and `HEAD`).
    pub fn is_get(&self) -> bool {
        self.method.eq_ignore_ascii_case("GET") || self.method.eq_ignore_ascii_case("HEAD")
    }

    /// True for `POST`.
    pub fn is_post(&self) -> bool {
        self.method.eq_ignore_ascii_case("POST")
    }

    /// The first value of a posted form field.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        first(&self.form, name)
    }

    /// A posted form field, trimmed; `None` when missing or blank.
    pub fn form_text(&self, name: &str) -> Option<&str> {
        self.form_value(name)
            .map(str::trim)
            .filter(|value| !value.is_empty())
    }

    /// Every value of a multi-valued form field (checkboxes, multiple selects).
    pub fn form_values(&self, name: &str) -> Vec<&str> {
        all(&self.form, name)
    }

    /// The first value of a query-string parameter.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        first(&self.query, name)
    }

    /// Every value of a multi-valued query-string parameter.
    pub fn query_values(&self, name: &str) -> Vec<&str> {
        all(&self.query, name)
    }

    /// The body parsed as JSON; a 400 error page when it is not the expected document.
    pub fn json_body<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|_| Error::bad_request("Le document JSON envoyé n'est pas valide."))
    }

    /// The commune's settings for this module, or the defaults when they don't parse.
    pub fn settings<T: DeserializeOwned + Default>(&self) -> T {
        serde_json::from_str(&self.settings).unwrap_or_default()
    }

    /// The viewer's account id, when signed in.
    pub fn account(&self) -> Option<&str> {
        self.viewer.account.as_deref()
    }

    /// The viewer's display name, when signed in.
    pub fn display_name(&self) -> Option<&str> {
        self.viewer.display_name.as_deref()
    }

    /// True when the viewer is signed in.
    pub fn is_signed_in(&self) -> bool {
        self.viewer.account.is_some()
    }

    /// True when the viewer has this role in the commune (`resident`, `official`, …).
    pub fn has_role(&self, role: &str) -> bool {
        self.viewer.roles.iter().any(|r| r == role)
    }

    /// True when the viewer has at least one of these roles.
    pub fn has_any_role(&self, roles: &[&str]) -> bool {
        roles.iter().any(|role| self.has_role(role))
    }

    /// The viewer's account id, or [`Error::SignInRequired`].
    pub fn require_account(&self) -> Result<&str, Error> {
        self.account().ok_or(Error::SignInRequired)
    }

    /// `Ok` when the viewer has one of these roles, [`Error::Forbidden`] otherwise.
    pub fn require_any_role(&self, roles: &[&str]) -> Result<(), Error> {
        if self.has_any_role(roles) {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// The absolute path of `path` (below the mount point): `/42` → `/m/polls/42`;
    /// `/` gives the mount point itself.
    pub fn link(&self, path: &str) -> String {
        let base = self.base.trim_end_matches('/');
        match path {
            "" | "/" => base.to_owned(),
            _ if path.starts_with("/?") => format!("{base}{}", &path[1..]),
            _ if path.starts_with('/') => format!("{base}{path}"),
            _ => format!("{base}/{path}"),
        }
    }

    /// A 303 redirect to `path` below the mount point.
    pub fn redirect(&self, path: &str) -> Response {
        Response::redirect(self.link(path))
    }

    /// The `action` of a form that sends files (`enctype="multipart/form-data"`): `path` below
    /// the mount point with the CSRF token in the query, where the host looks for it in such a
    /// form (it reads the files before the fields). Since contract 0.2.4, see [`crate::media`].
    pub fn upload_action(&self, path: &str) -> String {
        let link = self.link(path);
        let join = if link.contains('?') { '&' } else { '?' };
        format!("{link}{join}csrf_token={}", self.csrf_token)
    }

    /// The hidden CSRF input every posting form must carry.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf_token" value=(self.csrf_token); }
    }
}
