//! HTML for officials: the agenda and the slot form, as maud templates.

use crate::form::{FieldError, SlotInput};
use crate::model::{Booking, BookingStatus, MAX_CAPACITY, Slot};
use crate::time;
use crate::views::{hours_text, venue_html, when_html};
use parvis_module_sdk::html::error_of;
use parvis_module_sdk::prelude::*;

/// A slot with every booking made for it.
pub struct AgendaEntry {
    /// The slot.
    pub slot: Doc<Slot>,
    /// Its bookings, oldest first.
    pub bookings: Vec<Doc<Booking>>,
}

impl AgendaEntry {
    fn confirmed(&self) -> usize {
        self.bookings
            .iter()
            .filter(|b| b.value.status == BookingStatus::Confirmed)
            .count()
    }
}

/// The official's agenda: upcoming slots with who booked and why, past slots folded.
pub fn agenda(req: &Request, upcoming: &[AgendaEntry], past: &[AgendaEntry]) -> Response {
    let html = html! {
        h1 { "Agenda des permanences" }
        p { a class="button" href=(req.link("/new")) { "Publier un créneau" } }
        h2 { "Créneaux à venir" }
        @if upcoming.is_empty() {
            p { "Aucun créneau à venir." }
        }
        @for entry in upcoming {
            (upcoming_entry(req, entry))
        }
        h2 { "Créneaux passés" }
        @if past.is_empty() {
            p { "Aucun créneau passé." }
        } @else {
            details {
                summary { "Afficher les " (past.len()) " derniers créneaux passés" }
                table {
                    (table_head(Some("Créneaux passés, du plus récent au plus ancien"), &["Date", "Thème", "Lieu", "Réservations"]))
                    tbody {
                        @for entry in past {
                            @let s = &entry.slot.value;
                            tr {
                                th scope="row" { (when_html(s.starts_at)) }
                                td { (s.topic) }
                                td { (venue_html(s, true)) }
                                td {
                                    @if s.cancelled {
                                        "Annulé"
                                    } @else if entry.bookings.is_empty() {
                                        "Aucune"
                                    } @else {
                                        ul {
                                            @for b in &entry.bookings {
                                                li { (b.value.name) " : " (b.value.subject) }
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
    };
    Response::page("Agenda des permanences", html)
}

fn upcoming_entry(req: &Request, entry: &AgendaEntry) -> Markup {
    let slot = &entry.slot;
    let s = &slot.value;
    let id = format!("creneau-{}", slot.key);
    let motif = format!("motif-{}", slot.key);
    html! {
        section class="card" aria-labelledby=(id) {
            h3 id=(id) { (when_html(s.starts_at)) " — " (s.topic) }
            p {
                (hours_text(s)) " (" (s.duration_min) " minutes) · " (venue_html(s, true))
                " · Tenue par " (s.host_name)
            }
            @if s.cancelled {
                p {
                    strong { "Créneau annulé." }
                    @if let Some(reason) = &s.cancel_reason {
                        " Motif : " (reason)
                    }
                }
            } @else {
                p { (entry.confirmed()) " réservation(s) sur " (s.capacity) " place(s)." }
            }
            @if entry.bookings.is_empty() {
                p { "Aucune réservation pour l'instant." }
            } @else {
                table {
                    caption {
                        @if s.cancelled {
                            "Personnes inscrites, prévenues de l'annulation"
                        } @else {
                            "Réservations"
                        }
                    }
                    (table_head(None, &["Personne", "Objet de la demande", "Réservé le"]))
                    tbody {
                        @for booking in &entry.bookings {
                            @let b = &booking.value;
                            tr {
                                th scope="row" { (b.name) }
                                td { (b.subject) }
                                td { (time::short_fr(b.booked_at)) }
                            }
                        }
                    }
                }
            }
            @if !s.cancelled {
                form class="form" method="post"
                    action=(req.link(&format!("/{}/cancel", slot.key))) {
                    (req.csrf_field())
                    label for=(motif) { "Motif de l'annulation (facultatif)" }
                    input type="text" id=(motif) name="motif" maxlength="300"
                        aria-describedby={ (motif) "-aide" };
                    p id={ (motif) "-aide" } class="hint" {
                        "Transmis par e-mail aux personnes inscrites."
                    }
                    button type="submit" class="danger" {
                        "Annuler ce créneau"
                        span class="sr-only" { " du " (time::when_fr(s.starts_at)) }
                    }
                }
            }
        }
    }
}

/// The label, hint and error of one input, and the attributes tying them to it.
struct Field<'a> {
    name: &'static str,
    label: &'a str,
    hint: Option<&'a str>,
    error: Option<&'a str>,
}

impl Field<'_> {
    /// `aria-describedby`: the hint's id, then the error's.
    fn described_by(&self) -> Option<String> {
        let ids: Vec<String> = [
            self.hint.map(|_| format!("{}-aide", self.name)),
            self.error.map(|_| format!("{}-erreur", self.name)),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!ids.is_empty()).then(|| ids.join(" "))
    }

    /// `aria-invalid`: `"true"` when the field is refused.
    fn invalid(&self) -> Option<&'static str> {
        self.error.map(|_| "true")
    }

    /// The label, then the error, then the input (which carries `id`, `name`,
    /// [`Self::described_by`] and [`Self::invalid`]), then the hint.
    fn render(&self, input: Markup) -> Markup {
        html! {
            label for=(self.name) { (self.label) }
            @if let Some(error) = self.error {
                p id={ (self.name) "-erreur" } class="notice error" { (error) }
            }
            (input)
            @if let Some(hint) = self.hint {
                p id={ (self.name) "-aide" } class="hint" { (hint) }
            }
        }
    }
}

/// The form to publish a slot, with its errors when re-rendered (the caller sets 422).
pub fn slot_form(req: &Request, input: &SlotInput, errors: &[FieldError]) -> Response {
    let field = |name: &'static str, label: &'static str, hint: Option<&'static str>| Field {
        name,
        label,
        hint,
        error: error_of(errors, name),
    };
    let start = field("debut", "Date et heure de début", Some("Heure de Paris."));
    let duration = field("duree", "Durée (en minutes)", None);
    let place = field(
        "lieu",
        "Lieu",
        Some("Par exemple : Mairie, salle du conseil."),
    );
    let link = field(
        "lien",
        "Lien de visioconférence",
        Some("Une adresse commençant par https://, envoyée aux seules personnes inscrites."),
    );
    let capacity = field("capacite", "Nombre de places", Some("De 1 à 50 personnes."));
    let topic = field(
        "sujet",
        "Thème",
        Some("Par exemple : Urbanisme et permis de construire."),
    );
    let description = field("description", "Description (facultatif)", None);
    let html = html! {
        h1 { "Publier un créneau de permanence" }
        @if !errors.is_empty() {
            div class="notice error" role="alert" aria-labelledby="erreurs-titre" {
                h2 id="erreurs-titre" {
                    "Le créneau n'a pas été publié : corrigez les champs suivants."
                }
                ul {
                    @for (name, message) in errors {
                        li { a href={ "#" (name) } { (message) } }
                    }
                }
            }
        }
        form class="form" method="post" action=(req.link("/new")) {
            (req.csrf_field())
            fieldset {
                legend { "Quand ?" }
                (start.render(html! {
                    input type="datetime-local" id=(start.name) name=(start.name)
                        aria-describedby=[start.described_by()] aria-invalid=[start.invalid()]
                        value=(input.start) required;
                }))
                (duration.render(html! {
                    input type="number" id=(duration.name) name=(duration.name)
                        aria-describedby=[duration.described_by()]
                        aria-invalid=[duration.invalid()]
                        value=(input.duration) min="5" max="480" step="5" required;
                }))
            }
            fieldset {
                legend { "Où ?" }
                p class="hint" { "Indiquez un lieu ou un lien de visioconférence, pas les deux." }
                (place.render(html! {
                    input type="text" id=(place.name) name=(place.name)
                        aria-describedby=[place.described_by()] aria-invalid=[place.invalid()]
                        value=(input.place) maxlength="300";
                }))
                (link.render(html! {
                    input type="url" id=(link.name) name=(link.name)
                        aria-describedby=[link.described_by()] aria-invalid=[link.invalid()]
                        value=(input.link) maxlength="300" pattern="https://.+";
                }))
            }
            (capacity.render(html! {
                input type="number" id=(capacity.name) name=(capacity.name)
                    aria-describedby=[capacity.described_by()] aria-invalid=[capacity.invalid()]
                    value=(input.capacity) min="1" max=(MAX_CAPACITY) required;
            }))
            (topic.render(html! {
                input type="text" id=(topic.name) name=(topic.name)
                    aria-describedby=[topic.described_by()] aria-invalid=[topic.invalid()]
                    value=(input.topic) maxlength="150" required;
            }))
            (description.render(html! {
                textarea id=(description.name) name=(description.name)
                    aria-describedby=[description.described_by()]
                    aria-invalid=[description.invalid()]
                    rows="5" maxlength="2000" { (input.description) }
            }))
            button type="submit" { "Publier le créneau" }
        }
        p { a href=(req.link("/")) { "Retour à l'agenda" } }
    };
    Response::page("Publier un créneau de permanence", html)
}
