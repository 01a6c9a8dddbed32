//! Admin HTML fragments, as maud templates: the list with delivery reports, an alert's page,
//! the "new alert" form.

use crate::form::{
    AlertForm, CHANNEL_APP, CHANNEL_EMAIL, CHANNEL_PUSH, CHANNEL_SMS, FieldError, MESSAGE_MAX,
    TITLE_MAX, ZONE_MAX,
};
use crate::model::{Alert, Category, Severity};
use crate::report::AlertReport;
use crate::views::{alert_card, facts, framed, reason, status_line};
use parvis_module_sdk::Request;
use parvis_module_sdk::html::{Markup, empty, error_summary, field, html, table_head};
use parvis_module_sdk::store::Doc;

/// An alert with its delivery report, for the list.
pub type Reported = (Doc<Alert>, AlertReport);

/// The delivery table of an alert (only its chosen channels).
pub fn report_table(alert: &Alert, report: &AlertReport, caption: &str) -> Markup {
    html! {
        table {
            (table_head(Some(caption), &["Canal", "Envoyés", "Échecs", "En attente"]))
            tbody {
                @for row in report.rows(alert.channels) {
                    tr {
                        th scope="row" { (row.label) }
                        td { (row.tally.sent) }
                        @if row.counts_failures {
                            td { (row.tally.failed) }
                            td { (row.tally.pending) }
                        } @else {
                            td { "sans objet" }
                            td { "sans objet" }
                        }
                    }
                }
            }
        }
        @for why in &report.unavailable {
            p { "Rapport partiel : une partie des envois n'a pas pu être relue (" (why) ")." }
        }
    }
}

/// Who was reached, and what could not be sent.
fn sending_notes(alert: &Alert) -> Markup {
    html! {
        @if alert.channels.to_followers() {
            p {
                @match &alert.notify_error {
                    Some(why) => {
                        strong {
                            "La notification aux personnes qui suivent la commune n'a pas pu être \
                             envoyée :"
                        }
                        " " (reason(why))
                    },
                    None => {
                        "Notification adressée à " (people(alert.followers_reach()))
                        " (personnes qui suivent la commune)."
                    },
                }
            }
        }
        @if alert.channels.sms {
            @if alert.sms_reach() > 0 {
                p {
                    "SMS adressés à " (alert.sms_reach()) " numéro"
                    @if alert.sms_reach() > 1 { "s" }
                    "."
                }
            }
            @if let Some(why) = &alert.sms_error {
                p { strong { "Les SMS n'ont pas pu être envoyés :" } " " (reason(why)) }
            }
        }
    }
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
) -> Markup {
    html! {
        h1 { "Alertes" }
        @if can_send {
            p { a href=(req.link("/new")) { "Publier une alerte" } }
        }
        @if alerts.is_empty() {
            (empty("Aucune alerte pour le moment."))
        }
        @for (doc, report) in alerts {
            @let alert = &doc.value;
            (framed(alert.severity, html! {
                h2 { a href=(req.link(&format!("/{}", doc.key))) { (alert.title) } }
                p { (facts(alert)) br; (status_line(alert, now)) }
                (sending_notes(alert))
                (report_table(alert, report, &format!("Diffusion de « {} »", alert.title)))
            }))
        }
        @if let Some(next) = next {
            // Cursors are alert ids (hex and dashes): nothing to percent-encode.
            nav aria-label="Pages des alertes" {
                p { a href=(req.link(&format!("/?apres={next}"))) { "Alertes plus anciennes" } }
            }
        }
    }
}

/// The admin page of an alert: what it says, where it went, and lifting it.
pub fn show(
    req: &Request,
    doc: &Doc<Alert>,
    report: &AlertReport,
    can_send: bool,
    now: i64,
) -> Markup {
    let alert = &doc.value;
    let public = req.base.strip_prefix("/admin").unwrap_or(&req.base);
    html! {
        (alert_card(req, alert, now))
        p { a href={ (public.trim_end_matches('/')) "/" (doc.key) } { "Voir la page publique" } }
        section aria-labelledby="delivery-title" {
            h2 id="delivery-title" { "Diffusion" }
            (sending_notes(alert))
            (report_table(alert, report, "Rapport de distribution par canal"))
            p {
                "Les envois par e-mail et par SMS se font en arrière-plan : rechargez la page pour \
                 voir les chiffres à jour."
            }
        }
        @if can_send && alert.is_current(now) {
            section aria-labelledby="lift-title" {
                h2 id="lift-title" { "Lever l'alerte" }
                form method="post" action=(req.link(&format!("/{}/lever", doc.key))) {
                    (req.csrf_field())
                    p {
                        "L'alerte cesse d'être en vigueur immédiatement et passe dans \
                         l'historique. Aucun nouveau message n'est envoyé."
                    }
                    p { button type="submit" { "Lever l'alerte maintenant" } }
                }
            }
        }
    }
}

