//! HTML fragments, public and for the team, as maud templates (every spliced value is
//! escaped). Written with ordinary spaces: pages go through [`french`] for the no-break ones.

use crate::model::{
    Ballot, Consultation, MIN_AREA_VOTES, MIN_VOTES, PROPOSAL_MAX, Phase, Proposal, QUALIFICATIONS,
    QUESTION_MAX, REASON_MAX, Tally, Vote, percent,
};
use crate::service::{ConsultationForm, DRAWS, Results};
use parvis_module_sdk::Request;
use parvis_module_sdk::html::{
    FieldError, Markup, counted, empty, error_summary, field, french, html, paragraphs, status_tag,
    table_head, time,
};

/// « du 1er mars à 9 h au 31 mars à 18 h ».
fn period(c: &Consultation) -> Markup {
    html! { "du " (time(c.opens_at)) " au " (time(c.closes_at)) }
}

/// How the voting sequence chooses, said wherever people vote (the civic-tech charter asks
/// for transparent algorithms).
fn order_explained() -> Markup {
    html! {
        details class="card" {
            summary { "Comment les propositions vous sont présentées" }
            p { "Chaque proposition vous est présentée seule, pour que vous la jugiez sans voir ce qu'en pensent les autres. Pour la choisir, " (DRAWS) " propositions publiées sont tirées au sort parmi celles sur lesquelles vous n'avez pas encore voté, et celle qui a reçu le moins de votes jusqu'ici vous est montrée." }
            p { "Ainsi chaque proposition a sa chance d'être lue, même publiée tard : les moins vues rattrapent les autres. La popularité d'une proposition ne lui donne jamais plus de place. Le code de ce tirage est public, comme celui de toute la plateforme." }
        }
    }
}

/// The consultations of the commune.
pub fn index(req: &Request, all: &[Consultation], now: i64) -> Markup {
    french(html! {
        h1 { "Consultations" }
        p class="lead" { "La mairie " (req.commune.de()) " vous pose une question ; vous proposez vos réponses et votez sur celles des autres, une à une. Les résultats sont publics." }
        @if all.is_empty() {
            (empty("Aucune consultation pour le moment."))
        } @else {
            ul class="plain" {
                @for c in all {
                    li class="card" {
                        h2 { a href=(req.link(&format!("/{}", c.number))) { (c.question) } }
                        p { (status_tag(c.phase(now).label())) " · " (period(c)) " · " (c.by) }
                    }
                }
            }
        }
    })
}

/// What a consultation's page shows.
pub struct Show<'a> {
    pub consultation: &'a Consultation,
    pub now: i64,
    pub published: &'a [Proposal],
    pub next: Option<&'a str>,
    /// The viewer's own proposals, whatever their moderation.
    pub mine: &'a [Proposal],
    /// Proposals waiting for moderation (the team's view).
    pub waiting: u64,
    /// Why the viewer's proposal was refused by the form.
    pub error: Option<&'a str>,
}

