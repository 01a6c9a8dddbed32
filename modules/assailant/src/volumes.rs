//! Attacks on the volumes walls (routes below `/volumes/`): floods of notices, e-mails to one
//! account, SMS and feed posts in one call, huge bodies, and notices to accounts that have
//! nothing to do with the commune. Each route keeps going after a refusal, counts what got
//! through, answers 200 (so the host commits whatever it accepted) and reports the first
//! refusal word for word.

use parvis_module_sdk::host::{Audience, Channels, Notification};
use parvis_module_sdk::prelude::*;
use serde_json::json;

/// Adds this file's routes.
pub fn routes(router: Router) -> Router {
    router
        .get("/volumes/notices", notices)
        .get("/volumes/sms", sms)
        .get("/volumes/posts", posts)
        .get("/volumes/body", body)
        .post("/volumes/hello", hello)
}

/// A form anyone signed in may post: acting in the module (a request that wrote) links the
/// account to it.
fn hello(req: &Request, _: &Params) -> Result<Response, Error> {
    let visits = store::incr("hello", 1)?;
    Ok(Response::json(
        &json!({ "account": req.account(), "visits": visits }),
    ))
}

/// `n` from the query, at most `max` (the attack sizes are the test's to choose).
fn count(req: &Request, name: &str, default: u32) -> u32 {
    req.query_value(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .min(1_000_000)
}

/// What got through and the first refusal.
fn outcome(sent: u32, reach: u64, refused: Option<String>) -> Response {
    Response::json(&json!({ "sent": sent, "reach": reach, "refused": refused }))
}

/// `?n=&to=followers|accounts&account=<id>…&email=1`: `n` notices in one call, to the
/// followers or to the named accounts (by e-mail too with `email=1`).
fn notices(req: &Request, _: &Params) -> Result<Response, Error> {
    let n = count(req, "n", 1);
    let audience = match req.query_value("to") {
        Some("accounts") => Audience::Accounts(
            req.query_values("account")
                .into_iter()
                .map(str::to_owned)
                .collect(),
        ),
        _ => Audience::Followers,
    };
    let mut notice = Notification::in_app("Alerte", "Cliquez vite.", "/");
    if req.query_value("email") == Some("1") {
        notice = notice.channels(Channels::IN_APP | Channels::EMAIL);
    }
    let (mut sent, mut reach, mut refused) = (0, 0u64, None);
    for _ in 0..n {
        match host::notify(&audience, &notice) {
            Ok(r) => {
                sent += 1;
                reach += u64::from(r);
            }
            Err(e) => {
                refused.get_or_insert(e);
            }
        }
    }
    Ok(outcome(sent, reach, refused))
}

/// `?calls=&numbers=`: `calls` sends of `numbers` generated mobile numbers each, carrying a
/// phishing link.
fn sms(req: &Request, _: &Params) -> Result<Response, Error> {
    let calls = count(req, "calls", 1);
    let per_call = count(req, "numbers", 1000);
    let (mut sent, mut reach, mut refused) = (0, 0u64, None);
    let mut next: u32 = count(req, "from", 0);
    for _ in 0..calls {
        let numbers: Vec<String> = (0..per_call)
            .map(|_| {
                next += 1;
                format!("06{:08}", next % 100_000_000)
            })
            .collect();
        match host::send_sms(&numbers, "Votre colis attend : https://colis.example/x") {
            Ok(s) => {
                sent += 1;
                reach += u64::from(s.reach);
            }
            Err(e) => {
                refused.get_or_insert(e);
            }
        }
    }
    Ok(outcome(sent, reach, refused))
}

/// `?n=`: `n` posts in the commune's name in one call.
fn posts(req: &Request, _: &Params) -> Result<Response, Error> {
    let n = count(req, "n", 1);
    let (mut sent, mut refused) = (0, None);
    for i in 0..n {
        match host::publish(&format!("Communiqué officiel n° {i}"), None) {
            Ok(_) => sent += 1,
            Err(e) => {
                refused.get_or_insert(e);
            }
        }
    }
    Ok(outcome(sent, u64::from(sent), refused))
}

/// `?kind=notice|post&mib=&chars=&account=`: one notice (in app and by e-mail, to the
/// followers or to `account`) or one post whose body is `mib` MiB (20 by default) or `chars`
/// characters.
fn body(req: &Request, _: &Params) -> Result<Response, Error> {
    let size = match req.query_value("chars") {
        Some(_) => usize::try_from(count(req, "chars", 0)).unwrap_or(0),
        None => usize::try_from(count(req, "mib", 20)).unwrap_or(20) << 20,
    };
    let text = "A".repeat(size);
    let audience = match req.query_value("account") {
        Some(account) => Audience::Accounts(vec![account.to_owned()]),
        None => Audience::Followers,
    };
    let result = match req.query_value("kind") {
        Some("post") => host::publish(&text, None).map(|_| 1),
        _ => host::notify(
            &audience,
            &Notification::in_app("Gros message", &text, "/")
                .channels(Channels::IN_APP | Channels::EMAIL),
        ),
    };
    match result {
        Ok(reach) => Ok(outcome(1, u64::from(reach), None)),
        Err(e) => Ok(outcome(0, 0, Some(e))),
    }
}
