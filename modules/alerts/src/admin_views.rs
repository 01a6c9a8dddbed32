//! Admin HTML fragments: the list with delivery reports, an alert's page, the "new alert" form.

use crate::form::{
    AlertForm, CHANNEL_APP, CHANNEL_EMAIL, CHANNEL_PUSH, CHANNEL_SMS, FieldError, MESSAGE_MAX,
    TITLE_MAX, ZONE_MAX,
};
use crate::model::{Alert, Category, Severity};
use crate::report::AlertReport;
use crate::views::{
    error_summary, facts, field_error, frame, paragraphs, reason, status_line, time,
};
use parvis_module_sdk::Request;
use parvis_module_sdk::html::Esc;
use parvis_module_sdk::store::Doc;

/// An alert with its delivery report, for the list.
pub type Reported = (Doc<Alert>, AlertReport);

/// The delivery table of an alert (only its chosen channels).
pub fn report_table(alert: &Alert, report: &AlertReport, caption: &str) -> String {
    let mut html = format!(
        "<table>\n<caption>{}</caption>\n<thead><tr><th scope=\"col\">Canal</th>\
         <th scope=\"col\">Envoyés</th><th scope=\"col\">Échecs</th>\
         <th scope=\"col\">En attente</th></tr></thead>\n<tbody>\n",
        Esc(caption)
    );
    for row in report.rows(alert.channels) {
        let (failed, pending) = if row.counts_failures {
            (row.tally.failed.to_string(), row.tally.pending.to_string())
        } else {
            ("sans objet".to_owned(), "sans objet".to_owned())
        };
        html.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{failed}</td><td>{pending}</td></tr>\n",
            row.label, row.tally.sent
        ));
    }
    html.push_str("</tbody>\n</table>\n");
    for why in &report.unavailable {
        html.push_str(&format!(
            "<p>Rapport partiel : une partie des envois n'a pas pu être relue ({}).</p>\n",
            Esc(why)
        ));
    }
    html
}

/// Who was reached, and what could not be sent.
fn sending_notes(alert: &Alert) -> String {
    let mut notes = Vec::new();
    if alert.channels.to_followers() {
        match &alert.notify_error {
            Some(why) => notes.push(format!(
                "<strong>La notification aux personnes qui suivent la commune n'a pas pu être envoyée :</strong> {}",
                Esc(&reason(why))
            )),
            None => notes.push(format!(
                "Notification adressée à {} (personnes qui suivent la commune).",
                people(alert.followers_reach())
            )),
        }
    }
    if alert.channels.sms {
        if alert.sms_reach() > 0 {
            notes.push(format!(
                "SMS adressés à {} numéro{}.",
                alert.sms_reach(),
                if alert.sms_reach() > 1 { "s" } else { "" }
            ));
        }
        if let Some(why) = &alert.sms_error {
            notes.push(format!(
                "<strong>Les SMS n'ont pas pu être envoyés :</strong> {}",
                Esc(&reason(why))
            ));
        }
    }
    notes.iter().map(|n| format!("<p>{n}</p>\n")).collect()
}

fn people(n: u32) -> String {
    match n {
        0 => "aucune personne".to_owned(),
        1 => "1 personne".to_owned(),
        n => format!("{n} personnes"),
    }
}

