//! HTML for citizens (and the pieces the admin pages share), as maud templates: every value
//! they splice is escaped.

use crate::model::{Booking, BookingStatus, MAX_SUBJECT, Slot, Venue};
use crate::time;
use parvis_module_sdk::prelude::*;

/// `<time>` with the French day and hour.
pub fn when_html(secs: i64) -> Markup {
    html! { time datetime=(time::iso_utc(secs)) { (time::when_fr(secs)) } }
}

/// `de 9 h 00 à 9 h 30`.
pub fn hours_text(slot: &Slot) -> String {
    format!(
        "de {} à {}",
        time::hour_fr(slot.starts_at),
        time::hour_fr(slot.ends_at())
    )
}

/// Where the slot takes place; the video link only for those who may join.
pub fn venue_html(slot: &Slot, show_link: bool) -> Markup {
    html! {
        @match &slot.venue {
            Venue::Place(place) => (place),
            Venue::Video(link) if show_link => {
                "En visioconférence : "
                a href=(link) rel="noopener noreferrer" { (link) }
            },
            Venue::Video(_) => "En visioconférence",
        }
    }
}

/// `2 places sur 4`, or `Complet`.
pub fn seats_text(left: u32, capacity: u32) -> String {
    match left {
        0 => "Complet".to_owned(),
        1 => format!("1 place sur {capacity}"),
        n => format!("{n} places sur {capacity}"),
    }
}

/// The sign-in link that brings the citizen back here.
fn sign_in_link(req: &Request, path: &str) -> Markup {
    html! { a href={ "/connexion?next=" (req.link(path)) } { "connectez-vous" } }
}

/// The public list of upcoming slots.
pub fn index(req: &Request, slots: &[(Doc<Slot>, u32)]) -> Response {
    let html = html! {
        h1 { "Permanences en ligne" }
        p {
            "Les élus " (req.commune.de()) " vous reçoivent sur rendez-vous, en mairie ou en \
             visioconférence. Choisissez un créneau pour réserver une place."
        }
        @if req.is_signed_in() {
            p { a href=(req.link("/mes-reservations")) { "Mes réservations" } }
        } @else {
            p { "Pour réserver un créneau, " (sign_in_link(req, "/")) "." }
        }
        @if slots.is_empty() {
            p { "Aucun créneau n'est proposé pour le moment." }
        } @else {
            table {
                (table_head(Some("Prochains créneaux"), &["Date", "Horaire", "Thème", "Lieu", "Places restantes"]))
                tbody {
                    @for (slot, left) in slots {
                        @let s = &slot.value;
                        tr {
                            th scope="row" {
                                time datetime=(time::iso_utc(s.starts_at)) {
                                    (time::date_fr(s.starts_at))
                                }
                            }
                            td { (hours_text(s)) }
                            td { a href=(req.link(&format!("/{}", slot.key))) { (s.topic) } }
                            td { (venue_html(s, false)) }
                            td { (seats_text(*left, s.capacity)) }
                        }
                    }
                }
            }
        }
    };
    Response::page("Permanences en ligne", html)
}

/// What the viewer can do with a slot.
pub enum Bookable<'a> {
    /// Anonymous: sign in first.
    SignIn,
    /// Already booked by the viewer.
    Booked(&'a Doc<Booking>),
    /// Cancelled by the commune.
    Cancelled,
    /// Already started.
    Past,
    /// No seat left.
    Full,
    /// The booking form, with the subject typed so far and its error.
    Open {
        /// The subject as typed.
        subject: &'a str,
        /// Why it was refused.
        error: Option<&'a str>,
    },
}

/// One slot, with its booking form.
pub fn slot(req: &Request, slot: &Doc<Slot>, left: u32, bookable: Bookable<'_>) -> Response {
    let s = &slot.value;
    let booked = matches!(bookable, Bookable::Booked(_));
    let status = match bookable {
        Bookable::Open { error: Some(_), .. } => 422,
        _ => 200,
    };
    let html = html! {
        p { a href=(req.link("/")) { "Tous les créneaux" } }
        h1 { (s.topic) }
        dl {
            dt { "Date" } dd { (when_html(s.starts_at)) }
            dt { "Horaire" } dd { (hours_text(s)) " (" (s.duration_min) " minutes)" }
            dt { "Tenue par" } dd { (s.host_name) }
            dt { "Lieu" } dd { (venue_html(s, booked)) }
            dt { "Places restantes" } dd { (seats_text(left, s.capacity)) }
        }
        @if matches!(s.venue, Venue::Video(_)) && !booked {
            p {
                "Le lien de la visioconférence est communiqué aux personnes inscrites, avec la \
                 confirmation de réservation."
            }
        }
        @for paragraph in s.description.split("\n\n").filter(|p| !p.trim().is_empty()) {
            p { (paragraph.trim()) }
        }
        h2 { "Réserver" }
        @match bookable {
            Bookable::SignIn => p {
                "Pour réserver ce créneau, "
                (sign_in_link(req, &format!("/{}", slot.key)))
                "."
            },
            Bookable::Booked(booking) => {
                p { "Vous avez réservé ce créneau. Objet : « " (booking.value.subject) " »." }
                p { a href=(req.link("/mes-reservations")) { "Gérer mes réservations" } }
            },
            Bookable::Cancelled => p { "Ce créneau a été annulé par la commune." },
            Bookable::Past => p { "Ce créneau est passé." },
            Bookable::Full => p { "Ce créneau est complet." },
            Bookable::Open { subject, error } => (booking_form(req, &slot.key, subject, error)),
        }
    };
    Response::page(s.topic.clone(), html).with_status(status)
}

