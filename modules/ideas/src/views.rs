//! HTML fragments, public and for the staff, as maud templates (every spliced value is
//! escaped). Written with ordinary spaces: pages go through [`french`] for the no-break ones.

use crate::form::{
    ALT_MAX, COMMENT_MAX, COMMITMENT_TITLE_MAX, FieldError, IdeaForm, PATH_MAX, REPLY_MAX,
    TEXT_MAX, TITLE_MAX,
};
use crate::model::{Comment, Idea, Status, Theme};
use crate::store::Filter;
use parvis_module_sdk::Request;
use parvis_module_sdk::html::{
    MapView, Markup, counted, empty, encode_query, error_summary, field, french, html, map,
    paragraphs, photos, status_tag, table_head, time,
};
use parvis_module_sdk::store::Doc;

/// The name of neighbourhood `id`, if the commune still has it.
fn neighbourhood_name<'a>(filter: &'a Filter, id: Option<&str>) -> Option<&'a str> {
    let id = id?;
    filter
        .neighbourhoods
        .iter()
        .find(|(n, _)| n == id)
        .map(|(_, name)| name.as_str())
}

/// The filters of a list, as a GET form that works without JavaScript.
fn filters(req: &Request, themes: &[Theme], filter: &Filter) -> Markup {
    html! {
        form class="filters" method="get" action=(req.link("/")) {
            span class="filter" {
                label for="statut" { "Statut" }
                select id="statut" name="statut" {
                    option value="" selected[filter.status.is_none()] { "Tous" }
                    @for s in Status::ALL {
                        option value=(s.value()) selected[filter.status == Some(s)] { (s.label()) }
                    }
                }
            }
            span class="filter" {
                label for="theme" { "Thème" }
                select id="theme" name="theme" {
                    option value="" { "Tous" }
                    @for t in themes {
                        option value=(t.code()) selected[filter.theme.as_deref() == Some(t.code().as_str())] { (t.label) }
                    }
                }
            }
            @if !filter.neighbourhoods.is_empty() {
                span class="filter" {
                    label for="quartier" { "Quartier" }
                    select id="quartier" name="quartier" {
                        option value="" { "Tous" }
                        @for (id, name) in &filter.neighbourhoods {
                            option value=(id) selected[filter.neighbourhood.as_deref() == Some(id.as_str())] { (name) }
                        }
                    }
                }
            }
            button type="submit" class="secondary" { "Filtrer" }
        }
    }
}

/// The query string of a filter, for the next page's link.
fn filter_query(filter: &Filter) -> String {
    let mut out = String::new();
    let status = filter.status.map(|s| s.value().to_string());
    for (name, value) in [
        ("statut", &status),
        ("theme", &filter.theme),
        ("quartier", &filter.neighbourhood),
    ] {
        if let Some(value) = value {
            out.push_str(&format!("&{name}={}", encode_query(value)));
        }
    }
    out
}

/// One idea in a list.
fn item(req: &Request, idea: &Idea, filter: &Filter) -> Markup {
    html! {
        li class="card" {
            h3 { a href=(req.link(&format!("/{}", idea.number))) { (idea.title) } }
            p class="facts" {
                (status_tag(idea.status.label())) " · " (idea.theme_label)
                @if let Some(name) = neighbourhood_name(filter, idea.neighbourhood.as_deref()) { " · " (name) }
            }
            p class="hint" {
                "N°\u{a0}" (idea.number) ", proposée le " (time(idea.proposed_at())) " · "
                (counted(idea.supporters, "soutien", "soutiens")) " · "
                (counted(idea.comments, "commentaire", "commentaires"))
            }
        }
    }
}

/// The page of a list: the ideas and the link to the next page.
fn list(req: &Request, ideas: &[Idea], next: Option<&str>, filter: &Filter) -> Markup {
    html! {
        @if ideas.is_empty() {
            (empty("Aucune idée ne correspond à ces critères."))
        } @else {
            ul class="plain" {
                @for idea in ideas { (item(req, idea, filter)) }
            }
        }
        @if let Some(next) = next {
            nav aria-label="Pages des idées" {
                // Cursors are idea keys (digits): nothing to percent-encode.
                p { a href=(req.link(&format!("/?apres={next}{}", filter_query(filter)))) { "Idées plus anciennes" } }
            }
        }
    }
}

