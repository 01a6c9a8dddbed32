//! Open311 GeoReport v2 (<https://wiki.open311.org/GeoReport_v2>): the commune's categories as
//! services, its reports as service requests, read by anyone and posted by applications the
//! commune gave a key. The host serves the mount (`/open311/v2/`), checks the format,
//! `jurisdiction_id` and the key, answers `discovery` itself, and forwards the rest here
//! below `/_parvis/api/`, a prefix visitors cannot reach (so the role `api-client` can only
//! come from a checked key). Each resource is built once as JSON objects; the XML is written
//! from them, an element per field (in the order of their names: the spec's readers look
//! fields up by name).

use crate::form::ReportForm;
use crate::model::{self, ANSWER_MAX, Category, Report, code_of};
use crate::service::{self, Sent};
use crate::store;
use parvis_module_sdk::prelude::*;
use parvis_module_sdk::time::{parse_w3c, w3c};
use serde_json::{Map, Value, json};

/// The role the host gives a call whose key it checked.
const API_CLIENT: &str = "api-client";
/// Most requests one listing returns (the spec lets a server choose; 90 days by default).
pub const MAX_LISTED: usize = 200;
/// Most reports a listing reads to find them (newest first).
pub const MAX_SCANNED: usize = 5_000;
/// The default window of a listing, and the longest one asked.
const WINDOW_SECS: i64 = 90 * 24 * 3600;
/// Most ids in one `service_request_id` list.
const MAX_IDS: usize = 50;

/// The routes of the API, and the host's question about the mounts.
pub fn routes(router: Router) -> Router {
    router
        .get("/_parvis/api", mounts)
        .get("/_parvis/api/open311/v2/{file}", services)
        .post("/_parvis/api/open311/v2/{file}", post)
        .get("/_parvis/api/open311/v2/services/{file}", definition)
        .get("/_parvis/api/open311/v2/requests/{file}", one)
        .get("/_parvis/api/open311/v2/tokens/{file}", token)
}