/// The admin list: every alert, newest first, with its delivery report.
pub fn index(
    req: &Request,
    alerts: &[Reported],
    next: Option<&str>,
    can_send: bool,
    now: i64,
) -> String {
    let mut html = String::from("<h1>Alertes</h1>\n");
    if can_send {
        html.push_str(&format!(
            "<p><a href=\"{}\">Publier une alerte</a></p>\n",
            Esc(&req.link("/new"))
        ));
    }
    if alerts.is_empty() {
        html.push_str("<p>Aucune alerte pour le moment.</p>\n");
    }
    for (doc, report) in alerts {
        let alert = &doc.value;
        html.push_str(&format!(
            "<article{}>\n<h2><a href=\"{}\">{}</a></h2>\n<p>{}<br>\n{}</p>\n{}{}</article>\n",
            frame(alert.severity),
            Esc(&req.link(&format!("/{}", doc.key))),
            Esc(&alert.title),
            facts(alert),
            status_line(alert, now),
            sending_notes(alert),
            report_table(alert, report, &format!("Diffusion de « {} »", alert.title)),
        ));
    }
    if let Some(next) = next {
        // Cursors are alert ids (hex and dashes): nothing to percent-encode.
        html.push_str(&format!(
            "<nav aria-label=\"Pages des alertes\"><p><a href=\"{}\">Alertes plus anciennes</a></p></nav>\n",
            Esc(&req.link(&format!("/?apres={next}")))
        ));
    }
    html
}

/// The admin page of an alert: what it says, where it went, and lifting it.
pub fn show(
    req: &Request,
    doc: &Doc<Alert>,
    report: &AlertReport,
    can_send: bool,
    now: i64,
) -> String {
    let alert = &doc.value;
    let public = req.base.strip_prefix("/admin").unwrap_or(&req.base);
    let mut html = format!(
        "<p><a href=\"{}\">Toutes les alertes</a></p>\n<article{}>\n<h1>{}</h1>\n\
         <p>{}<br>\n{}<br>\nPubliée le {}</p>\n{}</article>\n\
         <p><a href=\"{}/{}\">Voir la page publique</a></p>\n\
         <section aria-labelledby=\"delivery-title\">\n<h2 id=\"delivery-title\">Diffusion</h2>\n{}{}\
         <p>Les envois par e-mail et par SMS se font en arrière-plan : rechargez la page pour voir \
         les chiffres à jour.</p>\n</section>\n",
        Esc(&req.link("/")),
        frame(alert.severity),
        Esc(&alert.title),
        facts(alert),
        status_line(alert, now),
        time(alert.created_at),
        paragraphs(&alert.message),
        Esc(public.trim_end_matches('/')),
        Esc(&doc.key),
        sending_notes(alert),
        report_table(alert, report, "Rapport de distribution par canal"),
    );
    if can_send && alert.is_current(now) {
        html.push_str(&format!(
            "<section aria-labelledby=\"lift-title\">\n<h2 id=\"lift-title\">Lever l'alerte</h2>\n\
             <form method=\"post\" action=\"{}\">\n{}\n\
             <p>L'alerte cesse d'être en vigueur immédiatement et passe dans l'historique. \
             Aucun nouveau message n'est envoyé.</p>\n\
             <p><button type=\"submit\">Lever l'alerte maintenant</button></p>\n</form>\n</section>\n",
            Esc(&req.link(&format!("/{}/lever", doc.key))),
            req.csrf_field(),
        ));
    }
    html
}

