//! HTML for citizens (and the pieces the admin pages share). Every value that did not come from
//! these literals goes through [`Esc`].

use crate::model::{Booking, BookingStatus, Slot, Venue};
use crate::time;
use parvis_module_sdk::prelude::*;
use std::fmt::Write as _;

/// `<time>` with the French day and hour.
pub fn when_html(secs: i64) -> String {
    format!(
        r#"<time datetime="{}">{}</time>"#,
        time::iso_utc(secs),
        Esc(&time::when_fr(secs))
    )
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
pub fn venue_html(slot: &Slot, show_link: bool) -> String {
    match &slot.venue {
        Venue::Place(place) => Esc(place).to_string(),
        Venue::Video(link) if show_link => format!(
            r#"En visioconférence : <a href="{0}" rel="noopener noreferrer">{0}</a>"#,
            Esc(link)
        ),
        Venue::Video(_) => "En visioconférence".to_owned(),
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
fn sign_in_link(req: &Request, path: &str) -> String {
    format!(
        r#"<a href="/connexion?next={}">connectez-vous</a>"#,
        Esc(&req.link(path))
    )
}

/// The public list of upcoming slots.
pub fn index(req: &Request, slots: &[(Doc<Slot>, u32)]) -> Response {
    let mut html = String::from("<h1>Permanences en ligne</h1>\n");
    let _ = writeln!(
        html,
        "<p>Les élus de {} vous reçoivent sur rendez-vous, en mairie ou en visioconférence. \
         Choisissez un créneau pour réserver une place.</p>",
        Esc(&req.commune.name)
    );
    if req.is_signed_in() {
        let _ = writeln!(
            html,
            r#"<p><a href="{}">Mes réservations</a></p>"#,
            Esc(&req.link("/mes-reservations"))
        );
    } else {
        let _ = writeln!(
            html,
            "<p>Pour réserver un créneau, {}.</p>",
            sign_in_link(req, "/")
        );
    }
    if slots.is_empty() {
        html.push_str("<p>Aucun créneau n'est proposé pour le moment.</p>\n");
        return Response::page("Permanences en ligne", html);
    }
    html.push_str(
        "<table>\n<caption>Prochains créneaux</caption>\n<thead><tr><th scope=\"col\">Date</th>\
         <th scope=\"col\">Horaire</th><th scope=\"col\">Thème</th><th scope=\"col\">Lieu</th>\
         <th scope=\"col\">Places restantes</th></tr></thead>\n<tbody>\n",
    );
    for (slot, left) in slots {
        let s = &slot.value;
        let _ = writeln!(
            html,
            r#"<tr><th scope="row"><time datetime="{}">{}</time></th><td>{}</td><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>"#,
            time::iso_utc(s.starts_at),
            Esc(&time::date_fr(s.starts_at)),
            Esc(&hours_text(s)),
            Esc(&req.link(&format!("/{}", slot.key))),
            Esc(&s.topic),
            venue_html(s, false),
            seats_text(*left, s.capacity),
        );
    }
    html.push_str("</tbody>\n</table>\n");
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
    let mut html = format!(
        "<p><a href=\"{}\">Tous les créneaux</a></p>\n<h1>{}</h1>\n<dl>\n\
         <dt>Date</dt><dd>{}</dd>\n<dt>Horaire</dt><dd>{} ({} minutes)</dd>\n\
         <dt>Tenue par</dt><dd>{}</dd>\n<dt>Lieu</dt><dd>{}</dd>\n\
         <dt>Places restantes</dt><dd>{}</dd>\n</dl>\n",
        Esc(&req.link("/")),
        Esc(&s.topic),
        when_html(s.starts_at),
        Esc(&hours_text(s)),
        s.duration_min,
        Esc(&s.host_name),
        venue_html(s, booked),
        seats_text(left, s.capacity),
    );
    if matches!(s.venue, Venue::Video(_)) && !booked {
        html.push_str(
            "<p>Le lien de la visioconférence est communiqué aux personnes inscrites, avec la \
             confirmation de réservation.</p>\n",
        );
    }
    for paragraph in s.description.split("\n\n").filter(|p| !p.trim().is_empty()) {
        let _ = writeln!(html, "<p>{}</p>", Esc(paragraph.trim()));
    }
    html.push_str("<h2>Réserver</h2>\n");
    let mut status = 200;
    match bookable {
        Bookable::SignIn => {
            let _ = writeln!(
                html,
                "<p>Pour réserver ce créneau, {}.</p>",
                sign_in_link(req, &format!("/{}", slot.key))
            );
        }
        Bookable::Booked(booking) => {
            let _ = writeln!(
                html,
                "<p>Vous avez réservé ce créneau. Objet : « {} ».</p>\n\
                 <p><a href=\"{}\">Gérer mes réservations</a></p>",
                Esc(&booking.value.subject),
                Esc(&req.link("/mes-reservations"))
            );
        }
        Bookable::Cancelled => {
            html.push_str("<p>Ce créneau a été annulé par la commune.</p>\n");
        }
        Bookable::Past => html.push_str("<p>Ce créneau est passé.</p>\n"),
        Bookable::Full => html.push_str("<p>Ce créneau est complet.</p>\n"),
        Bookable::Open { subject, error } => {
            if error.is_some() {
                status = 422;
            }
            html.push_str(&booking_form(req, &slot.key, subject, error));
        }
    }
    Response::page(s.topic.clone(), html).with_status(status)
}

fn booking_form(req: &Request, slot: &str, subject: &str, error: Option<&str>) -> String {
    let (error_html, described, invalid) = match error {
        Some(message) => (
            format!(
                "<p id=\"objet-erreur\" class=\"notice error\">{}</p>\n",
                Esc(message)
            ),
            "objet-aide objet-erreur",
            " aria-invalid=\"true\"",
        ),
        None => (String::new(), "objet-aide", ""),
    };
    format!(
        "<form class=\"form\" method=\"post\" action=\"{}\">\n{}\n\
         <label for=\"objet\">Objet de votre demande (obligatoire)</label>\n{error_html}\
         <textarea id=\"objet\" name=\"objet\" rows=\"4\" maxlength=\"{}\" required \
         aria-describedby=\"{described}\"{invalid}>{}</textarea>\n\
         <p id=\"objet-aide\" class=\"hint\">Quelques mots, {} caractères au plus, pour que l'élu \
         prépare votre rendez-vous. Seule la commune les lit.</p>\n\
         <button type=\"submit\">Réserver ce créneau</button>\n</form>\n",
        Esc(&req.link(&format!("/{slot}/book"))),
        req.csrf_field(),
        crate::model::MAX_SUBJECT,
        Esc(subject),
        crate::model::MAX_SUBJECT,
    )
}

/// A booking with its slot, for the citizen's list.
pub type BookingRow = (Doc<Booking>, Doc<Slot>);

/// The citizen's bookings: upcoming ones with their actions, past ones folded.
pub fn my_bookings(req: &Request, upcoming: &[BookingRow], past: &[BookingRow]) -> Response {
    let mut html = String::from("<h1>Mes réservations</h1>\n");
    let _ = writeln!(
        html,
        "<p><a href=\"{}\">Voir les créneaux proposés</a></p>",
        Esc(&req.link("/"))
    );
    html.push_str("<h2>Rendez-vous à venir</h2>\n");
    if upcoming.is_empty() {
        html.push_str("<p>Vous n'avez aucun rendez-vous à venir.</p>\n");
    } else {
        html.push_str(
            "<table>\n<caption>Vos rendez-vous à venir</caption>\n<thead><tr>\
             <th scope=\"col\">Date</th><th scope=\"col\">Thème</th><th scope=\"col\">Lieu</th>\
             <th scope=\"col\">Objet</th><th scope=\"col\">Actions</th></tr></thead>\n<tbody>\n",
        );
        for (booking, slot) in upcoming {
            let actions = match booking.value.status {
                BookingStatus::SlotCancelled => "Annulé par la commune".to_owned(),
                BookingStatus::Confirmed => booking_actions(req, booking, &slot.value),
            };
            let _ = writeln!(
                html,
                "<tr><th scope=\"row\">{}</th><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                when_html(slot.value.starts_at),
                Esc(&req.link(&format!("/{}", slot.key))),
                Esc(&slot.value.topic),
                venue_html(
                    &slot.value,
                    booking.value.status == BookingStatus::Confirmed
                ),
                Esc(&booking.value.subject),
                actions,
            );
        }
        html.push_str("</tbody>\n</table>\n");
    }
    if !past.is_empty() {
        let _ = writeln!(
            html,
            "<h2>Rendez-vous passés</h2>\n<details>\n<summary>Afficher les {} rendez-vous passés</summary>\n<ul>",
            past.len()
        );
        for (booking, slot) in past {
            let cancelled = if booking.value.status == BookingStatus::SlotCancelled {
                " (annulé par la commune)"
            } else {
                ""
            };
            let _ = writeln!(
                html,
                "<li>{} — {}{cancelled}</li>",
                when_html(slot.value.starts_at),
                Esc(&slot.value.topic)
            );
        }
        html.push_str("</ul>\n</details>\n");
    }
    Response::page("Mes réservations", html)
}

fn booking_actions(req: &Request, booking: &Doc<Booking>, slot: &Slot) -> String {
    let when = time::when_fr(slot.starts_at);
    format!(
        "<ul class=\"actions\">\n<li><a href=\"{}\">Déplacer<span class=\"sr-only\"> le \
         rendez-vous du {when_esc}</span></a></li>\n<li><a href=\"{}\">Ajouter à mon agenda \
         (.ics)<span class=\"sr-only\"> : rendez-vous du {when_esc}</span></a></li>\n\
         <li><form class=\"inline\" method=\"post\" action=\"{}\">{}<button type=\"submit\" \
         class=\"danger\">Annuler<span class=\"sr-only\"> le rendez-vous du {when_esc}</span>\
         </button></form></li>\n</ul>",
        Esc(&req.link(&format!("/mes-reservations/{}/deplacer", booking.key))),
        Esc(&req.link(&format!("/mes-reservations/{}/invitation.ics", booking.key))),
        Esc(&req.link(&format!("/mes-reservations/{}/annuler", booking.key))),
        req.csrf_field(),
        when_esc = Esc(&when),
    )
}

/// The page to move a booking to another slot.
pub fn move_form(
    req: &Request,
    booking: &Doc<Booking>,
    current: &Slot,
    choices: &[(Doc<Slot>, u32)],
    error: Option<&str>,
) -> Response {
    let mut html = format!(
        "<h1>Déplacer mon rendez-vous</h1>\n<p>Rendez-vous actuel : {} — {}.</p>\n\
         <p>Votre place actuelle n'est libérée que si le nouveau créneau vous est bien réservé.</p>\n",
        when_html(current.starts_at),
        Esc(&current.topic),
    );
    let back = format!(
        "<p><a href=\"{}\">Retour à mes réservations</a></p>\n",
        Esc(&req.link("/mes-reservations"))
    );
    if let Some(message) = error {
        let _ = writeln!(
            html,
            "<p id=\"creneau-erreur\" class=\"notice error\" role=\"alert\">{}</p>",
            Esc(message)
        );
    }
    if choices.is_empty() {
        html.push_str("<p>Aucun autre créneau n'a de place libre pour le moment.</p>\n");
        html.push_str(&back);
        return Response::page("Déplacer mon rendez-vous", html);
    }
    let _ = writeln!(
        html,
        "<form method=\"post\" action=\"{}\">\n{}\n<fieldset>\n<legend>Choisissez un nouveau créneau</legend>",
        Esc(&req.link(&format!("/mes-reservations/{}/deplacer", booking.key))),
        req.csrf_field()
    );
    for (i, (slot, left)) in choices.iter().enumerate() {
        let s = &slot.value;
        let _ = writeln!(
            html,
            "<div class=\"choice\"><input type=\"radio\" id=\"creneau-{i}\" name=\"creneau\" value=\"{}\" required>\
             <label for=\"creneau-{i}\">{} — {} — {} ({})</label></div>",
            Esc(&slot.key),
            Esc(&time::when_fr(s.starts_at)),
            Esc(&s.topic),
            venue_html(s, false),
            seats_text(*left, s.capacity),
        );
    }
    html.push_str(
        "</fieldset>\n<button type=\"submit\">Déplacer le rendez-vous</button>\n</form>\n",
    );
    html.push_str(&back);
    Response::page("Déplacer mon rendez-vous", html)
}
