//! Public HTML fragments (French, no JavaScript), and the helpers the admin pages share.
//! Every dynamic value goes through `Esc`.

use crate::form::{FieldError, SmsForm};
use crate::model::{Alert, Severity};
use crate::phone;
use crate::time::{format_fr, iso_utc};
use parvis_module_sdk::Request;
use parvis_module_sdk::html::Esc;
pub use parvis_module_sdk::html::{error_summary, field_error, paragraphs};
use parvis_module_sdk::store::Doc;

/// A `<time>` element in French, Paris time.
pub fn time(ms: i64) -> String {
    format!(
        r#"<time datetime="{}">{}</time>"#,
        iso_utc(ms),
        Esc(&format_fr(ms))
    )
}

/// The colour that repeats the severity's label (never shown alone).
fn colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Information => "#1f4e8c",
        Severity::Vigilance => "#8a5a00",
        Severity::Emergency => "#a4161a",
    }
}

/// The attributes of an alert's frame: a left border in the severity's colour.
pub fn frame(severity: Severity) -> String {
    format!(
        " class=\"alert alert-{}\" style=\"border-left:.4rem solid {};padding-left:.75rem;margin:0 0 1.25rem\"",
        severity.value(),
        colour(severity)
    )
}

/// The severity in words.
pub fn severity(severity: Severity) -> String {
    format!(
        "<strong class=\"alert-severity\">{}</strong>",
        severity.label()
    )
}

/// "Urgence · Eau et énergie · Zone : Rue de Rivoli".
pub fn facts(alert: &Alert) -> String {
    format!(
        "{} · {} · Zone : {}",
        severity(alert.severity),
        alert.category.label(),
        Esc(alert.zone_label())
    )
}

/// "En vigueur jusqu'au …", "Levée le …" or "Terminée le …".
pub fn status_line(alert: &Alert, now: i64) -> String {
    if alert.is_current(now) {
        format!("En vigueur jusqu'au {}", time(alert.expires_at))
    } else if let Some(at) = alert.lifted_at {
        format!("Levée le {}", time(at))
    } else {
        format!("Terminée le {}", time(alert.expires_at))
    }
}

/// A reason given by the host, to follow a colon in a French sentence: its first letter in lower
/// case (unless it starts an acronym) and a final full stop.
pub fn reason(why: &str) -> String {
    let why = why.trim();
    let mut chars = why.chars();
    let mut text = match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if first.is_uppercase() && !second.is_uppercase() => {
            format!("{}{}", first.to_lowercase(), &why[first.len_utf8()..])
        }
        _ => why.to_owned(),
    };
    if !text.ends_with(['.', '!', '?', '…']) {
        text.push('.');
    }
    text
}

fn current_item(req: &Request, doc: &Doc<Alert>, now: i64) -> String {
    let alert = &doc.value;
    format!(
        "<article{}>\n<h3><a href=\"{}\">{}</a></h3>\n<p>{}<br>\n{}</p>\n{}</article>\n",
        frame(alert.severity),
        Esc(&req.link(&format!("/{}", doc.key))),
        Esc(&alert.title),
        facts(alert),
        status_line(alert, now),
        paragraphs(&alert.message),
    )
}

fn history_item(req: &Request, doc: &Doc<Alert>, now: i64) -> String {
    let alert = &doc.value;
    format!(
        "<li><a href=\"{}\">{}</a><br>\n<small>{} · {}</small></li>\n",
        Esc(&req.link(&format!("/{}", doc.key))),
        Esc(&alert.title),
        facts(alert),
        status_line(alert, now),
    )
}

/// The public list: current alerts (first page only) and a page of the history.
pub fn index(
    req: &Request,
    current: Option<&[Doc<Alert>]>,
    history: &[Doc<Alert>],
    next: Option<&str>,
    now: i64,
) -> String {
    let mut html = String::from("<h1>Alertes</h1>\n");
    match current {
        Some(current) => {
            html.push_str(&format!(
                "<p>Les alertes publiées par {} : météo, travaux, circulation, sécurité, santé, eau \
                 et énergie. <a href=\"{}\">Recevoir les alertes par SMS</a>.</p>\n\
                 <section aria-labelledby=\"current-title\">\n\
                 <h2 id=\"current-title\">Alertes en cours</h2>\n",
                Esc(&req.commune.name),
                Esc(&req.link("/sms")),
            ));
            if current.is_empty() {
                html.push_str("<p>Aucune alerte en cours.</p>\n");
            }
            for doc in current {
                html.push_str(&current_item(req, doc, now));
            }
            html.push_str("</section>\n");
        }
        None => html.push_str(&format!(
            "<p><a href=\"{}\">Alertes en cours et historique récent</a></p>\n",
            Esc(&req.link("/"))
        )),
    }
    html.push_str(
        "<section aria-labelledby=\"history-title\">\n<h2 id=\"history-title\">Historique</h2>\n",
    );
    if history.is_empty() {
        html.push_str("<p>Aucune alerte passée.</p>\n");
    } else {
        html.push_str("<ul>\n");
        for doc in history {
            html.push_str(&history_item(req, doc, now));
        }
        html.push_str("</ul>\n");
    }
    if let Some(next) = next {
        // Cursors are ending keys (digits, hex and dashes): nothing to percent-encode.
        html.push_str(&format!(
            "<nav aria-label=\"Pages de l'historique\"><p><a href=\"{}\">Alertes plus anciennes</a></p></nav>\n",
            Esc(&req.link(&format!("/?apres={next}")))
        ));
    }
    html.push_str("</section>\n");
    html
}