/// The "new alert" form, empty or re-rendered with its errors.
pub fn new_form(req: &Request, form: &AlertForm, errors: &[FieldError]) -> String {
    let mut html = String::from("<h1>Publier une alerte</h1>\n");
    html.push_str(&error_summary(
        "L'alerte n'a pas été publiée : corrigez les points suivants.",
        errors,
    ));
    html.push_str(&format!(
        "<form method=\"post\" action=\"{}\">\n{}\n",
        Esc(&req.link("/new")),
        req.csrf_field()
    ));

    let (error, attrs) = field_error(errors, "category");
    html.push_str(&format!(
        "<p><label for=\"category\">Catégorie</label><br>\n{error}\
         <select id=\"category\" name=\"category\" required{attrs}>\n\
         <option value=\"\">Choisir une catégorie</option>\n"
    ));
    for category in Category::ALL {
        let selected = if form.category == category.value() {
            " selected"
        } else {
            ""
        };
        html.push_str(&format!(
            "<option value=\"{}\"{selected}>{}</option>\n",
            category.value(),
            category.label()
        ));
    }
    html.push_str("</select></p>\n");

    let (error, _) = field_error(errors, "severity");
    let described = if error.is_empty() {
        String::new()
    } else {
        " aria-describedby=\"severity-error\"".to_owned()
    };
    html.push_str(&format!(
        "<fieldset id=\"severity\"{described}>\n<legend>Gravité</legend>\n{error}"
    ));
    for severity in Severity::ALL {
        let value = severity.value();
        let checked = if form.severity == value {
            " checked"
        } else {
            ""
        };
        let invalid = if error.is_empty() {
            ""
        } else {
            " aria-invalid=\"true\""
        };
        html.push_str(&format!(
            "<div><input type=\"radio\" name=\"severity\" id=\"severity-{value}\" value=\"{value}\" \
             required{checked}{invalid}> <label for=\"severity-{value}\">{}</label></div>\n",
            severity_hint(severity)
        ));
    }
    html.push_str("</fieldset>\n");

    let (error, attrs) = field_error(errors, "zone");
    html.push_str(&format!(
        "<p><label for=\"zone\">Zone concernée (facultative ; vide = toute la commune)</label><br>\n\
         {error}<input type=\"text\" id=\"zone\" name=\"zone\" maxlength=\"{ZONE_MAX}\" size=\"60\" value=\"{}\"{attrs}></p>\n",
        Esc(&form.zone)
    ));
    let (error, attrs) = field_error(errors, "title");
    html.push_str(&format!(
        "<p><label for=\"title\">Titre ({TITLE_MAX} caractères au plus)</label><br>\n\
         {error}<input type=\"text\" id=\"title\" name=\"title\" maxlength=\"{TITLE_MAX}\" size=\"60\" required value=\"{}\"{attrs}></p>\n",
        Esc(&form.title)
    ));
    let (error, attrs) = field_error(errors, "message");
    html.push_str(&format!(
        "<p><label for=\"message\">Message ({MESSAGE_MAX} caractères au plus ; les SMS en reprennent le début)</label><br>\n\
         {error}<textarea id=\"message\" name=\"message\" rows=\"6\" cols=\"60\" maxlength=\"{MESSAGE_MAX}\" required{attrs}>{}</textarea></p>\n",
        Esc(&form.message)
    ));
    let (error, attrs) = field_error(errors, "expires_at");
    html.push_str(&format!(
        "<p><label for=\"expires_at\">Fin de l'alerte (heure de Paris, dans les 30 jours)</label><br>\n\
         {error}<input type=\"datetime-local\" id=\"expires_at\" name=\"expires_at\" required value=\"{}\"{attrs}></p>\n",
        Esc(&form.expires_at)
    ));

    let (error, _) = field_error(errors, "channels");
    let described = if error.is_empty() {
        String::new()
    } else {
        " aria-describedby=\"channels-error\"".to_owned()
    };
    html.push_str(&format!(
        "<fieldset id=\"channels\"{described}>\n<legend>Canaux de diffusion</legend>\n{error}"
    ));
    for (value, label) in [
        (
            CHANNEL_APP,
            "Notification dans l'application (personnes qui suivent la commune)",
        ),
        (CHANNEL_EMAIL, "E-mail (personnes qui suivent la commune)"),
        (
            CHANNEL_PUSH,
            "Notification push (appareils des personnes qui suivent la commune)",
        ),
        (CHANNEL_SMS, "SMS (numéros inscrits aux alertes par SMS)"),
    ] {
        let checked = if form.has_channel(value) {
            " checked"
        } else {
            ""
        };
        let invalid = if error.is_empty() {
            ""
        } else {
            " aria-invalid=\"true\""
        };
        html.push_str(&format!(
            "<div><input type=\"checkbox\" name=\"channels\" id=\"channels-{value}\" value=\"{value}\"{checked}{invalid}> \
             <label for=\"channels-{value}\">{label}</label></div>\n"
        ));
    }
    html.push_str(
        "</fieldset>\n<p><button type=\"submit\">Publier l'alerte</button></p>\n</form>\n",
    );
    html
}