/// A consultation: the question, the way to vote, the proposal form, the published proposals.
pub fn show(req: &Request, page: &Show<'_>) -> Markup {
    let c = page.consultation;
    let phase = c.phase(page.now);
    let errors: Vec<FieldError> = page
        .error
        .map(|e| vec![("proposition", e.to_string())])
        .unwrap_or_default();
    let proposal = field(&errors, "proposition");
    french(html! {
        h1 { (c.question) }
        p class="facts" { (status_tag(phase.label())) " · " (period(c)) }
        p { "Posée par " (c.by) "." }
        (paragraphs(&c.context))
        p {
            (counted(c.published, "proposition publiée", "propositions publiées")) " · "
            a href=(req.link(&format!("/{}/resultats", c.number))) { "Résultats" }
            @if req.is_signed_in() { " · " a href=(req.link(&format!("/{}/mes-votes", c.number))) { "Mes votes" } }
        }
        @if req.admin && page.waiting > 0 {
            p class="notice" { (counted(page.waiting, "proposition attend", "propositions attendent")) " la modération." }
        }
        @if phase == Phase::Open {
            section class="card" aria-labelledby="voter-titre" {
                h2 id="voter-titre" { "Donner mon avis" }
                p { "Les propositions vous sont présentées une à une : d'accord, pas d'accord ou neutre. Vous pouvez changer d'avis jusqu'à la clôture." }
                @if req.is_signed_in() {
                    a class="button" href=(req.link(&format!("/{}/voter", c.number))) { "Voter sur les propositions" }
                } @else {
                    p { "Connectez-vous pour voter et proposer." }
                }
            }
            @if req.is_signed_in() {
                section class="card" aria-labelledby="proposer-titre" {
                    h2 id="proposer-titre" { "Faire une proposition" }
                    (error_summary("La proposition n'est pas envoyée :", &errors))
                    form class="form" method="post" action=(req.link(&format!("/{}/propositions", c.number))) {
                        (req.csrf_field())
                        label for="proposition" { "Votre proposition" }
                        (proposal.error())
                        textarea id="proposition" name="proposition" rows="3" required maxlength=(PROPOSAL_MAX)
                            aria-invalid=[proposal.invalid()] aria-describedby=[proposal.error_id().or(Some("proposition-aide".into()))] {}
                        p class="hint" id="proposition-aide" { "Une idée, en une phrase de " (PROPOSAL_MAX) " caractères au plus, par exemple « Il faut plus de bancs sur la place ». Elle est lue par la mairie avant d'être publiée, sans votre nom : seules sont écartées les propositions hors sujet, injurieuses ou en double, et la raison vous en est donnée." }
                        button type="submit" { "Envoyer ma proposition" }
                    }
                }
            }
        }
        @if !page.mine.is_empty() {
            section aria-labelledby="mes-propositions" {
                h2 id="mes-propositions" { "Mes propositions" }
                ul class="plain" {
                    @for p in page.mine {
                        li class="card" {
                            p { (p.text) }
                            p class="hint" {
                                (status_tag(p.moderation.label()))
                                @if let Some(reason) = &p.reason { " — raison : " (reason) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="publiees-titre" {
            h2 id="publiees-titre" { "Propositions publiées" }
            p class="hint" { "Dans l'ordre de leur publication, sans leurs votes : pour voter, passez par « Voter sur les propositions », qui les présente une à une." }
            @if page.published.is_empty() {
                (empty("Aucune proposition publiée pour le moment."))
            } @else {
                ol class="plain" {
                    @for p in page.published { li { (p.text) } }
                }
                @if let Some(next) = page.next {
                    p { a href=(req.link(&format!("/{}?apres={next}", c.number))) { "Propositions suivantes" } }
                }
            }
        }
    })
}

/// The voting sequence's step: one proposal and the vote form, or why there is none.
/// What the voting page shows.
pub struct BallotPage<'a> {
    pub consultation: &'a Consultation,
    pub proposal: Option<&'a Proposal>,
    pub ballot: Option<&'a Ballot>,
    pub judged: usize,
    pub now: i64,
    /// The commune's neighbourhoods, `(id, name)` (none: no question asked).
    pub neighbourhoods: &'a [(String, String)],
    /// The one the participant said they live in.
    pub declared: Option<&'a str>,
}

pub fn ballot(req: &Request, page: &BallotPage<'_>) -> Markup {
    let (c, proposal, ballot, judged, now) = (
        page.consultation,
        page.proposal,
        page.ballot,
        page.judged,
        page.now,
    );
    let open = c.phase(now) == Phase::Open;
    french(html! {
        p { a href=(req.link(&format!("/{}", c.number))) { (c.question) } }
        h1 { "Voter sur les propositions" }
        p class="hint" {
            @if judged == 0 { "Vous n'avez encore donné votre avis sur aucune proposition." }
            @else { "Vous avez donné votre avis sur " (counted(judged as u64, "proposition", "propositions")) "." }
        }
        @match proposal {
            Some(p) => {
                section class="card" aria-labelledby="proposition-texte" {
                    p class="hint" { "Proposition" }
                    p id="proposition-texte" class="facts" { (p.text) }
                    @if open {
                        form class="form" method="post" action=(req.link(&format!("/{}/voter", c.number))) {
                            (req.csrf_field())
                            input type="hidden" name="proposition" value=(p.number);
                            @if let Some(area) = page.declared { input type="hidden" name="quartier" value=(area); }
                            fieldset class="choices" {
                                legend { "Votre avis" }
                                @for v in Vote::ALL {
                                    label { input type="radio" name="vote" value=(v.value()) required checked[ballot.is_some_and(|b| b.vote == v)]; " " (v.label()) }
                                }
                            }
                            fieldset class="choices" {
                                legend { "Pour préciser (facultatif)" }
                                @for (code, label) in QUALIFICATIONS {
                                    label { input type="checkbox" name="qualification" value=(code) checked[ballot.is_some_and(|b| b.qualifications.iter().any(|q| q == code))]; " " (label) }
                                }
                            }
                            button type="submit" { "Voter" }
                        }
                        p { a href=(req.link(&format!("/{}/voter", c.number))) { "Passer cette proposition" } }
                    } @else {
                        p { "La consultation n'est pas ouverte au vote." }
                    }
                }
            }
            None => {
                @if open {
                    (empty("Plus aucune proposition à vous présenter pour l'instant : vous avez donné votre avis sur toutes celles qui sont publiées. Revenez plus tard, d'autres seront publiées."))
                } @else {
                    (empty("La consultation n'est pas ouverte au vote."))
                }
            }
        }
        @if open && !page.neighbourhoods.is_empty() {
            (neighbourhood_form(req, c, page.neighbourhoods, page.declared))
        }
        (order_explained())
    })
}

/// « Votre quartier », asked once, changeable: the votes carry it for the results by
/// neighbourhood.
fn neighbourhood_form(
    req: &Request,
    c: &Consultation,
    areas: &[(String, String)],
    declared: Option<&str>,
) -> Markup {
    html! {
        details class="card" open[declared.is_none()] {
            summary { "Votre quartier (facultatif) : " (declared.and_then(|d| areas.iter().find(|(id, _)| id == d)).map_or("non indiqué", |(_, name)| name.as_str())) }
            form class="form" method="post" action=(req.link(&format!("/{}/quartier", c.number))) {
                (req.csrf_field())
                label for="quartier" { "Le quartier où vous habitez" }
                select id="quartier" name="quartier" aria-describedby="quartier-aide" {
                    option value="" { "Je préfère ne pas le dire" }
                    @for (id, name) in areas { option value=(id) selected[declared == Some(id.as_str())] { (name) } }
                }
                p class="hint" id="quartier-aide" { "Il accompagne vos prochains votes, pour que la mairie voie ce que pense chaque quartier. Il n'est jamais montré avec votre nom, et aucun quartier n'est montré avec moins de " (MIN_AREA_VOTES) " votes sur une proposition." }
                button type="submit" class="secondary" { "Enregistrer mon quartier" }
            }
        }
    }
}

/// The participant's votes, each changeable while the consultation is open.
pub fn my_votes(req: &Request, c: &Consultation, votes: &[(Ballot, String)], now: i64) -> Markup {
    let open = c.phase(now) == Phase::Open;
    french(html! {
        p { a href=(req.link(&format!("/{}", c.number))) { (c.question) } }
        h1 { "Mes votes" }
        @if votes.is_empty() {
            (empty("Vous n'avez pas encore voté dans cette consultation."))
        } @else {
            table {
                (table_head(Some("Vos votes"), &["Proposition", "Votre avis", "Changer d'avis"]))
                tbody {
                    @for (b, text) in votes {
                        tr {
                            td { (text) }
                            td { (b.vote.label()) }
                            td { @if open { a href=(req.link(&format!("/{}/voter?proposition={}", c.number, b.proposal))) { "Changer" span class="sr-only" { " mon vote sur « " (text) " »" } } } }
                        }
                    }
                }
            }
        }
    })
}

/// One ranking of the results as a table.
fn ranking(caption: &str, list: &[(u64, Tally)], texts: &[(u64, String)]) -> Markup {
    html! {
        @if list.is_empty() {
            (empty(&format!("Aucune proposition n'a encore reçu {MIN_VOTES} votes.")))
        } @else {
            table {
                (table_head(Some(caption), &["Proposition", "D'accord", "Pas d'accord", "Neutre", "Votes"]))
                tbody {
                    @for (p, t) in list {
                        tr {
                            td { (texts.iter().find(|(q, _)| q == p).map(|(_, s)| s.as_str()).unwrap_or("")) }
                            td { (percent(t.agree_share())) }
                            td { (percent(t.disagree_share())) }
                            td { (percent(1000u64.saturating_sub(t.agree_share() + t.disagree_share()))) }
                            td { (t.votes()) }
                        }
                    }
                }
            }
        }
    }
}

/// The results, live or final.
pub fn results(
    req: &Request,
    c: &Consultation,
    results: &Results,
    now: i64,
    areas: &[(String, String)],
    area: Option<&(String, String)>,
) -> Markup {
    let texts = &results.texts;
    french(html! {
        p { a href=(req.link(&format!("/{}", c.number))) { (c.question) } }
        h1 { "Résultats" }
        p class="facts" { (status_tag(c.phase(now).label())) " · " (period(c)) }
        @if c.phase(now) == Phase::Open { p { "Résultats en cours, au " (time(results.at)) " : ils sont recalculés toutes les 30 secondes jusqu'à la clôture." } }
        dl class="figures" {
            div { dt { "Participants" } dd { (results.participants) } }
            div { dt { "Votes" } dd { (results.votes) } }
            div { dt { "Propositions publiées" } dd { (results.published) } }
        }
        h2 { "Les plus consensuelles" }
        p class="hint" { "Celles qui recueillent la plus grande part de « d'accord », parmi les propositions qui ont reçu au moins " (MIN_VOTES) " votes (en dessous, une ou deux voix décideraient de leur place)." }
        (ranking("Les propositions les plus consensuelles", &results.consensual, texts))
        h2 { "Les plus clivantes" }
        p class="hint" { "Celles qui partagent le plus les participants : la plus petite des deux parts, « d'accord » et « pas d'accord », y est la plus grande." }
        (ranking("Les propositions les plus clivantes", &results.divisive, texts))
        @if !areas.is_empty() {
            (by_neighbourhood(req, c, results, areas, area))
        }
        p { a href=(req.link(&format!("/{}/resultats.csv", c.number))) { "Télécharger tous les résultats (CSV, données ouvertes sans données personnelles)" } }
    })
}

/// The ranked proposals as one neighbourhood's voters judge them, beside the whole commune.
fn by_neighbourhood(
    req: &Request,
    c: &Consultation,
    results: &Results,
    areas: &[(String, String)],
    area: Option<&(String, String)>,
) -> Markup {
    let mut ranked: Vec<(u64, &Tally)> = Vec::new();
    for (p, t) in results.consensual.iter().chain(&results.divisive) {
        if !ranked.iter().any(|(q, _)| q == p) {
            ranked.push((*p, t));
        }
    }
    html! {
        h2 id="par-quartier" { "Par quartier" }
        p class="hint" { "Les participants qui ont indiqué leur quartier en votant. La part d'accord d'un quartier n'est montrée qu'à partir de " (MIN_AREA_VOTES) " votes de ses habitants sur la proposition." }
        form class="filters" method="get" action=(format!("{}#par-quartier", req.link(&format!("/{}/resultats", c.number)))) {
            span class="filter" {
                label for="quartier" { "Quartier" }
                select id="quartier" name="quartier" {
                    option value="" { "Choisir un quartier" }
                    @for (id, name) in areas { option value=(id) selected[area.is_some_and(|(a, _)| a == id)] { (name) } }
                }
            }
            button type="submit" class="secondary" { "Afficher" }
        }
        @if let Some((id, name)) = area {
            @if ranked.is_empty() {
                (empty(&format!("Aucune proposition n'a encore reçu {MIN_VOTES} votes.")))
            } @else {
                table {
                    (table_head(Some(&format!("Les propositions classées, vues par le quartier {name}")), &["Proposition", "D'accord (quartier)", "D'accord (commune)", "Votes du quartier"]))
                    tbody {
                        @for (p, all) in &ranked {
                            @let local = results.by_neighbourhood.iter().find(|(q, _)| q == p).and_then(|(_, areas)| areas.iter().find(|(a, _)| a == id)).map(|(_, t)| t);
                            @let votes = local.map_or(0, Tally::votes);
                            tr {
                                td { (texts_of(results, *p)) }
                                td { @match local.filter(|_| votes >= MIN_AREA_VOTES) { Some(t) => (percent(t.agree_share())), None => span class="muted" { "moins de " (MIN_AREA_VOTES) " votes" } } }
                                td { (percent(all.agree_share())) }
                                td { (votes) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn texts_of(results: &Results, p: u64) -> &str {
    results
        .texts
        .iter()
        .find(|(q, _)| *q == p)
        .map_or("", |(_, s)| s.as_str())
}

/// The team's list: every consultation, with what waits for them.
pub fn admin_index(req: &Request, all: &[Consultation], waiting: &[u64], now: i64) -> Markup {
    french(html! {
        h1 { "Consultations" }
        p { a class="button" href=(req.link("/nouvelle")) { "Nouvelle consultation" } }
        @if all.is_empty() {
            (empty("Aucune consultation pour le moment."))
        } @else {
            table {
                (table_head(Some("Consultations de la commune"), &["Question", "État", "Période", "À modérer"]))
                tbody {
                    @for (c, w) in all.iter().zip(waiting) {
                        tr {
                            td { a href=(req.link(&format!("/{}", c.number))) { (c.question) } }
                            td { (c.phase(now).label()) }
                            td { (period(c)) }
                            td { (w) }
                        }
                    }
                }
            }
        }
    })
}

/// The form of a new consultation.
pub fn consultation_form(req: &Request, form: &ConsultationForm, errors: &[FieldError]) -> Markup {
    let question = field(errors, "question");
    let context = field(errors, "contexte");
    let opens = field(errors, "ouverture");
    let closes = field(errors, "cloture");
    french(html! {
        h1 { "Nouvelle consultation" }
        p { "Une question ouverte, posée pour une période. La consultation d'un élu est visible une fois validée par les administrateurs de la commune." }
        (error_summary("La consultation n'est pas créée : corrigez les points suivants.", errors))
        form class="form" method="post" action=(req.link("/nouvelle")) {
            (req.csrf_field())
            label for="question" { "Question" }
            (question.error())
            input id="question" name="question" required maxlength=(QUESTION_MAX) value=(form.question)
                aria-invalid=[question.invalid()] aria-describedby=[question.error_id().or(Some("question-aide".into()))];
            p class="hint" id="question-aide" { "Par exemple « Comment rendre le centre-ville plus agréable ? »" }
            label for="contexte" { "Contexte (facultatif)" }
            (context.error())
            textarea id="contexte" name="contexte" rows="5" aria-invalid=[context.invalid()] aria-describedby=[context.error_id().or(Some("contexte-aide".into()))] { (form.context) }
            p class="hint" id="contexte-aide" { "Pourquoi la commune pose la question, et ce qu'elle fera des réponses." }
            label for="ouverture" { "Ouverture" }
            (opens.error())
            input id="ouverture" name="ouverture" type="datetime-local" required value=(form.opens)
                aria-invalid=[opens.invalid()] aria-describedby=[opens.error_id()];
            label for="cloture" { "Clôture" }
            (closes.error())
            input id="cloture" name="cloture" type="datetime-local" required value=(form.closes)
                aria-invalid=[closes.invalid()] aria-describedby=[closes.error_id()];
            button type="submit" { "Créer la consultation" }
        }
    })
}

/// A consultation for the team: consent, the moderation queue, the results' publication.
pub fn manage(req: &Request, c: &Consultation, queue: &[Proposal], now: i64) -> Markup {
    let phase = c.phase(now);
    let public = req
        .link(&format!("/{}", c.number))
        .replace("/admin/m/", "/m/");
    french(html! {
        p { a href=(req.link("/")) { "Toutes les consultations" } " · " a href=(public) { "Page publique" } }
        h1 { (c.question) }
        p class="facts" { (status_tag(phase.label())) " · " (period(c)) " · " (c.by) }
        @if phase == Phase::Waiting {
            section class="card" aria-labelledby="valider-titre" {
                h2 id="valider-titre" { "Validation" }
                p { "Cette consultation a été proposée par un élu : elle n'est visible de personne d'autre tant qu'un administrateur ne l'a pas validée." }
                form method="post" action=(req.link(&format!("/{}/valider", c.number))) {
                    (req.csrf_field())
                    button type="submit" { "Valider la consultation" }
                }
            }
        }
        section aria-labelledby="moderation-titre" {
            h2 id="moderation-titre" { "Propositions à modérer" }
            p class="hint" { "Publiez toute proposition qui répond à la question, quelle que soit son opinion : la modération est neutre. Refusez seulement ce qui est hors sujet, injurieux, illégal ou en double, en donnant la raison, qui est envoyée à son auteur." }
            @if queue.is_empty() {
                (empty("Aucune proposition n'attend."))
            } @else {
                ul class="plain" {
                    @for p in queue {
                        li class="card" {
                            p class="facts" { (p.text) }
                            p class="hint" { "Envoyée le " (time(p.submitted_at)) }
                            form class="inline" method="post" action=(req.link(&format!("/{}/moderer", c.number))) {
                                (req.csrf_field())
                                input type="hidden" name="proposition" value=(p.number);
                                input type="hidden" name="decision" value="publier";
                                button type="submit" { "Publier" span class="sr-only" { " « " (p.text) " »" } }
                            }
                            form class="form" method="post" action=(req.link(&format!("/{}/moderer", c.number))) {
                                (req.csrf_field())
                                input type="hidden" name="proposition" value=(p.number);
                                input type="hidden" name="decision" value="refuser";
                                label for=(format!("raison-{}", p.number)) { "Raison du refus" }
                                input id=(format!("raison-{}", p.number)) name="raison" maxlength=(REASON_MAX);
                                button type="submit" class="secondary" { "Refuser" span class="sr-only" { " « " (p.text) " »" } }
                            }
                        }
                    }
                }
            }
        }
        @if phase == Phase::Closed {
            section class="card" aria-labelledby="resultats-titre" {
                h2 id="resultats-titre" { "Résultats" }
                @if c.results_published {
                    p { "Les résultats sont publiés dans le fil de la commune." }
                } @else {
                    p { "La consultation est close : publiez ses résultats dans le fil de la commune, pour que tous ceux qui la suivent les lisent." }
                    form method="post" action=(req.link(&format!("/{}/publier-resultats", c.number))) {
                        (req.csrf_field())
                        button type="submit" { "Publier les résultats dans le fil" }
                    }
                }
            }
        }
        p { a href=(req.link(&format!("/{}/resultats", c.number)).replace("/admin/m/", "/m/")) { "Voir les résultats" } }
    })
}