fn mounts(_: &Request, _: &Params) -> Result<Response, Error> {
    Ok(Response::json(&json!({ "mounts": ["/open311/v2"] })))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// The name and format of `file` (`requests.json`); the host let only these two through.
fn split(file: &str) -> (&str, Format) {
    match file.rsplit_once('.') {
        Some((name, "xml")) => (name, Format::Xml),
        Some((name, _)) => (name, Format::Json),
        None => (file, Format::Json),
    }
}

/// Text for XML: the five entities, and no character XML 1.0 cannot carry.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// A JSON value as the spec's XML: a field per element, a list as repeated `item` elements.
fn xml_value(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::Object(map) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in map {
                xml_value(out, k, v);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Array(list) => {
            out.push_str(&format!("<{name}>"));
            for v in list {
                xml_value(out, &singular(name), v);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", escape(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

/// The element of each item of a list element (`attributes` → `attribute`).
fn singular(name: &str) -> String {
    match name {
        "values" => "value".into(),
        other => other.strip_suffix('s').unwrap_or(other).to_string(),
    }
}

/// The answer: JSON as it is, or XML under `root`, each object an `item` element.
fn answer(format: Format, status: u16, root: &str, item: &str, list: Vec<Value>) -> Response {
    match format {
        Format::Json => Response::json(&Value::Array(list)).with_status(status),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
            out.push_str(&format!("<{root}>"));
            for v in &list {
                xml_value(&mut out, item, v);
            }
            out.push_str(&format!("</{root}>"));
            Response::download("open311.xml", "application/xml", out.into_bytes())
                .with_status(status)
        }
    }
}

/// The spec's error body, with its status.
fn error(format: Format, status: u16, description: &str) -> Response {
    answer(
        format,
        status,
        "errors",
        "error",
        vec![json!({ "code": status, "description": description })],
    )
}

fn service(c: &Category) -> Value {
    json!({
        "service_code": c.code(),
        "service_name": c.label,
        "description": format!("{} (traité par : {})", c.label, c.service),
        "metadata": !c.questions.is_empty(),
        "type": "realtime",
        "keywords": "",
        "group": c.service,
    })
}

/// `services.{fmt}`, and `requests.{fmt}` on GET.
fn services(req: &Request, params: &Params) -> Result<Response, Error> {
    let (name, format) = split(params.require("file")?);
    match name {
        "services" => Ok(answer(
            format,
            200,
            "services",
            "service",
            service::categories(req).iter().map(service).collect(),
        )),
        "requests" => list(req, format),
        _ => Ok(error(format, 404, "Ressource inconnue.")),
    }
}

/// `services/{code}.{fmt}`: the service's definition, its attributes being the category's
/// questions (a list of choices is a `singlevaluelist`, whose keys are the choices' codes).
fn definition(req: &Request, params: &Params) -> Result<Response, Error> {
    let (code, format) = split(params.require("file")?);
    let categories = service::categories(req);
    let Some(c) = categories.iter().find(|c| c.code() == code) else {
        return Ok(error(
            format,
            404,
            &format!("Service «\u{a0}{code}\u{a0}» inconnu."),
        ));
    };
    let attributes: Vec<Value> = c
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            json!({
                "variable": true,
                "code": q.code(),
                "datatype": if q.choices.is_empty() { "string" } else { "singlevaluelist" },
                "required": q.required,
                "datatype_description": if q.choices.is_empty() {
                    format!("Texte libre, {ANSWER_MAX} caractères au plus.")
                } else {
                    "Une des valeurs proposées (sa clé).".to_string()
                },
                "order": i + 1,
                "description": q.label,
                "values": q.choices.iter().map(|c| json!({ "key": code_of(c), "name": c })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let definition = json!({ "service_code": c.code(), "attributes": attributes });
    Ok(match format {
        Format::Json => Response::json(&definition),
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
            xml_value(&mut out, "service_definition", &definition);
            Response::download("open311.xml", "application/xml", out.into_bytes())
        }
    })
}

/// A report as a service request.
/// One report as a GeoReport v2 request; `origin` makes its photo's `media_url` absolute.
fn request(report: &Report, origin: &str) -> Value {
    let mut out = Map::new();
    out.insert(
        "service_request_id".into(),
        json!(report.number.to_string()),
    );
    out.insert(
        "status".into(),
        json!(if report.status.is_open() {
            "open"
        } else {
            "closed"
        }),
    );
    let notes = report
        .steps
        .iter()
        .rev()
        .find_map(|s| s.reply.clone())
        .unwrap_or_else(|| report.status.event().to_string());
    out.insert("status_notes".into(), json!(notes));
    out.insert("service_name".into(), json!(report.category_label));
    out.insert("service_code".into(), json!(report.category));
    out.insert("description".into(), json!(report.description));
    out.insert("agency_responsible".into(), json!(report.service));
    out.insert("service_notice".into(), Value::Null);
    out.insert(
        "requested_datetime".into(),
        json!(w3c(report.sent_at() / 1000)),
    );
    out.insert(
        "updated_datetime".into(),
        json!(w3c(report.changed_at() / 1000)),
    );
    out.insert("expected_datetime".into(), Value::Null);
    out.insert(
        "address".into(),
        json!(report.address.clone().unwrap_or_default()),
    );
    out.insert("address_id".into(), Value::Null);
    out.insert("zipcode".into(), Value::Null);
    out.insert("lat".into(), json!(report.at.map(|(lat, _)| lat)));
    out.insert("long".into(), json!(report.at.map(|(_, lon)| lon)));
    out.insert(
        "media_url".into(),
        json!(
            report
                .photos
                .first()
                .map(|p| format!("{origin}{}", parvis_module_sdk::media::url(&p.id)))
        ),
    );
    Value::Object(out)
}

/// A comma-separated filter, each value trimmed, empties left out, at most `max`.
fn list_of(value: Option<&str>, max: usize) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .take(max)
        .map(str::to_string)
        .collect()
}

/// `GET requests.{fmt}`: by ids, or by service, status and date window (the last 90 days by
/// default), newest first, at most [`MAX_LISTED`].
fn list(req: &Request, format: Format) -> Result<Response, Error> {
    let origin = parvis_module_sdk::host::origin();
    let ids = list_of(req.query_value("service_request_id"), MAX_IDS);
    if !ids.is_empty() {
        let mut out = Vec::new();
        for id in ids {
            if let Some(n) = model::parse_number(&id)
                && let Some(doc) = store::report(n)?
            {
                out.push(request(&doc.value, &origin));
            }
        }
        return Ok(answer(format, 200, "service_requests", "request", out));
    }
    let date = |name: &str| -> Result<Option<i64>, Response> {
        match req.query_value(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => parse_w3c(v).map(Some).ok_or_else(|| {
                error(
                    format,
                    400,
                    &format!(
                        "{name} invalide («\u{a0}{v}\u{a0}»)\u{a0}: une date W3C est attendue, par exemple 2026-01-31T00:00:00Z."
                    ),
                )
            }),
        }
    };
    let (start, end) = match (date("start_date"), date("end_date")) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(r), _) | (_, Err(r)) => return Ok(r),
    };
    let now = host::now_ms() / 1000;
    let end = end.unwrap_or(now);
    let start = start.unwrap_or(end - WINDOW_SECS);
    if start > end {
        return Ok(error(format, 400, "start_date est après end_date."));
    }
    let codes = list_of(req.query_value("service_code"), 50);
    let statuses = list_of(req.query_value("status"), 2);
    if let Some(bad) = statuses.iter().find(|s| *s != "open" && *s != "closed") {
        return Ok(error(
            format,
            400,
            &format!("status «\u{a0}{bad}\u{a0}» inconnu\u{a0}: open ou closed."),
        ));
    }
    // The narrowest index the filters name (the module keeps one per state, category and
    // both); what it cannot express is checked on each report. Pages of what is returned at
    // most: an unfiltered listing reads only the reports it returns.
    let state = |s: &str| {
        if s == "open" {
            model::OPEN
        } else {
            model::CLOSED
        }
    };
    let listing = store::REPORTS.list().descending().limit(MAX_LISTED as u32);
    let listing = match (codes.as_slice(), statuses.as_slice()) {
        ([code], [status]) => listing.index("etat-categorie", &format!("{}:{code}", state(status))),
        ([code], _) => listing.index("categorie", code),
        ([], [status]) => listing.index("etat", state(status)),
        _ => listing,
    };
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let mut scanned = 0;
    'pages: loop {
        let page = listing.clone().after(cursor.as_deref()).page::<Report>()?;
        for doc in &page.documents {
            scanned += 1;
            let r = &doc.value;
            let sent = r.sent_at() / 1000;
            if sent < start || scanned > MAX_SCANNED {
                break 'pages;
            }
            let state = if r.status.is_open() { "open" } else { "closed" };
            if sent <= end
                && (codes.is_empty() || codes.contains(&r.category))
                && (statuses.is_empty() || statuses.iter().any(|s| s == state))
            {
                out.push(request(r, &origin));
                if out.len() == MAX_LISTED {
                    break 'pages;
                }
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(answer(format, 200, "service_requests", "request", out))
}

/// The report a path's file names (`12.json`), with the format asked.
fn named(params: &Params) -> Result<(&str, Format, Option<Report>), Error> {
    let (name, format) = split(params.require("file")?);
    let found = match model::parse_number(name) {
        Some(n) => store::report(n)?.map(|doc| doc.value),
        None => None,
    };
    Ok((name, format, found))
}

/// `requests/{id}.{fmt}`.
fn one(_: &Request, params: &Params) -> Result<Response, Error> {
    let (id, format, found) = named(params)?;
    Ok(match found {
        Some(report) => answer(
            format,
            200,
            "service_requests",
            "request",
            vec![request(&report, &parvis_module_sdk::host::origin())],
        ),
        None => error(format, 404, &format!("Aucune demande n°\u{a0}{id}.")),
    })
}

/// `tokens/{token}.{fmt}`: a request is given its id at once, which is also its token.
fn token(_: &Request, params: &Params) -> Result<Response, Error> {
    let (token, format, found) = named(params)?;
    Ok(match found {
        Some(report) => answer(
            format,
            200,
            "service_requests",
            "request",
            vec![json!({ "service_request_id": report.number.to_string(), "token": token })],
        ),
        None => error(
            format,
            404,
            &format!("Jeton «\u{a0}{token}\u{a0}» inconnu."),
        ),
    })
}

/// `POST requests.{fmt}`: a new report from an application with a key, in the same queue as
/// the residents', told to the same staff. The application's user is named only if it gives
/// a name; no e-mail or phone number is kept (the commune cannot answer them here).
fn post(req: &Request, params: &Params) -> Result<Response, Error> {
    let (name, format) = split(params.require("file")?);
    if name != "requests" {
        return Ok(error(format, 404, "Ressource inconnue."));
    }
    if !req.has_role(API_CLIENT) {
        return Ok(error(format, 403, "api_key manquante ou invalide."));
    }
    let field = |n: &str| req.form_value(n).unwrap_or_default().trim().to_string();
    let service_code = field("service_code");
    // `attribute[code]=value`, as the form's `q-<category>-<code>` field.
    let answers = req
        .form
        .iter()
        .filter_map(|f| {
            let code = f.name.strip_prefix("attribute[")?.strip_suffix(']')?;
            Some((format!("q-{service_code}-{code}"), f.value.clone()))
        })
        .take(crate::form::MAX_ANSWER_FIELDS)
        .collect();
    let form = ReportForm {
        category: service_code,
        description: field("description"),
        address: field("address_string"),
        lat: field("lat"),
        lon: field("long"),
        public_name: false,
        confirmed: true,
        photo_alt: String::new(),
        answers,
    };
    let categories = service::categories(req);
    let new = match form.validate(&categories) {
        Ok(new) => new,
        Err(errors) => return Ok(refused(format, &errors)),
    };
    let app = req.display_name().unwrap_or("une application");
    let person = format!("{} {}", field("first_name"), field("last_name"));
    let author_name = match person.trim() {
        "" => format!("Via {app}"),
        named => format!("{named} (via {app})"),
    };
    match service::send(req, None, &author_name, new, true, &[]) {
        Ok(Sent::Sent(number)) => Ok(answer(
            format,
            201,
            "service_requests",
            "request",
            vec![json!({
                "service_request_id": number.to_string(),
                "service_notice": "Signalement transmis à la mairie.",
                "account_id": Value::Null,
            })],
        )),
        Ok(Sent::Nearby(_)) => Ok(error(format, 500, "Réponse inattendue.")),
        Err(errors) => Ok(refused(format, &errors)),
    }
}

/// A refused request: the spec's 400 with each field's message, under the spec's names.
fn refused(format: Format, errors: &[(&'static str, String)]) -> Response {
    let list = errors
        .iter()
        .map(|(field, message)| {
            let name = match *field {
                "categorie" => "service_code",
                "lieu" => "lat/long/address_string",
                "adresse" => "address_string",
                "questions" => "attribute",
                other => other,
            };
            json!({ "code": 400, "description": format!("{name}\u{a0}: {message}") })
        })
        .collect();
    answer(format, 400, "errors", "error", list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_follows_the_json() {
        let mut out = String::new();
        xml_value(
            &mut out,
            "request",
            &json!({ "service_request_id": "3", "description": "A < B & « C »", "lat": 48.5, "media_url": null, "attributes": [{"code": "x"}] }),
        );
        assert_eq!(
            out,
            "<request><attributes><attribute><code>x</code></attribute></attributes><description>A &lt; B &amp; « C »</description><lat>48.5</lat><media_url/><service_request_id>3</service_request_id></request>"
        );
    }
}