/// The public page of an alert.
pub fn show(req: &Request, doc: &Doc<Alert>, now: i64) -> String {
    let alert = &doc.value;
    format!(
        "<p><a href=\"{}\">Toutes les alertes</a></p>\n<article{}>\n<h1>{}</h1>\n\
         <p>{}<br>\n{}<br>\nPubliée le {}</p>\n{}</article>\n\
         <p><a href=\"{}\">Recevoir les alertes par SMS</a></p>\n",
        Esc(&req.link("/")),
        frame(alert.severity),
        Esc(&alert.title),
        facts(alert),
        status_line(alert, now),
        time(alert.created_at),
        paragraphs(&alert.message),
        Esc(&req.link("/sms")),
    )
}

/// What the account has registered: a confirmed number, and one waiting for its code.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmsState<'a> {
    pub confirmed: Option<&'a str>,
    pub pending: Option<&'a str>,
}

/// The SMS page: the confirmed number and its removal, the code form for a pending number,
/// and the form to register a number.
pub fn sms_page(
    req: &Request,
    state: SmsState<'_>,
    form: &SmsForm,
    errors: &[FieldError],
) -> String {
    let mut html = format!(
        "<p><a href=\"{}\">Toutes les alertes</a></p>\n<h1>Alertes par SMS</h1>\n\
         <p>Recevez les alertes de {} par SMS sur votre téléphone mobile.</p>\n\
         <p id=\"data-use\">Votre numéro sert uniquement à vous envoyer les alertes de la commune. \
         Il n'est ni affiché ni utilisé à d'autres fins ; il est transmis au prestataire d'envoi \
         des SMS pour le seul acheminement des messages. Vous pouvez le supprimer à tout moment \
         sur cette page.</p>\n",
        Esc(&req.link("/")),
        Esc(&req.commune.name),
    );
    if let Some(number) = state.confirmed {
        html.push_str(&format!(
            "<section aria-labelledby=\"subscription-title\">\n\
             <h2 id=\"subscription-title\">Votre inscription</h2>\n\
             <p>Vous recevez les alertes par SMS au <strong>{}</strong>.</p>\n\
             <form method=\"post\" action=\"{}\">\n{}\n\
             <p><button type=\"submit\">Supprimer mon numéro</button></p>\n</form>\n</section>\n",
            Esc(&phone::display(number)),
            Esc(&req.link("/sms/supprimer")),
            req.csrf_field(),
        ));
    }
    if let Some(number) = state.pending {
        html.push_str(&format!(
            "<section aria-labelledby=\"code-title\">\n\
             <h2 id=\"code-title\">Confirmer votre numéro</h2>\n\
             <p>Un code à six chiffres a été envoyé par SMS au <strong>{}</strong>. Ce numéro ne \
             recevra les alertes qu'une fois le code saisi (il est valable 15 minutes).</p>\n\
             <form method=\"post\" action=\"{}\">\n{}\n\
             <p><label for=\"code\">Code reçu par SMS</label><br>\n\
             <input type=\"text\" id=\"code\" name=\"code\" inputmode=\"numeric\" \
             autocomplete=\"one-time-code\" pattern=\"[0-9 ]*\" maxlength=\"10\" size=\"8\" required></p>\n\
             <p><button type=\"submit\">Confirmer</button></p>\n</form>\n</section>\n",
            Esc(&phone::display(number)),
            Esc(&req.link("/sms/code")),
            req.csrf_field(),
        ));
    }
    let action = match (state.confirmed, state.pending) {
        (_, Some(_)) => "Recevoir un code pour un autre numéro",
        (Some(_), None) => "Changer de numéro",
        (None, None) => "S'inscrire",
    };
    html.push_str(&format!(
        "<section aria-labelledby=\"form-title\">\n<h2 id=\"form-title\">{action}</h2>\n"
    ));
    html.push_str(&error_summary(
        "Votre numéro n'a pas été enregistré : corrigez les points suivants.",
        errors,
    ));
    let (phone_error, phone_attrs) = field_error(errors, "phone");
    let (consent_error, consent_attrs) = field_error(errors, "consent");
    // The consent refers to the sentence on data use: tie them for screen readers.
    let consent_attrs = if consent_attrs.is_empty() {
        " aria-describedby=\"data-use\"".to_owned()
    } else {
        consent_attrs.replace("consent-error\"", "consent-error data-use\"")
    };
    let checked = if form.consent { " checked" } else { "" };
    html.push_str(&format!(
        "<form method=\"post\" action=\"{}\">\n{}\n\
         <p><label for=\"phone\">Numéro de mobile (06, 07, +33 6 ou +33 7)</label><br>\n\
         {phone_error}<input type=\"tel\" id=\"phone\" name=\"phone\" autocomplete=\"tel\" required \
         size=\"20\" maxlength=\"30\" value=\"{}\"{phone_attrs}></p>\n\
         {consent_error}<p><input type=\"checkbox\" id=\"consent\" name=\"consent\" value=\"oui\" \
         required{checked}{consent_attrs}> <label for=\"consent\">J'accepte de recevoir par SMS les \
         alertes de la commune à ce numéro, dans les conditions décrites ci-dessus.</label></p>\n\
         <p>Un code de confirmation vous sera envoyé par SMS à ce numéro.</p>\n\
         <p><button type=\"submit\">{action}</button></p>\n</form>\n</section>\n",
        Esc(&req.link("/sms")),
        req.csrf_field(),
        Esc(&form.phone),
    ));
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Channels};

    const NOW: i64 = 1_768_478_400_000;

    pub(crate) fn doc(key: &str, severity: Severity, created_at: i64) -> Doc<Alert> {
        Doc {
            key: key.into(),
            value: Alert {
                category: Category::Traffic,
                severity,
                zone: String::new(),
                title: "Route <barrée>".into(),
                message: "Déviation par la D7.\n\nMerci.".into(),
                channels: Channels {
                    in_app: true,
                    email: true,
                    sms: false,
                    push: false,
                },
                created_at,
                expires_at: NOW + 3_600_000,
                lifted_at: None,
                created_by: "acc".into(),
                notices: Vec::new(),
                notify_error: None,
                sms_error: None,
            },
            version: 1,
            created_at,
            updated_at: created_at,
        }
    }

    #[test]
    fn alerts_show_their_severity_in_words_and_escape_text() {
        let req = Request::new("GET", "/");
        let current = [doc("a1", Severity::Emergency, NOW - 10)];
        let mut past = doc("a0", Severity::Vigilance, NOW - 99_000_000);
        past.value.expires_at = NOW - 1_000;
        past.value.lifted_at = Some(NOW - 1_000);
        let html = index(&req, Some(&current), &[past], Some("123-abc"), NOW);
        assert!(html.contains("<strong class=\"alert-severity\">Urgence</strong> · Circulation · Zone : Toute la commune"), "{html}");
        assert!(html.contains("Route &lt;barrée&gt;"));
        assert!(html.contains("<p>Déviation par la D7.</p>\n<p>Merci.</p>"));
        assert!(html.contains("Levée le <time"));
        assert!(html.contains("href=\"/m/test?apres=123-abc\""));
        assert!(html.contains("href=\"/m/test/a1\""));
        let later = index(&req, None, &[], None, NOW);
        assert!(!later.contains("Alertes en cours</h2>"));
        assert!(later.contains("Aucune alerte passée."));
    }

    #[test]
    fn host_reasons_read_as_the_end_of_a_sentence() {
        assert_eq!(
            reason("Les SMS ne sont pas configurés sur cette plateforme."),
            "les SMS ne sont pas configurés sur cette plateforme."
        );
        assert_eq!(reason(" SMS indisponibles "), "SMS indisponibles.");
        assert_eq!(reason("Échec"), "échec.");
        assert_eq!(reason(""), ".");
    }

    #[test]
    fn sms_page_asks_consent_and_shows_the_subscription() {
        let req = Request::new("GET", "/sms").signed_in("acc", "Alice");
        let html = sms_page(&req, SmsState::default(), &SmsForm::default(), &[]);
        assert!(
            html.contains("name=\"consent\" value=\"oui\" required aria-describedby=\"data-use\">")
        );
        assert!(html.contains("<p id=\"data-use\">Votre numéro sert uniquement"));
        assert!(!html.contains("Supprimer mon numéro"));
        let errors = vec![("phone", "Numéro invalide.".to_owned())];
        let form = SmsForm {
            phone: "01\"".into(),
            consent: true,
        };
        let state = SmsState {
            confirmed: Some("+33612345678"),
            pending: Some("+33798765432"),
        };
        let html = sms_page(&req, state, &form, &errors);
        assert!(html.contains("au <strong>+33 7 98 76 54 32</strong>. Ce numéro ne"));
        assert!(html.contains("action=\"/m/test/sms/code\""));
        assert!(html.contains("<strong>+33 6 12 34 56 78</strong>"));
        assert!(html.contains("action=\"/m/test/sms/supprimer\""));
        assert!(
            html.contains(
                "value=\"01&quot;\" aria-invalid=\"true\" aria-describedby=\"phone-error\""
            )
        );
        assert!(html.contains("value=\"oui\" required checked aria-describedby=\"data-use\">"));
    }
}