fn severity_hint(severity: Severity) -> &'static str {
    match severity {
        Severity::Information => "Information : à savoir, sans risque particulier",
        Severity::Vigilance => "Vigilance : risque possible, restez attentifs",
        Severity::Emergency => "Urgence : danger, consignes à suivre sans attendre",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Channels, NoticeKind, NoticeRef};
    use crate::report::Tally;

    const NOW: i64 = 1_768_478_400_000;

    fn doc() -> Doc<Alert> {
        Doc {
            key: "a1".into(),
            value: Alert {
                category: Category::Weather,
                severity: Severity::Vigilance,
                zone: "Bords de Seine".into(),
                title: "Crue".into(),
                message: "Montée des eaux.".into(),
                channels: Channels {
                    in_app: true,
                    email: true,
                    sms: true,
                    push: false,
                },
                created_at: NOW - 1_000,
                expires_at: NOW + 1_000,
                lifted_at: None,
                created_by: "acc".into(),
                notices: vec![NoticeRef {
                    kind: NoticeKind::AppEmail,
                    id: "n1".into(),
                    reach: 3,
                }],
                notify_error: None,
                sms_error: Some("Aucun fournisseur <SMS>.".into()),
            },
            version: 1,
            created_at: NOW - 1_000,
            updated_at: NOW - 1_000,
        }
    }

    #[test]
    fn detail_shows_the_report_the_sms_problem_and_the_lift_form() {
        let req = Request::new("GET", "/a1")
            .as_admin()
            .with_role("tenant-admin");
        let report = AlertReport {
            in_app: 3,
            email: Tally {
                sent: 2,
                failed: 1,
                pending: 0,
            },
            ..AlertReport::default()
        };
        let html = show(&req, &doc(), &report, true, NOW);
        assert!(
            html.contains("<tr><th scope=\"row\">E-mail</th><td>2</td><td>1</td><td>0</td></tr>"),
            "{html}"
        );
        assert!(
            html.contains("<tr><th scope=\"row\">Application</th><td>3</td><td>sans objet</td>")
        );
        assert!(html.contains("<th scope=\"row\">SMS</th><td>0</td>"));
        assert!(html.contains(
            "Les SMS n'ont pas pu être envoyés :</strong> aucun fournisseur &lt;SMS&gt;."
        ));
        assert!(html.contains("Notification adressée à 3 personnes"));
        assert!(html.contains("action=\"/admin/m/test/a1/lever\""));
        assert!(html.contains("href=\"/m/test/a1\""));
        assert!(!show(&req, &doc(), &report, false, NOW).contains("/lever"));
        assert!(!show(&req, &doc(), &report, true, NOW + 1_000).contains("/lever"));
    }

    #[test]
    fn form_marks_invalid_fields() {
        let req = Request::new("POST", "/new").as_admin();
        let form = AlertForm {
            title: "\"T\"".into(),
            category: "sante".into(),
            ..AlertForm::blank(NOW)
        };
        let errors = vec![
            ("message", "Le message est obligatoire.".to_owned()),
            ("channels", "Choisissez au moins un canal.".to_owned()),
        ];
        let html = new_form(&req, &form, &errors);
        assert!(html.contains("action=\"/admin/m/test/new\""));
        assert!(html.contains(r##"<a href="#message">Le message est obligatoire.</a>"##));
        assert!(html.contains("aria-invalid=\"true\" aria-describedby=\"message-error\""));
        assert!(html.contains("<fieldset id=\"channels\" aria-describedby=\"channels-error\">"));
        assert!(html.contains("value=\"&quot;T&quot;\""));
        assert!(html.contains("<option value=\"sante\" selected>Santé</option>"));
        assert!(
            html.contains("id=\"severity-information\" value=\"information\" required checked>")
        );
        assert!(html.contains("id=\"channels-email\" value=\"email\" checked"));
        assert!(html.contains("id=\"channels-sms\" value=\"sms\" aria-invalid"));
    }
}