/// The "new alert" form, empty or re-rendered with its errors.
pub fn new_form(req: &Request, form: &AlertForm, errors: &[FieldError]) -> Markup {
    let category = field(errors, "category");
    let severity = field(errors, "severity");
    let zone = field(errors, "zone");
    let title = field(errors, "title");
    let message = field(errors, "message");
    let expires_at = field(errors, "expires_at");
    let channels = field(errors, "channels");
    html! {
        h1 { "Publier une alerte" }
        (error_summary("L'alerte n'a pas été publiée : corrigez les points suivants.", errors))
        form method="post" action=(req.link("/new")) {
            (req.csrf_field())
            p {
                label for="category" { "Catégorie" }
                br;
                (category.error())
                select id="category" name="category" required
                    aria-invalid=[category.invalid()] aria-describedby=[category.error_id()] {
                    option value="" { "Choisir une catégorie" }
                    @for choice in Category::ALL {
                        option value=(choice.value()) selected[form.category == choice.value()] {
                            (choice.label())
                        }
                    }
                }
            }
            fieldset id="severity" aria-describedby=[severity.error_id()] {
                legend { "Gravité" }
                (severity.error())
                @for choice in Severity::ALL {
                    @let value = choice.value();
                    div {
                        input type="radio" name="severity" id={ "severity-" (value) } value=(value)
                            required checked[form.severity == value]
                            aria-invalid=[severity.invalid()];
                        " "
                        label for={ "severity-" (value) } { (severity_hint(choice)) }
                    }
                }
            }
            p {
                label for="zone" { "Zone concernée (facultative ; vide = toute la commune)" }
                br;
                (zone.error())
                input type="text" id="zone" name="zone" maxlength=(ZONE_MAX) size="60"
                    value=(form.zone) aria-invalid=[zone.invalid()]
                    aria-describedby=[zone.error_id()];
            }
            p {
                label for="title" { "Titre (" (TITLE_MAX) " caractères au plus)" }
                br;
                (title.error())
                input type="text" id="title" name="title" maxlength=(TITLE_MAX) size="60" required
                    value=(form.title) aria-invalid=[title.invalid()]
                    aria-describedby=[title.error_id()];
            }
            p {
                label for="message" {
                    "Message (" (MESSAGE_MAX)
                    " caractères au plus ; les SMS en reprennent le début)"
                }
                br;
                (message.error())
                textarea id="message" name="message" rows="6" cols="60" maxlength=(MESSAGE_MAX)
                    required aria-invalid=[message.invalid()]
                    aria-describedby=[message.error_id()] { (form.message) }
            }
            p {
                label for="expires_at" { "Fin de l'alerte (heure de Paris, dans les 30 jours)" }
                br;
                (expires_at.error())
                input type="datetime-local" id="expires_at" name="expires_at" required
                    value=(form.expires_at) aria-invalid=[expires_at.invalid()]
                    aria-describedby=[expires_at.error_id()];
            }
            fieldset id="channels" aria-describedby=[channels.error_id()] {
                legend { "Canaux de diffusion" }
                (channels.error())
                @for (value, label) in [
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
                    div {
                        input type="checkbox" name="channels" id={ "channels-" (value) }
                            value=(value) checked[form.has_channel(value)]
                            aria-invalid=[channels.invalid()];
                        " "
                        label for={ "channels-" (value) } { (label) }
                    }
                }
            }
            p { button type="submit" { "Publier l'alerte" } }
        }
    }
}

fn severity_hint(severity: Severity) -> &'static str {
    match severity {
        Severity::Information => "Information : à savoir, sans risque particulier",
        Severity::Vigilance => "Vigilance : risque possible, restez attentifs",
        Severity::Emergency => "Urgence : danger, consignes à suivre sans attendre",
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
        let html = show(&req, &doc(), &report, true, NOW).into_string();
        assert!(
            html.contains("<tr><th scope=\"row\">E-mail</th><td>2</td><td>1</td><td>0</td></tr>"),
            "{html}"
        );
        assert!(
            html.contains("<tr><th scope=\"row\">Application</th><td>3</td><td>sans objet</td>")
        );
        assert!(html.contains("<th scope=\"row\">SMS</th><td>0</td>"));
        assert!(html.contains(
            "Les SMS n'ont pas pu être envoyés :</strong> aucun fournisseur &lt;SMS&gt;."
        ));
        assert!(html.contains("Notification adressée à 3 personnes"));
        assert!(html.contains("action=\"/admin/m/test/a1/lever\""));
        assert!(html.contains("href=\"/m/test/a1\""));
        assert!(
            !show(&req, &doc(), &report, false, NOW)
                .into_string()
                .contains("/lever")
        );
        assert!(
            !show(&req, &doc(), &report, true, NOW + 1_000)
                .into_string()
                .contains("/lever")
        );
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
        let html = new_form(&req, &form, &errors).into_string();
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