fn booking_form(req: &Request, slot: &str, subject: &str, error: Option<&str>) -> Markup {
    let described = match error {
        Some(_) => "objet-aide objet-erreur",
        None => "objet-aide",
    };
    html! {
        form class="form" method="post" action=(req.link(&format!("/{slot}/book"))) {
            (req.csrf_field())
            label for="objet" { "Objet de votre demande (obligatoire)" }
            @if let Some(message) = error {
                p id="objet-erreur" class="notice error" { (message) }
            }
            textarea id="objet" name="objet" rows="4" maxlength=(MAX_SUBJECT) required
                aria-describedby=(described) aria-invalid=[error.map(|_| "true")] {
                (subject)
            }
            p id="objet-aide" class="hint" {
                "Quelques mots, " (MAX_SUBJECT) " caractères au plus, pour que l'élu prépare \
                 votre rendez-vous. Seule la commune les lit."
            }
            button type="submit" { "Réserver ce créneau" }
        }
    }
}

/// A booking with its slot, for the citizen's list.
pub type BookingRow = (Doc<Booking>, Doc<Slot>);

/// The citizen's bookings: upcoming ones with their actions, past ones folded.
pub fn my_bookings(req: &Request, upcoming: &[BookingRow], past: &[BookingRow]) -> Response {
    let html = html! {
        h1 { "Mes réservations" }
        p { a href=(req.link("/")) { "Voir les créneaux proposés" } }
        h2 { "Rendez-vous à venir" }
        @if upcoming.is_empty() {
            p { "Vous n'avez aucun rendez-vous à venir." }
        } @else {
            table {
                (table_head(Some("Vos rendez-vous à venir"), &["Date", "Thème", "Lieu", "Objet", "Actions"]))
                tbody {
                    @for (booking, slot) in upcoming {
                        @let confirmed = booking.value.status == BookingStatus::Confirmed;
                        tr {
                            th scope="row" { (when_html(slot.value.starts_at)) }
                            td {
                                a href=(req.link(&format!("/{}", slot.key))) { (slot.value.topic) }
                            }
                            td { (venue_html(&slot.value, confirmed)) }
                            td { (booking.value.subject) }
                            td {
                                @if confirmed {
                                    (booking_actions(req, booking, &slot.value))
                                } @else {
                                    "Annulé par la commune"
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !past.is_empty() {
            h2 { "Rendez-vous passés" }
            details {
                summary { "Afficher les " (past.len()) " rendez-vous passés" }
                ul {
                    @for (booking, slot) in past {
                        li {
                            (when_html(slot.value.starts_at)) " — " (slot.value.topic)
                            @if booking.value.status == BookingStatus::SlotCancelled {
                                " (annulé par la commune)"
                            }
                        }
                    }
                }
            }
        }
    };
    Response::page("Mes réservations", html)
}

fn booking_actions(req: &Request, booking: &Doc<Booking>, slot: &Slot) -> Markup {
    let when = time::when_fr(slot.starts_at);
    let link = |action: &str| req.link(&format!("/mes-reservations/{}/{action}", booking.key));
    html! {
        ul class="actions" {
            li {
                a href=(link("deplacer")) {
                    "Déplacer"
                    span class="sr-only" { " le rendez-vous du " (when) }
                }
            }
            li {
                a href=(link("invitation.ics")) {
                    "Ajouter à mon agenda (.ics)"
                    span class="sr-only" { " : rendez-vous du " (when) }
                }
            }
            li {
                form class="inline" method="post" action=(link("annuler")) {
                    (req.csrf_field())
                    button type="submit" class="danger" {
                        "Annuler"
                        span class="sr-only" { " le rendez-vous du " (when) }
                    }
                }
            }
        }
    }
}

/// The page to move a booking to another slot.
pub fn move_form(
    req: &Request,
    booking: &Doc<Booking>,
    current: &Slot,
    choices: &[(Doc<Slot>, u32)],
    error: Option<&str>,
) -> Response {
    let html = html! {
        h1 { "Déplacer mon rendez-vous" }
        p { "Rendez-vous actuel : " (when_html(current.starts_at)) " — " (current.topic) "." }
        p {
            "Votre place actuelle n'est libérée que si le nouveau créneau vous est bien réservé."
        }
        @if let Some(message) = error {
            p id="creneau-erreur" class="notice error" role="alert" { (message) }
        }
        @if choices.is_empty() {
            p { "Aucun autre créneau n'a de place libre pour le moment." }
        } @else {
            form method="post"
                action=(req.link(&format!("/mes-reservations/{}/deplacer", booking.key))) {
                (req.csrf_field())
                fieldset {
                    legend { "Choisissez un nouveau créneau" }
                    @for (i, (slot, left)) in choices.iter().enumerate() {
                        @let s = &slot.value;
                        div class="choice" {
                            input type="radio" id={ "creneau-" (i) } name="creneau" value=(slot.key)
                                required;
                            label for={ "creneau-" (i) } {
                                (time::when_fr(s.starts_at)) " — " (s.topic) " — "
                                (venue_html(s, false)) " (" (seats_text(*left, s.capacity)) ")"
                            }
                        }
                    }
                }
                button type="submit" { "Déplacer le rendez-vous" }
            }
        }
        p { a href=(req.link("/mes-reservations")) { "Retour à mes réservations" } }
    };
    Response::page("Déplacer mon rendez-vous", html)
}