/// What the lists' pages need.
pub struct Index<'a> {
    pub themes: &'a [Theme],
    pub filter: &'a Filter,
    pub ideas: &'a [Idea],
    pub next: Option<&'a str>,
    /// How many ideas have each status.
    pub counts: &'a [(Status, u64)],
    pub intro: &'a str,
}

/// The public page: what the box is for, how the list is ordered, the map and the list.
pub fn index(req: &Request, page: &Index<'_>) -> Markup {
    let markers = req.link("/carte.json");
    french(html! {
        h1 { "Boîte à idées" }
        @if page.intro.trim().is_empty() {
            p class="lead" {
                "Une idée pour la vie " (req.commune.a()) " ? Proposez-la : les habitants la soutiennent et en discutent, et la mairie y répond publiquement."
            }
        } @else {
            (paragraphs(page.intro))
        }
        p { a class="button" href=(req.link("/nouvelle")) { "Proposer une idée" } }
        dl class="figures" {
            @for (status, count) in page.counts {
                div { dt { (status.plural()) } dd { (count) } }
            }
        }
        section aria-labelledby="liste-titre" {
            h2 id="liste-titre" { "Les idées" }
            (filters(req, page.themes, page.filter))
            p class="hint" {
                "Ordre de la liste : de la plus récente à la plus ancienne, sans classement par popularité, pour qu'une idée nouvelle soit lue autant qu'une ancienne. Les filtres n'y changent rien."
            }
            (list(req, page.ideas, page.next, page.filter))
        }
        section aria-labelledby="carte-titre" {
            h2 id="carte-titre" { "Sur la carte" }
            (map("Carte des idées qui ont un lieu", &MapView { markers: Some(&markers), neighbourhoods: !page.filter.neighbourhoods.is_empty(), ..MapView::default() }))
            p class="hint" { "Seules les idées placées par leur auteur sont sur la carte ; la liste les donne toutes." }
        }
    })
}

