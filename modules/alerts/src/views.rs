//! Public HTML fragments (French, no JavaScript), and the helpers the admin pages share, as
//! maud templates: every value they splice is escaped.

use crate::form::{FieldError, SmsForm};
use crate::model::{Alert, Severity};
use crate::phone;
use crate::time::{format_fr, iso_utc};
use parvis_module_sdk::Request;
use parvis_module_sdk::html::{Markup, empty, error_summary, field, html, paragraphs};
use parvis_module_sdk::store::Doc;

/// A `<time>` element in French, Paris time.
pub fn time(ms: i64) -> Markup {
    html! { time datetime=(iso_utc(ms)) { (format_fr(ms)) } }
}

/// An alert's frame: an `<article>` with a left border in the severity's colour, from the
/// host's design system (`.alert-information`, `.alert-vigilance`, `.alert-urgence`; see
/// `/composants`): the colour only repeats the severity written inside.
pub fn framed(severity: Severity, content: Markup) -> Markup {
    html! {
        article class={ "alert alert-" (severity.value()) } {
            (content)
        }
    }
}

/// The severity in words.
pub fn severity(severity: Severity) -> Markup {
    html! { strong class="alert-severity" { (severity.label()) } }
}

/// "Urgence · Eau et énergie · Zone : Rue de Rivoli".
pub fn facts(alert: &Alert) -> Markup {
    html! {
        (severity(alert.severity)) " · " (alert.category.label())
        " · Zone : " (alert.zone_label())
    }
}

