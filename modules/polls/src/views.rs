//! HTML fragments (French, no JavaScript). Every dynamic value goes through `Esc`.

use crate::form::{FieldError, PollForm, QUESTION_MAX};
use crate::model::{Audience, Poll, Results, Status, percent_dot, percent_fr, voters_fr};
use crate::service::Eligibility;
use crate::time::{format_fr, to_iso_utc};
use parvis_module_sdk::Request;
use parvis_module_sdk::html::{self, Esc, field_error, paragraphs};
use parvis_module_sdk::store::Doc;

/// A poll with its tally, for listings.
pub type Listed = (Doc<Poll>, Results);

fn time(ms: i64) -> String {
    format!(
        r#"<time datetime="{}">{}</time>"#,
        to_iso_utc(ms),
        Esc(&format_fr(ms))
    )
}

/// "Ouvert jusqu'au …", "Ouvre le …", "Clos le …".
fn status_line(poll: &Poll, now: i64) -> String {
    match poll.status(now) {
        Status::Open => format!("En cours, jusqu'au {}", time(poll.closes_at)),
        Status::Upcoming => format!("À venir, ouverture le {}", time(poll.opens_at)),
        Status::Closed => format!("Clos le {}", time(poll.ends_at())),
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

/// The public list: open, upcoming and closed polls.
pub fn public_index(req: &Request, polls: &[Listed], now: i64) -> String {
    let mut html = String::from("<h1>Sondages</h1>\n");
    let sections = [
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
    for (status, anchor, heading, none) in sections {
        html.push_str(&format!(
            "<section aria-labelledby=\"{anchor}\">\n<h2 id=\"{anchor}\">{heading}</h2>\n"
        ));
        let items: Vec<&Listed> = polls
            .iter()
            .filter(|(doc, _)| doc.value.status(now) == status)
            .collect();
        if items.is_empty() {
            html.push_str(&format!("<p>{none}</p>\n"));
        } else {
            html.push_str("<ul>\n");
            for (doc, results) in items {
                let participation = if status == Status::Upcoming {
                    String::new()
                } else {
                    format!(" · {}", voters_fr(results.voters))
                };
                html.push_str(&format!(
                    "<li><a href=\"{}\">{}</a><br>\n<small>{}{participation}</small></li>\n",
                    Esc(&req.link(&format!("/{}", doc.key))),
                    Esc(&doc.value.question),
                    status_line(&doc.value, now),
                ));
            }
            html.push_str("</ul>\n");
        }
        html.push_str("</section>\n");
    }
    html
}

/// The tally as an accessible bar chart: the text carries the numbers, the bars are decoration.
pub fn results(poll: &Poll, results: &Results, now: i64) -> String {
    let heading = if poll.status(now) == Status::Closed {
        "Résultats"
    } else {
        "Résultats provisoires"
    };
    let mut html = format!(
        "<section aria-labelledby=\"results-title\">\n<h2 id=\"results-title\">{heading}</h2>\n\
         <p>{}.{}</p>\n<ul style=\"list-style:none;padding:0\">\n",
        voters_fr(results.voters),
        if poll.multiple {
            " Plusieurs réponses étant possibles, le total peut dépasser 100 %."
        } else {
            ""
        }
    );
    for (i, option) in poll.options.iter().enumerate() {
        let votes = results.votes.get(i).copied().unwrap_or(0);
        let share = results.per_mille(i);
        html.push_str(&format!(
            "<li style=\"margin:0 0 .75rem\">{} : <strong>{votes} voix</strong> ({} %)\n\
             <div aria-hidden=\"true\" style=\"background:#e5e7eb;border-radius:.25rem;height:.75rem\">\
             <div style=\"width:{}%;height:100%;background:#1f4e8c;border-radius:.25rem\"></div></div></li>\n",
            Esc(option),
            percent_fr(share),
            percent_dot(share),
        ));
    }
    html.push_str("</ul>\n</section>\n");
    html
}

fn vote_form(req: &Request, id: &str, poll: &Poll, error: Option<&str>) -> String {
    let (kind, hint) = if poll.multiple {
        ("checkbox", "Cochez une ou plusieurs réponses.")
    } else {
        ("radio", "Choisissez une réponse.")
    };
    let mut html = format!(
        "<form method=\"post\" action=\"{}\">\n{}\n<fieldset aria-describedby=\"vote-hint\">\n\
         <legend>Votre réponse</legend>\n<p id=\"vote-hint\">{hint}</p>\n",
        Esc(&req.link(&format!("/{id}/vote"))),
        req.csrf_field(),
    );
    if let Some(error) = error {
        html.push_str(&format!(
            "<p id=\"vote-error\" role=\"alert\"><strong>{}</strong></p>\n",
            Esc(error)
        ));
    }
    let required = if poll.multiple { "" } else { " required" };
    for (i, option) in poll.options.iter().enumerate() {
        html.push_str(&format!(
            "<div><input type=\"{kind}\" name=\"option\" id=\"option-{i}\" value=\"{i}\"{required}> \
             <label for=\"option-{i}\">{}</label></div>\n",
            Esc(option)
        ));
    }
    html.push_str("</fieldset>\n<p><button type=\"submit\">Voter</button></p>\n</form>\n");
    html
}

/// The public page of a poll.
pub fn public_show(
    req: &Request,
    doc: &Doc<Poll>,
    tally: &Results,
    now: i64,
    eligibility: Eligibility,
    error: Option<&str>,
) -> String {
    let poll = &doc.value;
    let mut html = format!(
        "<p><a href=\"{}\">Tous les sondages</a></p>\n<h1>{}</h1>\n<p>{}.<br>\n{}</p>\n{}",
        Esc(&req.link("/")),
        Esc(&poll.question),
        status_line(poll, now),
        terms(poll),
        paragraphs(&poll.description),
    );
    match eligibility {
        Eligibility::CanVote => html.push_str(&vote_form(req, &doc.key, poll, error)),
        Eligibility::AlreadyVoted => html.push_str("<p><strong>Vous avez voté à ce sondage.</strong> Merci de votre participation.</p>\n"),
        Eligibility::MustSignIn => html.push_str(
            "<p><a href=\"/connexion\">Connectez-vous pour voter</a>.</p>\n",
        ),
        Eligibility::ResidentsOnly => html.push_str(
            "<p>Ce sondage est réservé aux habitants dont la résidence a été vérifiée par la commune.</p>\n",
        ),
        Eligibility::NotOpen => {}
    }
    if poll.status(now) == Status::Upcoming {
        html.push_str(
            "<section aria-labelledby=\"options-title\">\n<h2 id=\"options-title\">Réponses proposées</h2>\n<ul>\n",
        );
        for option in &poll.options {
            html.push_str(&format!("<li>{}</li>\n", Esc(option)));
        }
        html.push_str("</ul>\n</section>\n");
    } else {
        html.push_str(&results(poll, tally, now));
    }
    html
}

/// The admin list, with participation and links.
pub fn admin_index(req: &Request, polls: &[Listed], now: i64, can_manage: bool) -> String {
    let mut html = String::from("<h1>Sondages</h1>\n");
    if can_manage {
        html.push_str(&format!(
            "<p><a href=\"{}\">Créer un sondage</a></p>\n",
            Esc(&req.link("/new"))
        ));
    }
    if polls.is_empty() {
        html.push_str("<p>Aucun sondage pour le moment.</p>\n");
        return html;
    }
    html.push_str(
        "<table>\n<caption>Tous les sondages, du plus récent au plus ancien</caption>\n<thead><tr>\
         <th scope=\"col\">Question</th><th scope=\"col\">Statut</th><th scope=\"col\">Ouverture</th>\
         <th scope=\"col\">Clôture</th><th scope=\"col\">Votants</th></tr></thead>\n<tbody>\n",
    );
    for (doc, results) in polls {
        let poll = &doc.value;
        html.push_str(&format!(
            "<tr><th scope=\"row\"><a href=\"{}\">{}</a></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            Esc(&req.link(&format!("/{}", doc.key))),
            Esc(&poll.question),
            status_word(poll.status(now)),
            time(poll.opens_at),
            time(poll.ends_at()),
            results.voters,
        ));
    }
    html.push_str("</tbody>\n</table>\n");
    html
}

/// The admin page of a poll: results, exports, closing.
pub fn admin_show(
    req: &Request,
    doc: &Doc<Poll>,
    tally: &Results,
    now: i64,
    can_manage: bool,
) -> String {
    let poll = &doc.value;
    let id = &doc.key;
    let public = req.base.strip_prefix("/admin").unwrap_or(&req.base);
    let mut html = format!(
        "<p><a href=\"{}\">Tous les sondages</a></p>\n<h1>{}</h1>\n<p>{}.<br>\n{}</p>\n{}\
         <p><a href=\"{}/{}\">Voir la page publique</a></p>\n",
        Esc(&req.link("/")),
        Esc(&poll.question),
        status_line(poll, now),
        terms(poll),
        paragraphs(&poll.description),
        Esc(public.trim_end_matches('/')),
        Esc(id),
    );
    html.push_str(&results(poll, tally, now));
    html.push_str(&format!(
        "<h2>Exports</h2>\n<ul>\n<li><a href=\"{}\">Résultats (CSV)</a></li>\n",
        Esc(&req.link(&format!("/{id}/resultats.csv")))
    ));
    if !poll.anonymous {
        html.push_str(&format!(
            "<li><a href=\"{}\">Liste des votants (CSV)</a></li>\n",
            Esc(&req.link(&format!("/{id}/votants.csv")))
        ));
    }
    html.push_str("</ul>\n");
    if can_manage && !(poll.closed_at.is_some() && poll.published) {
        html.push_str(&format!(
            "<h2>Clôturer</h2>\n<form method=\"post\" action=\"{}\">\n{}\n\
             <p>La clôture arrête le vote immédiatement et publie les résultats dans le fil de la commune.</p>\n\
             <p><button type=\"submit\">Clôturer et publier les résultats</button></p>\n</form>\n",
            Esc(&req.link(&format!("/{id}/close"))),
            req.csrf_field(),
        ));
    }
    html
}

fn radios(
    name: &str,
    legend: &str,
    current: &str,
    choices: &[(&str, &str)],
    errors: &[FieldError],
) -> String {
    let (error, _) = field_error(errors, name);
    let described = if error.is_empty() {
        String::new()
    } else {
        format!(" aria-describedby=\"{name}-error\"")
    };
    let mut html =
        format!("<fieldset id=\"{name}\"{described}>\n<legend>{legend}</legend>\n{error}");
    for (value, label) in choices {
        let checked = if *value == current { " checked" } else { "" };
        html.push_str(&format!(
            "<div><input type=\"radio\" name=\"{name}\" id=\"{name}-{value}\" value=\"{value}\"{checked}> \
             <label for=\"{name}-{value}\">{label}</label></div>\n"
        ));
    }
    html.push_str("</fieldset>\n");
    html
}

/// The "new poll" form, empty or re-rendered with its errors.
pub fn new_form(req: &Request, form: &PollForm, errors: &[FieldError]) -> String {
    let mut html = String::from("<h1>Nouveau sondage</h1>\n");
    html.push_str(&html::error_summary(
        "Le sondage n'a pas été créé : corrigez les points suivants.",
        errors,
    ));
    html.push_str(&format!(
        "<form method=\"post\" action=\"{}\">\n{}\n",
        Esc(&req.link("/new")),
        req.csrf_field()
    ));

    let (error, attrs) = field_error(errors, "question");
    html.push_str(&format!(
        "<p><label for=\"question\">Question (obligatoire, {QUESTION_MAX} caractères au plus)</label><br>\n\
         {error}<input type=\"text\" id=\"question\" name=\"question\" maxlength=\"{QUESTION_MAX}\" size=\"60\" required value=\"{}\"{attrs}></p>\n",
        Esc(&form.question)
    ));
    let (error, attrs) = field_error(errors, "description");
    html.push_str(&format!(
        "<p><label for=\"description\">Description (facultative)</label><br>\n\
         {error}<textarea id=\"description\" name=\"description\" rows=\"4\" cols=\"60\"{attrs}>{}</textarea></p>\n",
        Esc(&form.description)
    ));
    let (error, attrs) = field_error(errors, "options");
    html.push_str(&format!(
        "<p><label for=\"options\">Réponses proposées, une par ligne (de 2 à 20)</label><br>\n\
         {error}<textarea id=\"options\" name=\"options\" rows=\"6\" cols=\"60\" required{attrs}>{}</textarea></p>\n",
        Esc(&form.options)
    ));
    html.push_str(&radios(
        "kind",
        "Type de réponse",
        &form.kind,
        &[
            ("single", "Une seule réponse"),
            ("multiple", "Plusieurs réponses possibles"),
        ],
        errors,
    ));
    let (error, attrs) = field_error(errors, "opens_at");
    html.push_str(&format!(
        "<p><label for=\"opens_at\">Ouverture (heure de Paris ; vide = maintenant)</label><br>\n\
         {error}<input type=\"datetime-local\" id=\"opens_at\" name=\"opens_at\" value=\"{}\"{attrs}></p>\n",
        Esc(&form.opens_at)
    ));
    let (error, attrs) = field_error(errors, "closes_at");
    html.push_str(&format!(
        "<p><label for=\"closes_at\">Clôture (heure de Paris, obligatoire)</label><br>\n\
         {error}<input type=\"datetime-local\" id=\"closes_at\" name=\"closes_at\" required value=\"{}\"{attrs}></p>\n",
        Esc(&form.closes_at)
    ));
    html.push_str(&radios(
        "secrecy",
        "Secret du vote",
        &form.secrecy,
        &[
            (
                "anonymous",
                "Anonyme : personne ne peut savoir qui a voté quoi",
            ),
            (
                "named",
                "Nominatif : le nom de chaque votant est enregistré avec son vote",
            ),
        ],
        errors,
    ));
    html.push_str(&radios(
        "audience",
        "Qui peut voter ?",
        &form.audience,
        &[
            ("everyone", "Toute personne connectée"),
            ("residents", "Les habitants vérifiés par la commune"),
        ],
        errors,
    ));
    html.push_str("<p><button type=\"submit\">Créer le sondage</button></p>\n</form>\n");
    html
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
                question: "Un <b>parc</b> ?".into(),
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
        let html = public_show(&req, &doc(false), &tally(), NOW, Eligibility::CanVote, None);
        assert!(
            html.contains("<h1>Un &lt;b&gt;parc&lt;/b&gt; ?</h1>"),
            "{html}"
        );
        assert!(html.contains(r#"action="/m/test/p1/vote""#));
        assert!(html.contains(r#"name="csrf_token" value="csrf-test""#));
        assert!(html.contains("<legend>Votre réponse</legend>"));
        assert!(html.contains(r#"<input type="radio" name="option" id="option-1" value="1" required> <label for="option-1">Non &amp; pourquoi</label>"#));
        assert!(html.contains("<p>Ligne 1<br>\nLigne 2</p>\n<p>Autre paragraphe</p>"));
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
        );
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
        let html = public_index(&req, &[(open, tally()), (closed, tally())], NOW);
        let en_cours = html.find("En cours</h2>").unwrap_or(usize::MAX);
        let a_venir = html.find("Aucun sondage à venir.").unwrap_or(0);
        assert!(en_cours < html.find("/m/test/p1").unwrap_or(0));
        assert!(a_venir < html.find("/m/test/p0").unwrap_or(0));
    }

    #[test]
    fn new_form_shows_errors_next_to_their_fields() {
        let req = Request::new("POST", "/new").as_admin();
        let form = PollForm {
            question: "\"Q\"".into(),
            ..PollForm::blank(NOW)
        };
        let errors = vec![("options", "Indiquez des réponses.".to_owned())];
        let html = new_form(&req, &form, &errors);
        assert!(html.contains(r#"action="/admin/m/test/new""#));
        assert!(html.contains(r##"<a href="#options">Indiquez des réponses.</a>"##));
        assert!(html.contains(r#"aria-invalid="true" aria-describedby="options-error""#));
        assert!(html.contains(r#"value="&quot;Q&quot;""#));
        assert!(html.contains(r#"id="kind-single" value="single" checked"#));
        assert!(html.contains(r#"<label for="closes_at">"#));
    }
}