/// The staff's list: the same filters, the ideas as a table to compare.
pub fn queue(req: &Request, page: &Index<'_>) -> Markup {
    let public = req.link("/").replace("/admin/m/", "/m/");
    french(html! {
        h1 { "Idées des habitants" }
        p class="lead" {
            @match page.counts.iter().find(|(s, _)| *s == Status::Proposee).map_or(0, |(_, c)| *c) {
                0 => { "Aucune idée n'attend de réponse." }
                1 => { "1 idée attend une réponse." }
                n => { (n) " idées attendent une réponse." }
            }
            " " a href=(public) { "Page publique" }
        }
        (filters(req, page.themes, page.filter))
        @if page.ideas.is_empty() {
            (empty("Aucune idée ne correspond à ces critères."))
        } @else {
            table {
                (table_head(Some("Idées, de la plus récente à la plus ancienne"), &["N°", "Idée", "Statut", "Soutiens", "Proposée le"]))
                tbody {
                    @for idea in page.ideas {
                        tr {
                            td { (idea.number) }
                            td { a href=(req.link(&format!("/{}", idea.number))) { (idea.title) } br; small { (idea.theme_label) } }
                            td { (idea.status.label()) }
                            td { (idea.supporters) }
                            td { (time(idea.proposed_at())) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = page.next {
            p { a href=(req.link(&format!("/?apres={next}{}", filter_query(page.filter)))) { "Idées plus anciennes" } }
        }
    })
}

/// The idea form (`/nouvelle`), with its errors.
pub fn form(
    req: &Request,
    themes: &[Theme],
    neighbourhoods: &[(String, String)],
    form: &IdeaForm,
    errors: &[FieldError],
) -> Markup {
    let title = field(errors, "titre");
    let text = field(errors, "texte");
    let theme = field(errors, "theme");
    let place = field(errors, "lieu");
    let quartier = field(errors, "quartier");
    let photo = field(errors, "photo");
    let photo_alt = field(errors, "photo_alt");
    french(html! {
        h1 { "Proposer une idée" }
        p { "Votre idée est publique dès qu'elle est envoyée : les habitants peuvent la soutenir et la commenter, et la mairie " (req.commune.de()) " y répond ici. Votre nom n'est affiché que si vous le souhaitez." }
        (error_summary("L'idée n'est pas encore envoyée : corrigez les points suivants.", errors))
        form class="form" method="post" enctype="multipart/form-data" action=(req.upload_action("/nouvelle")) {
            label for="titre" { "Titre" }
            (title.error())
            input id="titre" name="titre" required maxlength=(TITLE_MAX) value=(form.title)
                aria-invalid=[title.invalid()] aria-describedby=[title.error_id()];
            label for="texte" { "Votre idée" }
            (text.error())
            textarea id="texte" name="texte" rows="6" required maxlength=(TEXT_MAX)
                aria-invalid=[text.invalid()] aria-describedby=[text.error_id().or(Some("texte-aide".into()))] {
                (form.text)
            }
            p class="hint" id="texte-aide" { "Ce que vous proposez, pour qui, et pourquoi. N'y mettez pas de données personnelles." }
            label for="theme" { "Thème" }
            (theme.error())
            select id="theme" name="theme" required aria-invalid=[theme.invalid()] aria-describedby=[theme.error_id()] {
                option value="" { "Choisir un thème" }
                @for t in themes {
                    option value=(t.code()) selected[form.theme == t.code()] { (t.label) }
                }
            }
            fieldset id="lieu" class="choices" aria-describedby=[place.error_id()] {
                legend { "Où ? (facultatif)" }
                (place.error())
                (map("Carte : touchez le lieu de votre idée", &MapView { pick: Some("lieu"), neighbourhoods: !neighbourhoods.is_empty(), ..MapView::default() }))
                p class="hint" { "Touchez la carte si votre idée concerne un lieu précis de la commune ; sinon, laissez-la telle quelle." }
                input type="hidden" name="lat" value=(form.lat);
                input type="hidden" name="lon" value=(form.lon);
                @if !neighbourhoods.is_empty() {
                    label for="quartier" { "Ou un quartier" }
                    (quartier.error())
                    select id="quartier" name="quartier" aria-invalid=[quartier.invalid()] aria-describedby=[quartier.error_id()] {
                        option value="" { "Toute la commune" }
                        @for (id, name) in neighbourhoods {
                            option value=(id) selected[form.neighbourhood == *id] { (name) }
                        }
                    }
                }
            }
            label for="photo" { "Une photo (facultatif)" }
            (photo.error())
            input type="file" id="photo" name="photo" accept="image/*"
                aria-invalid=[photo.invalid()] aria-describedby=[photo.error_id().or(Some("photo-aide".into()))];
            p class="hint" id="photo-aide" { "JPEG, PNG, WebP ou GIF, 10 Mo au plus. Ses métadonnées (position GPS, appareil) sont retirées avant publication." }
            label for="photo_alt" { "Ce que montre la photo" }
            (photo_alt.error())
            input id="photo_alt" name="photo_alt" maxlength=(ALT_MAX) value=(form.photo_alt)
                aria-invalid=[photo_alt.invalid()] aria-describedby=[photo_alt.error_id()];
            label { input type="checkbox" name="nom_public" value="1" checked[form.public_name]; " Afficher mon nom sur l'idée" }
            p class="hint" { "Sinon, le public lit « Un habitant » ; la mairie voit toujours votre nom." }
            button type="submit" { "Proposer l'idée" }
        }
    })
}

/// The timeline of an idea: each step, with the town hall's reply.
fn timeline(idea: &Idea) -> Markup {
    html! {
        ol class="plain" {
            @for step in &idea.steps {
                li {
                    (status_tag(step.status.label())) " — " (step.status.event()) ", le " (time(step.at))
                    @if let Some(reply) = &step.reply {
                        div class="post" { p class="post-head" { strong { "Réponse de la mairie" } } (paragraphs(reply)) }
                    }
                }
            }
        }
    }
}

/// The head of an idea's page, public and for the staff.
fn head(idea: &Idea, neighbourhood: Option<&str>, staff: bool) -> Markup {
    html! {
        h1 { (idea.title) }
        p class="facts" { (status_tag(idea.status.label())) " · " (idea.theme_label) @if let Some(n) = neighbourhood { " · " (n) } }
        p {
            "Idée n°\u{a0}" (idea.number) ", proposée le " (time(idea.proposed_at())) " par "
            @if staff { (if idea.author_name.is_empty() { "un compte supprimé" } else { idea.author_name.as_str() }) }
            @else { (idea.public_author()) }
        }
        (paragraphs(&idea.text))
        @if let Some(photo) = &idea.photo { (photos(std::slice::from_ref(photo))) }
        @if let Some((lat, lon)) = idea.at {
            (map("Le lieu de l'idée", &MapView { spot: Some((lat, lon)), ..MapView::default() }))
        }
        @if let Some(c) = &idea.commitment {
            p class="notice ok" { "Mise en œuvre par l'engagement : " a href=(c.path) { (c.title) } }
        }
    }
}

/// What an idea's page needs.
pub struct Show<'a> {
    pub idea: &'a Idea,
    /// The name of the neighbourhood it concerns.
    pub neighbourhood: Option<&'a str>,
    /// The viewer supports it.
    pub supporting: bool,
    pub comments: &'a [Doc<Comment>],
    /// The next page of comments.
    pub next: Option<&'a str>,
    pub errors: &'a [FieldError],
    /// The comment as typed, when it was refused.
    pub draft: &'a str,
}

/// The comments of an idea, each with its delete button for its author (or the staff).
fn comments(req: &Request, page: &Show<'_>, staff: bool) -> Markup {
    let n = page.idea.number;
    html! {
        @if page.comments.is_empty() { (empty("Aucun commentaire pour l'instant.")) }
        @for doc in page.comments {
            div class="post" id=(format!("c-{}", doc.key.rsplit(':').next().unwrap_or_default())) {
                p class="post-head" {
                    strong { (doc.value.name) } @if doc.value.staff { " (mairie)" } ", le " (time(doc.value.at))
                }
                (paragraphs(&doc.value.text))
                @if staff || (doc.value.account.is_some() && doc.value.account.as_deref() == req.account()) {
                    form class="inline" method="post" action=(req.link(&format!("/{n}/commentaires/supprimer"))) {
                        (req.csrf_field())
                        input type="hidden" name="cle" value=(doc.key);
                        button type="submit" class="secondary" { "Supprimer ce commentaire" }
                    }
                }
            }
        }
        @if let Some(next) = page.next {
            p { a href=(req.link(&format!("/{n}?apres={}", encode_query(next)))) { "Commentaires suivants" } }
        }
    }
}

/// An idea's public page.
pub fn show(req: &Request, page: &Show<'_>) -> Markup {
    let idea = page.idea;
    let n = idea.number;
    let comment = field(page.errors, "commentaire");
    french(html! {
        (head(idea, page.neighbourhood, false))
        section aria-labelledby="soutiens-titre" class="card" {
            h2 id="soutiens-titre" { "Soutiens" }
            p {
                @match idea.supporters {
                    0 => { "Aucun habitant ne soutient encore cette idée." }
                    1 => { "1 habitant soutient cette idée." }
                    n => { (n) " habitants soutiennent cette idée." }
                }
            }
            @if idea.status.is_open() && req.account().is_some() && idea.author.as_deref() != req.account() {
                form method="post" action=(req.link(&format!("/{n}/soutenir"))) {
                    (req.csrf_field())
                    @if page.supporting {
                        input type="hidden" name="action" value="retirer";
                        p class="hint" { "Vous soutenez cette idée : vous êtes prévenu de la réponse de la mairie." }
                        button type="submit" class="secondary" { "Retirer mon soutien" }
                    } @else {
                        button type="submit" { "Je soutiens cette idée" }
                    }
                }
            }
            @if req.account().is_none() && idea.status.is_open() {
                p class="hint" { "Connectez-vous pour soutenir cette idée ou la commenter." }
            }
        }
        section aria-labelledby="suivi-titre" {
            h2 id="suivi-titre" { "Réponse de la mairie" }
            (timeline(idea))
        }
        section aria-labelledby="commentaires-titre" {
            h2 id="commentaires-titre" { "Commentaires (" (idea.comments) ")" }
            (comments(req, page, false))
            @if idea.status.is_open() && req.account().is_some() {
                form class="form" method="post" action=(req.link(&format!("/{n}/commentaires"))) {
                    (req.csrf_field())
                    label for="commentaire" { "Votre commentaire" }
                    (comment.error())
                    textarea id="commentaire" name="commentaire" rows="3" required maxlength=(COMMENT_MAX)
                        aria-invalid=[comment.invalid()] aria-describedby=[comment.error_id().or(Some("commentaire-aide".into()))] { (page.draft) }
                    p class="hint" id="commentaire-aide" { "Public et signé de votre nom. Restez courtois : les commentaires injurieux sont retirés." }
                    button type="submit" class="secondary" { "Publier le commentaire" }
                }
            }
        }
    })
}

/// An idea for the staff: everything, the answer form, the comments to moderate.
pub fn manage(req: &Request, page: &Show<'_>) -> Markup {
    let idea = page.idea;
    let errors = page.errors;
    let status = field(errors, "statut");
    let reply = field(errors, "reponse");
    let c_title = field(errors, "engagement_titre");
    let c_link = field(errors, "engagement_lien");
    let public = req
        .link(&format!("/{}", idea.number))
        .replace("/admin/m/", "/m/");
    let (commitment_title, commitment_path) = idea
        .commitment
        .as_ref()
        .map_or(("", ""), |c| (c.title.as_str(), c.path.as_str()));
    french(html! {
        p { a href=(req.link("/")) { "Toutes les idées" } " · " a href=(public) { "Page publique" } }
        (head(idea, page.neighbourhood, true))
        p { (counted(idea.supporters, "soutien", "soutiens")) "." }
        section aria-labelledby="reponse-titre" class="card" {
            h2 id="reponse-titre" { "Répondre" }
            (error_summary("La réponse n'est pas enregistrée : corrigez les points suivants.", errors))
            form class="form" method="post" action=(req.link(&format!("/{}/reponse", idea.number))) {
                (req.csrf_field())
                label for="statut" { "Statut" }
                (status.error())
                select id="statut" name="statut" aria-invalid=[status.invalid()] aria-describedby=[status.error_id()] {
                    @for s in Status::ALL {
                        option value=(s.value()) selected[s == idea.status] { (s.label()) }
                    }
                }
                label for="reponse" { "Réponse publique (obligatoire pour « Non retenue »)" }
                (reply.error())
                textarea id="reponse" name="reponse" rows="4" maxlength=(REPLY_MAX) aria-invalid=[reply.invalid()] aria-describedby=[reply.error_id()] {}
                label for="engagement_titre" { "Engagement qui la met en œuvre (facultatif) : titre" }
                (c_title.error())
                input id="engagement_titre" name="engagement_titre" maxlength=(COMMITMENT_TITLE_MAX) value=(commitment_title)
                    aria-invalid=[c_title.invalid()] aria-describedby=[c_title.error_id()];
                label for="engagement_lien" { "Lien de l'engagement sur ce site" }
                (c_link.error())
                input id="engagement_lien" name="engagement_lien" maxlength=(PATH_MAX) value=(commitment_path) placeholder="/m/commitments/3"
                    aria-invalid=[c_link.invalid()] aria-describedby=[c_link.error_id().or(Some("engagement-aide".into()))];
                p class="hint" id="engagement-aide" { "Videz les deux champs pour retirer le lien. L'auteur et les personnes qui soutiennent l'idée sont prévenus de chaque changement de statut ou réponse." }
                button type="submit" { "Enregistrer" }
            }
        }
        section aria-labelledby="suivi-titre" {
            h2 id="suivi-titre" { "Suivi public" }
            (timeline(idea))
        }
        section aria-labelledby="commentaires-titre" {
            h2 id="commentaires-titre" { "Commentaires (" (idea.comments) ")" }
            p class="hint" { "Retirez un commentaire injurieux, hors sujet ou qui donne des données personnelles : il disparaît de la page publique." }
            (comments(req, page, true))
        }
    })
}