/// "En vigueur jusqu'au …", "Levée le …" or "Terminée le …".
pub fn status_line(alert: &Alert, now: i64) -> Markup {
    if alert.is_current(now) {
        html! { "En vigueur jusqu'au " (time(alert.expires_at)) }
    } else if let Some(at) = alert.lifted_at {
        html! { "Levée le " (time(at)) }
    } else {
        html! { "Terminée le " (time(alert.expires_at)) }
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

fn current_item(req: &Request, doc: &Doc<Alert>, now: i64) -> Markup {
    let alert = &doc.value;
    framed(
        alert.severity,
        html! {
            h3 { a href=(req.link(&format!("/{}", doc.key))) { (alert.title) } }
            p { (facts(alert)) br; (status_line(alert, now)) }
            (paragraphs(&alert.message))
        },
    )
}

fn history_item(req: &Request, doc: &Doc<Alert>, now: i64) -> Markup {
    let alert = &doc.value;
    html! {
        li {
            a href=(req.link(&format!("/{}", doc.key))) { (alert.title) }
            br;
            small { (facts(alert)) " · " (status_line(alert, now)) }
        }
    }
}

/// The public list: current alerts (first page only) and a page of the history.
pub fn index(
    req: &Request,
    current: Option<&[Doc<Alert>]>,
    history: &[Doc<Alert>],
    next: Option<&str>,
    now: i64,
) -> Markup {
    html! {
        h1 { "Alertes" }
        @match current {
            Some(current) => {
                p {
                    "Les alertes publiées par " (req.commune.name) " : météo, travaux, \
                     circulation, sécurité, santé, eau et énergie. "
                    a href=(req.link("/sms")) { "Recevoir les alertes par SMS" } "."
                }
                section aria-labelledby="current-title" {
                    h2 id="current-title" { "Alertes en cours" }
                    @if current.is_empty() {
                        (empty("Aucune alerte en cours."))
                    }
                    @for doc in current {
                        (current_item(req, doc, now))
                    }
                }
            },
            None => p {
                a href=(req.link("/")) { "Alertes en cours et historique récent" }
            },
        }
        section aria-labelledby="history-title" {
            h2 id="history-title" { "Historique" }
            @if history.is_empty() {
                (empty("Aucune alerte passée."))
            } @else {
                ul {
                    @for doc in history {
                        (history_item(req, doc, now))
                    }
                }
            }
            @if let Some(next) = next {
                // Cursors are ending keys (digits, hex and dashes): nothing to percent-encode.
                nav aria-label="Pages de l'historique" {
                    p { a href=(req.link(&format!("/?apres={next}"))) { "Alertes plus anciennes" } }
                }
            }
        }
    }
}

/// An alert's page head, public and in the back-office: the way back to the list, then the
/// alert framed in its severity's colour with its facts, its status and its message.
pub fn alert_card(req: &Request, alert: &Alert, now: i64) -> Markup {
    html! {
        p { a href=(req.link("/")) { "Toutes les alertes" } }
        (framed(alert.severity, html! {
            h1 { (alert.title) }
            p {
                (facts(alert)) br;
                (status_line(alert, now)) br;
                "Publiée le " (time(alert.created_at))
            }
            (paragraphs(&alert.message))
        }))
    }
}

/// The public page of an alert.
pub fn show(req: &Request, doc: &Doc<Alert>, now: i64) -> Markup {
    let alert = &doc.value;
    html! {
        (alert_card(req, alert, now))
        p { a href=(req.link("/sms")) { "Recevoir les alertes par SMS" } }
    }
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
) -> Markup {
    let action = match (state.confirmed, state.pending) {
        (_, Some(_)) => "Recevoir un code pour un autre numéro",
        (Some(_), None) => "Changer de numéro",
        (None, None) => "S'inscrire",
    };
    let phone = field(errors, "phone");
    let consent = field(errors, "consent");
    // The consent refers to the sentence on data use: tie them for screen readers.
    let consent_described = match consent.error_id() {
        Some(error) => format!("{error} data-use"),
        None => "data-use".to_owned(),
    };
    html! {
        p { a href=(req.link("/")) { "Toutes les alertes" } }
        h1 { "Alertes par SMS" }
        p { "Recevez les alertes " (req.commune.de()) " par SMS sur votre téléphone mobile." }
        p id="data-use" {
            "Votre numéro sert uniquement à vous envoyer les alertes de la commune. Il n'est ni \
             affiché ni utilisé à d'autres fins ; il est transmis au prestataire d'envoi des SMS \
             pour le seul acheminement des messages. Vous pouvez le supprimer à tout moment sur \
             cette page."
        }
        @if let Some(number) = state.confirmed {
            section aria-labelledby="subscription-title" {
                h2 id="subscription-title" { "Votre inscription" }
                p {
                    "Vous recevez les alertes par SMS au " strong { (phone::display(number)) } "."
                }
                form method="post" action=(req.link("/sms/supprimer")) {
                    (req.csrf_field())
                    p { button type="submit" { "Supprimer mon numéro" } }
                }
            }
        }
        @if let Some(number) = state.pending {
            section aria-labelledby="code-title" {
                h2 id="code-title" { "Confirmer votre numéro" }
                p {
                    "Un code à six chiffres a été envoyé par SMS au "
                    strong { (phone::display(number)) }
                    ". Ce numéro ne recevra les alertes qu'une fois le code saisi (il est valable \
                     15 minutes)."
                }
                form method="post" action=(req.link("/sms/code")) {
                    (req.csrf_field())
                    p {
                        label for="code" { "Code reçu par SMS" }
                        br;
                        input type="text" id="code" name="code" inputmode="numeric"
                            autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="10" size="8"
                            required;
                    }
                    p { button type="submit" { "Confirmer" } }
                }
            }
        }
        section aria-labelledby="form-title" {
            h2 id="form-title" { (action) }
            (error_summary(
                "Votre numéro n'a pas été enregistré : corrigez les points suivants.",
                errors,
            ))
            form method="post" action=(req.link("/sms")) {
                (req.csrf_field())
                p {
                    label for="phone" { "Numéro de mobile (06, 07, +33 6 ou +33 7)" }
                    br;
                    (phone.error())
                    input type="tel" id="phone" name="phone" autocomplete="tel" required size="20"
                        maxlength="30" value=(form.phone)
                        aria-invalid=[phone.invalid()] aria-describedby=[phone.error_id()];
                }
                (consent.error())
                p {
                    input type="checkbox" id="consent" name="consent" value="oui" required
                        checked[form.consent] aria-invalid=[consent.invalid()]
                        aria-describedby=(consent_described);
                    " "
                    label for="consent" {
                        "J'accepte de recevoir par SMS les alertes de la commune à ce numéro, dans \
                         les conditions décrites ci-dessus."
                    }
                }
                p { "Un code de confirmation vous sera envoyé par SMS à ce numéro." }
                p { button type="submit" { (action) } }
            }
        }
    }
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
        let html = index(&req, Some(&current), &[past], Some("123-abc"), NOW).into_string();
        assert!(html.contains("<strong class=\"alert-severity\">Urgence</strong> · Circulation · Zone : Toute la commune"), "{html}");
        assert!(html.contains("Route &lt;barrée&gt;"));
        assert!(html.contains("<p>Déviation par la D7.</p><p>Merci.</p>"));
        assert!(html.contains("Levée le <time"));
        assert!(html.contains("href=\"/m/test?apres=123-abc\""));
        assert!(html.contains("href=\"/m/test/a1\""));
        let later = index(&req, None, &[], None, NOW).into_string();
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
        let html = sms_page(&req, SmsState::default(), &SmsForm::default(), &[]).into_string();
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
        let html = sms_page(&req, state, &form, &errors).into_string();
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
