//! A tiny router: method + path pattern with `{param}` segments → handler function.

use crate::{Error, Request, Response};
use std::str::FromStr;

/// Answers `req` with the back-office's routes when it came through `/admin/m/<id>/` (the host
/// checked the viewer administers the commune's modules), else with the public ones: a
/// module's `handle`, most of the time.
///
/// ```ignore
/// fn handle(req: Request) -> Response {
///     parvis_module_sdk::serve(&req, admin::router, public::router)
/// }
/// ```
pub fn serve(
    req: &Request,
    admin: impl FnOnce() -> Router,
    public: impl FnOnce() -> Router,
) -> Response {
    if req.admin {
        admin().handle(req)
    } else {
        public().handle(req)
    }
}

/// A route handler: a plain function of the request and the path parameters.
pub type Handler = fn(&Request, &Params) -> Result<Response, Error>;

/// The `{param}` values captured from the path (percent-decoded).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    /// The value of a parameter, if the pattern had it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of a parameter; [`Error::NotFound`] if absent.
    pub fn require(&self, name: &str) -> Result<&str, Error> {
        self.get(name).ok_or(Error::NotFound)
    }

    /// The parameter parsed as `T`; [`Error::NotFound`] if absent or unparsable (`/abc` where a
    /// number is expected is a page that does not exist).
    pub fn parse<T: FromStr>(&self, name: &str) -> Result<T, Error> {
        self.require(name)?.parse().map_err(|_| Error::NotFound)
    }
}

/// Routes requests to handlers, in declaration order (the first match wins).
///
/// ```ignore
/// Router::new()
///     .get("/", index)
///     .get("/{id}", show)
///     .post("/{id}/vote", vote)
///     .handle(&req)
/// ```
#[derive(Default)]
pub struct Router {
    routes: Vec<(&'static str, &'static str, Handler)>,
}

/// What [`Router::find`] found for a method and a path.
#[derive(Debug)]
pub enum Match {
    /// A route, with its captured parameters.
    Found(Handler, Params),
    /// The path matches a route of another method.
    MethodNotAllowed,
    /// No route has this path.
    NotFound,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route for `method` (`GET` routes also answer `HEAD`).
    pub fn route(mut self, method: &'static str, pattern: &'static str, handler: Handler) -> Self {
        self.routes.push((method, pattern, handler));
        self
    }

    /// Adds a `GET` route.
    pub fn get(self, pattern: &'static str, handler: Handler) -> Self {
        self.route("GET", pattern, handler)
    }

    /// Adds a `POST` route.
    pub fn post(self, pattern: &'static str, handler: Handler) -> Self {
        self.route("POST", pattern, handler)
    }

    /// Finds the route for a method and a path.
    pub fn find(&self, method: &str, path: &str) -> Match {
        let method = if method.eq_ignore_ascii_case("HEAD") {
            "GET"
        } else {
            method
        };
        let mut path_exists = false;
        for (route_method, pattern, handler) in &self.routes {
            if let Some(params) = match_path(pattern, path) {
                if route_method.eq_ignore_ascii_case(method) {
                    return Match::Found(*handler, params);
                }
                path_exists = true;
            }
        }
        if path_exists {
            Match::MethodNotAllowed
        } else {
            Match::NotFound
        }
    }

    /// Runs the matching handler and turns its error, if any, into an error page.
    pub fn handle(&self, req: &Request) -> Response {
        let result = match self.find(&req.method, &req.path) {
            Match::Found(handler, params) => handler(req, &params),
            Match::MethodNotAllowed => Err(Error::MethodNotAllowed),
            Match::NotFound => Err(Error::NotFound),
        };
        result.unwrap_or_else(Error::into_response)
    }
}

/// Matches `path` against `pattern`, segment by segment; empty segments (a trailing slash) are
/// ignored and the query string, if any, is dropped.
fn match_path(pattern: &'static str, path: &str) -> Option<Params> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut wanted = pattern.split('/').filter(|s| !s.is_empty());
    let mut given = path.split('/').filter(|s| !s.is_empty());
    let mut params = Vec::new();
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return Some(Params(params)),
            (Some(w), Some(g)) => {
                if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                    params.push((name, percent_decode(g)));
                } else if w != g {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Decodes `%XX` escapes (invalid UTF-8 is replaced, malformed escapes are kept).
fn percent_decode(segment: &str) -> String {
    if !segment.contains('%') {
        return segment.to_owned();
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let value = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(value as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &Request, _: &Params) -> Result<Response, Error> {
        Ok(Response::empty(200))
    }

    fn router() -> Router {
        Router::new()
            .get("/", ok)
            .get("/{id}", ok)
            .post("/{id}/vote", ok)
            .get("/{id}/resultats.csv", ok)
    }

    fn params(m: Match) -> Option<Params> {
        match m {
            Match::Found(_, p) => Some(p),
            _ => None,
        }
    }

    #[test]
    fn matches_literal_and_param_segments() {
        let r = router();
        assert_eq!(params(r.find("GET", "/")), Some(Params::default()));
        assert_eq!(params(r.find("GET", "")), Some(Params::default()));
        let id = |m| params(m).and_then(|p: Params| p.get("id").map(str::to_owned));
        assert_eq!(id(r.find("GET", "/abc/")).as_deref(), Some("abc"));
        assert_eq!(id(r.find("post", "/a%20b/vote")).as_deref(), Some("a b"));
        assert!(params(r.find("GET", "/x/resultats.csv")).is_some());
        assert!(params(r.find("HEAD", "/x?y=1")).is_some());
    }

    #[test]
    fn tells_not_found_from_wrong_method() {
        let r = router();
        assert!(matches!(r.find("GET", "/x/vote"), Match::MethodNotAllowed));
        assert!(matches!(r.find("GET", "/x/y/z"), Match::NotFound));
        assert!(matches!(r.find("DELETE", "/"), Match::MethodNotAllowed));
    }

    #[test]
    fn parses_params() {
        let p = Params(vec![("n", "42".into()), ("s", "x".into())]);
        assert_eq!(p.parse::<u32>("n").ok(), Some(42));
        assert!(matches!(p.parse::<u32>("s"), Err(Error::NotFound)));
        assert!(matches!(p.require("z"), Err(Error::NotFound)));
        assert_eq!(percent_decode("%C3%A9t%C3%A9%zz"), "été%zz");
    }
}
