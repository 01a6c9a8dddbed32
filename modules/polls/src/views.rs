//! HTML fragments (French, no JavaScript), as maud templates: every value they splice is
//! escaped.

use crate::form::{FieldError, PollForm, QUESTION_MAX};
use crate::model::{Audience, Poll, Results, Status, percent_dot, percent_fr, voters_fr};
use crate::service::Eligibility;
use crate::time::{format_fr, to_iso_utc};
use parvis_module_sdk::Request;
use parvis_module_sdk::html::{Markup, error_summary, field, html, paragraphs, table_head};
use parvis_module_sdk::store::Doc;

/// A poll with its tally, for listings.
pub type Listed = (Doc<Poll>, Results);

fn time(ms: i64) -> Markup {
    html! { time datetime=(to_iso_utc(ms)) { (format_fr(ms)) } }
}

/// "Ouvert jusqu'au …", "Ouvre le …", "Clos le …".
fn status_line(poll: &Poll, now: i64) -> Markup {
    match poll.status(now) {
        Status::Open => html! { "En cours, jusqu'au " (time(poll.closes_at)) },
        Status::Upcoming => html! { "À venir, ouverture le " (time(poll.opens_at)) },
        Status::Closed => html! { "Clos le " (time(poll.ends_at())) },
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Open => "En cours",
        Status::Upcoming => "À venir",
        Status::Closed => "Clos",
    }
}

fn terms(poll: &Poll) -> String {
    let mut terms = vec![if poll.multiple {
        "Plusieurs réponses possibles"
    } else {
        "Une seule réponse possible"
    }];
    terms.push(if poll.anonymous {
        "vote anonyme"
    } else {
        "vote nominatif (votre nom est enregistré avec votre vote)"
    });
    if poll.audience == Audience::Residents {
        terms.push("réservé aux habitants vérifiés par la commune");
    }
    format!("{}.", terms.join(", "))
}

/// The list's sections: status, anchor, heading, and what to say when it is empty.
const SECTIONS: [(Status, &str, &str, &str); 3] = [
    (
        Status::Open,
        "polls-open",
        "En cours",
        "Aucun sondage en cours.",
    ),
    (
        Status::Upcoming,
        "polls-upcoming",
        "À venir",
        "Aucun sondage à venir.",
    ),
    (
        Status::Closed,
        "polls-closed",
        "Clos",
        "Aucun sondage clos.",
    ),
];

