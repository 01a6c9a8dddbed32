//! Attacks on the web walls (routes below `/web/`): a script served as a download and
//! included by the module's own page, a `<meta>` refresh and a `<base>` off-site, downloads
//! of executable types, and redirects off-site after a write. With a signed-in commune admin
//! on the page, the script would read the profile page and switch another module off with
//! the CSRF token the host hands to modules: the host must make sure it never runs.

use parvis_module_sdk::prelude::*;
use serde_json::json;

/// Where the redirect attack writes before it redirects.
const TRACES: Collection<'static> = Collection::new("web-traces");

/// Where the off-site attacks lead.
const OFF_SITE: &str = "https://evil.example/";

/// The script: marks the page it ran on, reads the profile page, then switches `?victim=`
/// (polls by default) off for the commune with the token found in the page's form.
const SCRIPT: &str = r#"document.title = "assailant script ran";
document.documentElement.setAttribute("data-assailant", "ran");
var victim = new URLSearchParams(location.search).get("victim") || "polls";
var field = document.querySelector("input[name=csrf_token]");
fetch("/profil", { credentials: "include" }).then(function (r) { return r.text(); }).then(function (profile) {
  var body = new URLSearchParams();
  body.set("csrf_token", field ? field.value : "");
  body.set("stolen", profile.slice(0, 200));
  return fetch("/admin/modules/" + victim + "/desactiver", { method: "POST", body: body, credentials: "include" });
});
"#;

/// Adds this file's routes.
pub fn routes(router: Router) -> Router {
    router
        .get("/web/js", script)
        .get("/web/page", page)
        .get("/web/download", download)
        .get("/web/json", json_answer)
        .get("/web/redirect", redirect)
        .post("/web/redirect", redirect)
        .get("/web/traces", traces)
}

/// The script, as a JavaScript download.
fn script(_: &Request, _: &Params) -> Result<Response, Error> {
    Ok(Response::download(
        "assailant.js",
        "text/javascript",
        SCRIPT.as_bytes().to_vec(),
    ))
}

/// A page that includes the script (by every path a browser might follow to it), refreshes
/// off-site and rebases its links off-site, with the form (and CSRF token) an ordinary module
/// page carries.
fn page(req: &Request, _: &Params) -> Result<Response, Error> {
    let js = req.link("/web/js");
    let victim = req.query_value("victim").unwrap_or("polls");
    let query = format!("?victim={}", victim.render().into_string());
    // Raw on purpose: the attack is the markup itself (upper-case tags, an attribute split over
    // two lines) that a template would never write; the host must neutralise it as it is.
    let html = PreEscaped(format!(
        r#"<h1>Page de l'assaillant</h1>
<script src="{js}{query}"></script>
<script src="/static/..%2F..{js}"></script>
<SCRIPT SRC="{js}" TYPE="module"></SCRIPT>
<meta http-equiv="refresh" content="0;url={OFF_SITE}">
<META HTTP-EQUIV=Refresh CONTENT="1; URL={OFF_SITE}refresh">
<meta
http-equiv="refresh" content="2;url={OFF_SITE}newline">
<base href="{OFF_SITE}">
<BaSe HREF="{OFF_SITE}mixed">
<p><a id="relative" href="relative">Un lien relatif</a></p>
<form method="post" action="{action}">{csrf}<button>Envoyer</button></form>"#,
        action = req.link("/web/redirect"),
        csrf = req.csrf_field().into_string(),
    ));
    Ok(Response::page("Assaillant", html))
}

/// `?type=` (JavaScript by default) as a download named `?name=`.
fn download(req: &Request, _: &Params) -> Result<Response, Error> {
    let content_type = req.query_value("type").unwrap_or("text/javascript");
    let name = req.query_value("name").unwrap_or("assailant.js");
    let body = req.query_value("body").unwrap_or(SCRIPT);
    Ok(Response::download(
        name,
        content_type,
        body.as_bytes().to_vec(),
    ))
}

/// A JSON answer whose text is also HTML with a script.
fn json_answer(_: &Request, _: &Params) -> Result<Response, Error> {
    Ok(Response::json(&json!({
        "html": "<script>document.title='json ran'</script>",
    })))
}

/// Writes a trace, then redirects to `?to=` (off-site by default) followed by `?pad=` bytes
/// of `x` (a target the size of a page, for the host's log): the host must refuse an
/// off-site redirect and keep none of the call's writes.
fn redirect(req: &Request, _: &Params) -> Result<Response, Error> {
    let to = req
        .query_value("to")
        .or_else(|| req.form_value("to"))
        .unwrap_or(OFF_SITE);
    let pad = req
        .query_value("pad")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(0)
        .min(1 << 20);
    TRACES.insert(&host::new_id(), &json!({ "to": to }), Indexes::new())?;
    Ok(Response::redirect(format!("{to}{}", "x".repeat(pad))))
}

/// How many traces the redirect attack left.
fn traces(_: &Request, _: &Params) -> Result<Response, Error> {
    let count = TRACES.count(None)?;
    Ok(Response::json(&json!({ "traces": count })))
}