/// The public list: the commune's introduction, if any, then open, upcoming and closed polls.
pub fn public_index(req: &Request, polls: &[Listed], now: i64, intro: Option<&str>) -> Markup {
    html! {
        h1 { "Sondages" }
        @if let Some(intro) = intro {
            p class="intro" { (intro) }
        }
        @for (status, anchor, heading, none) in SECTIONS {
            @let items: Vec<&Listed> = polls
                .iter()
                .filter(|(doc, _)| doc.value.status(now) == status)
                .collect();
            section aria-labelledby=(anchor) {
                h2 id=(anchor) { (heading) }
                @if items.is_empty() {
                    p { (none) }
                } @else {
                    ul {
                        @for (doc, results) in items {
                            li {
                                a href=(req.link(&format!("/{}", doc.key))) { (doc.value.question) }
                                br;
                                small {
                                    (status_line(&doc.value, now))
                                    @if status != Status::Upcoming {
                                        " · " (voters_fr(results.voters))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The tally as an accessible bar chart: the text carries the numbers, the bars are decoration.
pub fn results(poll: &Poll, results: &Results, now: i64) -> Markup {
    let heading = if poll.status(now) == Status::Closed {
        "Résultats"
    } else {
        "Résultats provisoires"
    };
    html! {
        section aria-labelledby="results-title" {
            h2 id="results-title" { (heading) }
            p {
                (voters_fr(results.voters)) "."
                @if poll.multiple {
                    " Plusieurs réponses étant possibles, le total peut dépasser 100 %."
                }
            }
            ul style="list-style:none;padding:0" {
                @for (i, option) in poll.options.iter().enumerate() {
                    @let votes = results.votes.get(i).copied().unwrap_or(0);
                    @let share = results.per_mille(i);
                    li style="margin:0 0 .75rem" {
                        (option) " : " strong { (votes) " voix" } " (" (percent_fr(share)) " %)"
                        div aria-hidden="true"
                            style="background:#e5e7eb;border-radius:.25rem;height:.75rem" {
                            div style={
                                "width:" (percent_dot(share))
                                "%;height:100%;background:#1f4e8c;border-radius:.25rem"
                            } {}
                        }
                    }
                }
            }
        }
    }
}

fn vote_form(req: &Request, id: &str, poll: &Poll, error: Option<&str>) -> Markup {
    let (kind, hint) = if poll.multiple {
        ("checkbox", "Cochez une ou plusieurs réponses.")
    } else {
        ("radio", "Choisissez une réponse.")
    };
    html! {
        form method="post" action=(req.link(&format!("/{id}/vote"))) {
            (req.csrf_field())
            fieldset aria-describedby="vote-hint" {
                legend { "Votre réponse" }
                p id="vote-hint" { (hint) }
                @if let Some(error) = error {
                    p id="vote-error" role="alert" { strong { (error) } }
                }
                @for (i, option) in poll.options.iter().enumerate() {
                    div {
                        input type=(kind) name="option" id={ "option-" (i) } value=(i)
                            required[!poll.multiple];
                        " "
                        label for={ "option-" (i) } { (option) }
                    }
                }
            }
            p { button type="submit" { "Voter" } }
        }
    }
}

/// The public page of a poll.
pub fn public_show(
    req: &Request,
    doc: &Doc<Poll>,
    tally: &Results,
    now: i64,
    eligibility: Eligibility,
    error: Option<&str>,
) -> Markup {
    let poll = &doc.value;
    html! {
        p { a href=(req.link("/")) { "Tous les sondages" } }
        h1 { (poll.question) }
        p { (status_line(poll, now)) "." br; (terms(poll)) }
        (paragraphs(&poll.description))
        @match eligibility {
            Eligibility::CanVote => (vote_form(req, &doc.key, poll, error)),
            Eligibility::AlreadyVoted => p {
                strong { "Vous avez voté à ce sondage." } " Merci de votre participation."
            },
            Eligibility::MustSignIn => p {
                a href="/connexion" { "Connectez-vous pour voter" } "."
            },
            Eligibility::ResidentsOnly => p {
                "Ce sondage est réservé aux habitants dont la résidence a été vérifiée par la \
                 commune."
            },
            Eligibility::NotOpen => {},
        }
        @if poll.status(now) == Status::Upcoming {
            section aria-labelledby="options-title" {
                h2 id="options-title" { "Réponses proposées" }
                ul {
                    @for option in &poll.options {
                        li { (option) }
                    }
                }
            }
        } @else {
            (results(poll, tally, now))
        }
    }
}

/// The admin list, with participation and links.
pub fn admin_index(req: &Request, polls: &[Listed], now: i64, can_manage: bool) -> Markup {
    html! {
        h1 { "Sondages" }
        @if can_manage {
            p { a href=(req.link("/new")) { "Créer un sondage" } }
        }
        @if polls.is_empty() {
            p { "Aucun sondage pour le moment." }
        } @else {
            table {
                (table_head(Some("Tous les sondages, du plus récent au plus ancien"), &["Question", "Statut", "Ouverture", "Clôture", "Votants"]))
                tbody {
                    @for (doc, results) in polls {
                        @let poll = &doc.value;
                        tr {
                            th scope="row" {
                                a href=(req.link(&format!("/{}", doc.key))) { (poll.question) }
                            }
                            td { (status_word(poll.status(now))) }
                            td { (time(poll.opens_at)) }
                            td { (time(poll.ends_at())) }
                            td { (results.voters) }
                        }
                    }
                }
            }
        }
    }
}

/// The admin page of a poll: results, exports, closing.
pub fn admin_show(
    req: &Request,
    doc: &Doc<Poll>,
    tally: &Results,
    now: i64,
    can_manage: bool,
) -> Markup {
    let poll = &doc.value;
    let id = &doc.key;
    let public = req.base.strip_prefix("/admin").unwrap_or(&req.base);
    html! {
        p { a href=(req.link("/")) { "Tous les sondages" } }
        h1 { (poll.question) }
        p { (status_line(poll, now)) "." br; (terms(poll)) }
        (paragraphs(&poll.description))
        p { a href={ (public.trim_end_matches('/')) "/" (id) } { "Voir la page publique" } }
        (results(poll, tally, now))
        h2 { "Exports" }
        ul {
            li { a href=(req.link(&format!("/{id}/resultats.csv"))) { "Résultats (CSV)" } }
            @if !poll.anonymous {
                li {
                    a href=(req.link(&format!("/{id}/votants.csv"))) { "Liste des votants (CSV)" }
                }
            }
        }
        @if can_manage && !(poll.closed_at.is_some() && poll.published) {
            h2 { "Clôturer" }
            form method="post" action=(req.link(&format!("/{id}/close"))) {
                (req.csrf_field())
                p {
                    "La clôture arrête le vote immédiatement et publie les résultats dans le fil \
                     de la commune."
                }
                p { button type="submit" { "Clôturer et publier les résultats" } }
            }
        }
    }
}

fn radios(
    name: &str,
    legend: &str,
    current: &str,
    choices: &[(&str, &str)],
    errors: &[FieldError],
) -> Markup {
    let status = field(errors, name);
    html! {
        fieldset id=(name) aria-describedby=[status.error_id()] {
            legend { (legend) }
            (status.error())
            @for (value, label) in choices {
                div {
                    input type="radio" name=(name) id={ (name) "-" (value) } value=(value)
                        checked[*value == current];
                    " "
                    label for={ (name) "-" (value) } { (label) }
                }
            }
        }
    }
}

/// The "new poll" form, empty or re-rendered with its errors.
pub fn new_form(req: &Request, form: &PollForm, errors: &[FieldError]) -> Markup {
    let question = field(errors, "question");
    let description = field(errors, "description");
    let options = field(errors, "options");
    let opens_at = field(errors, "opens_at");
    let closes_at = field(errors, "closes_at");
    html! {
        h1 { "Nouveau sondage" }
        (error_summary("Le sondage n'a pas été créé : corrigez les points suivants.", errors))
        form method="post" action=(req.link("/new")) {
            (req.csrf_field())
            p {
                label for="question" {
                    "Question (obligatoire, " (QUESTION_MAX) " caractères au plus)"
                }
                br;
                (question.error())
                input type="text" id="question" name="question" maxlength=(QUESTION_MAX)
                    size="60" required value=(form.question)
                    aria-invalid=[question.invalid()] aria-describedby=[question.error_id()];
            }
            p {
                label for="description" { "Description (facultative)" }
                br;
                (description.error())
                textarea id="description" name="description" rows="4" cols="60"
                    aria-invalid=[description.invalid()]
                    aria-describedby=[description.error_id()] { (form.description) }
            }
            p {
                label for="options" { "Réponses proposées, une par ligne (de 2 à 20)" }
                br;
                (options.error())
                textarea id="options" name="options" rows="6" cols="60" required
                    aria-invalid=[options.invalid()]
                    aria-describedby=[options.error_id()] { (form.options) }
            }
            (radios(
                "kind",
                "Type de réponse",
                &form.kind,
                &[
                    ("single", "Une seule réponse"),
                    ("multiple", "Plusieurs réponses possibles"),
                ],
                errors,
            ))
            p {
                label for="opens_at" { "Ouverture (heure de Paris ; vide = maintenant)" }
                br;
                (opens_at.error())
                input type="datetime-local" id="opens_at" name="opens_at" value=(form.opens_at)
                    aria-invalid=[opens_at.invalid()] aria-describedby=[opens_at.error_id()];
            }
            p {
                label for="closes_at" { "Clôture (heure de Paris, obligatoire)" }
                br;
                (closes_at.error())
                input type="datetime-local" id="closes_at" name="closes_at" required
                    value=(form.closes_at)
                    aria-invalid=[closes_at.invalid()] aria-describedby=[closes_at.error_id()];
            }
            (radios(
                "secrecy",
                "Secret du vote",
                &form.secrecy,
                &[
                    (
                        "anonymous",
                        "Anonyme : personne ne peut savoir qui a voté quoi",
                    ),
                    (
                        "named",
                        "Nominatif : le nom de chaque votant est enregistré avec son vote",
                    ),
                ],
                errors,
            ))
            (radios(
                "audience",
                "Qui peut voter ?",
                &form.audience,
                &[
                    ("everyone", "Toute personne connectée"),
                    ("residents", "Les habitants vérifiés par la commune"),
                ],
                errors,
            ))
            p { button type="submit" { "Créer le sondage" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Audience;

    const NOW: i64 = 1_768_478_400_000;

    fn doc(multiple: bool) -> Doc<Poll> {
        Doc {
            key: "p1".into(),
            value: Poll {
                question: "Un <b>parc</b> ?".into(),
                description: "Ligne 1\nLigne 2\n\nAutre paragraphe".into(),
                options: vec!["Oui".into(), "Non & pourquoi".into()],
                multiple,
                anonymous: true,
                audience: Audience::Residents,
                opens_at: NOW - 1_000,
                closes_at: NOW + 1_000,
                closed_at: None,
                published: false,
                salt: String::new(),
                created_by: "a".into(),
            },
            version: 1,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn tally() -> Results {
        Results {
            voters: 3,
            votes: vec![2, 1],
        }
    }

    #[test]
    fn vote_form_is_labelled_escaped_and_protected() {
        let req = Request::new("GET", "/p1").signed_in("acc", "Alice");
        let html =
            public_show(&req, &doc(false), &tally(), NOW, Eligibility::CanVote, None).into_string();
        assert!(
            html.contains("<h1>Un &lt;b&gt;parc&lt;/b&gt; ?</h1>"),
            "{html}"
        );
        assert!(html.contains(r#"action="/m/test/p1/vote""#));
        assert!(html.contains(r#"name="csrf_token" value="csrf-test""#));
        assert!(html.contains("<legend>Votre réponse</legend>"));
        assert!(html.contains(r#"<input type="radio" name="option" id="option-1" value="1" required> <label for="option-1">Non &amp; pourquoi</label>"#));
        assert!(html.contains("<p>Ligne 1<br>Ligne 2</p><p>Autre paragraphe</p>"));
        assert!(html.contains("<strong>2 voix</strong> (66,7 %)"));
        assert!(html.contains("width:66.7%"));
        assert!(html.contains("réservé aux habitants vérifiés"));
    }

    #[test]
    fn anonymous_visitors_get_results_and_a_sign_in_link() {
        let req = Request::new("GET", "/p1");
        let html = public_show(
            &req,
            &doc(true),
            &tally(),
            NOW,
            Eligibility::MustSignIn,
            None,
        )
        .into_string();
        assert!(!html.contains("<form"));
        assert!(html.contains(r#"<a href="/connexion">Connectez-vous pour voter</a>"#));
        assert!(html.contains("Résultats provisoires"));
        assert!(html.contains("le total peut dépasser 100 %"));
    }

    #[test]
    fn listing_sorts_polls_by_status() {
        let req = Request::new("GET", "/");
        let open = doc(false);
        let mut closed = doc(false);
        closed.key = "p0".into();
        closed.value.closed_at = Some(NOW - 10);
        let html =
            public_index(&req, &[(open, tally()), (closed, tally())], NOW, None).into_string();
        let at = |needle: &str| {
            html.find(needle)
                .unwrap_or_else(|| panic!("« {needle} » is missing: {html}"))
        };
        // En cours (the open poll), then « à venir » (none), then the closed poll.
        assert!(at("En cours</h2>") < at("/m/test/p1"));
        assert!(at("/m/test/p1") < at("Aucun sondage à venir."));
        assert!(at("Aucun sondage à venir.") < at("/m/test/p0"));
    }

    #[test]
    fn the_communes_introduction_follows_the_heading() {
        let req = Request::new("GET", "/");
        let html = public_index(&req, &[], NOW, Some("Votez <b>ici</b>")).into_string();
        assert!(
            html.starts_with(
                "<h1>Sondages</h1><p class=\"intro\">Votez &lt;b&gt;ici&lt;/b&gt;</p><section "
            ),
            "{html}"
        );
        let plain = public_index(&req, &[], NOW, None).into_string();
        assert!(plain.starts_with("<h1>Sondages</h1><section "), "{plain}");
    }

    #[test]
    fn new_form_shows_errors_next_to_their_fields() {
        let req = Request::new("POST", "/new").as_admin();
        let form = PollForm {
            question: "\"Q\"".into(),
            ..PollForm::blank(NOW)
        };
        let errors = vec![("options", "Indiquez des réponses.".to_owned())];
        let html = new_form(&req, &form, &errors).into_string();
        assert!(html.contains(r#"action="/admin/m/test/new""#));
        assert!(html.contains(r##"<a href="#options">Indiquez des réponses.</a>"##));
        assert!(html.contains(r#"aria-invalid="true" aria-describedby="options-error""#));
        assert!(html.contains(r#"value="&quot;Q&quot;""#));
        assert!(html.contains(r#"id="kind-single" value="single" checked"#));
        assert!(html.contains(r#"<label for="closes_at">"#));
    }
}
