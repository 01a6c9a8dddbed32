//! HTML for officials: the agenda and the slot form.

use crate::form::{FieldError, SlotInput};
use crate::model::{Booking, BookingStatus, MAX_CAPACITY, Slot};
use crate::time;
use crate::views::{hours_text, venue_html, when_html};
use parvis_module_sdk::prelude::*;
use std::fmt::Write as _;

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
    let mut html = format!(
        "<h1>Agenda des permanences</h1>\n<p><a class=\"button\" href=\"{}\">Publier un créneau</a></p>\n\
         <h2>Créneaux à venir</h2>\n",
        Esc(&req.link("/new"))
    );
    if upcoming.is_empty() {
        html.push_str("<p>Aucun créneau à venir.</p>\n");
    }
    for entry in upcoming {
        html.push_str(&upcoming_entry(req, entry));
    }
    html.push_str("<h2>Créneaux passés</h2>\n");
    if past.is_empty() {
        html.push_str("<p>Aucun créneau passé.</p>\n");
    } else {
        let _ = writeln!(
            html,
            "<details>\n<summary>Afficher les {} derniers créneaux passés</summary>\n<table>\n\
             <caption>Créneaux passés, du plus récent au plus ancien</caption>\n<thead><tr>\
             <th scope=\"col\">Date</th><th scope=\"col\">Thème</th><th scope=\"col\">Lieu</th>\
             <th scope=\"col\">Réservations</th></tr></thead>\n<tbody>",
            past.len()
        );
        for entry in past {
            let s = &entry.slot.value;
            let bookings = if s.cancelled {
                "Annulé".to_owned()
            } else if entry.bookings.is_empty() {
                "Aucune".to_owned()
            } else {
                let items: String = entry
                    .bookings
                    .iter()
                    .map(|b| {
                        format!(
                            "<li>{} : {}</li>",
                            Esc(&b.value.name),
                            Esc(&b.value.subject)
                        )
                    })
                    .collect();
                format!("<ul>{items}</ul>")
            };
            let _ = writeln!(
                html,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{bookings}</td></tr>",
                when_html(s.starts_at),
                Esc(&s.topic),
                venue_html(s, true),
            );
        }
        html.push_str("</tbody>\n</table>\n</details>\n");
    }
    Response::page("Agenda des permanences", html)
}

fn upcoming_entry(req: &Request, entry: &AgendaEntry) -> String {
    let slot = &entry.slot;
    let s = &slot.value;
    let id = format!("creneau-{}", slot.key);
    let mut html = format!(
        "<section class=\"card\" aria-labelledby=\"{id}\">\n<h3 id=\"{id}\">{} — {}</h3>\n\
         <p>{} ({} minutes) · {} · Tenue par {}</p>\n",
        when_html(s.starts_at),
        Esc(&s.topic),
        Esc(&hours_text(s)),
        s.duration_min,
        venue_html(s, true),
        Esc(&s.host_name),
    );
    if s.cancelled {
        let _ = writeln!(
            html,
            "<p><strong>Créneau annulé.</strong>{}</p>",
            s.cancel_reason
                .as_deref()
                .map(|r| format!(" Motif : {}", Esc(r)))
                .unwrap_or_default()
        );
    } else {
        let _ = writeln!(
            html,
            "<p>{} réservation(s) sur {} place(s).</p>",
            entry.confirmed(),
            s.capacity
        );
    }
    if entry.bookings.is_empty() {
        html.push_str("<p>Aucune réservation pour l'instant.</p>\n");
    } else {
        let caption = if s.cancelled {
            "Personnes inscrites, prévenues de l'annulation"
        } else {
            "Réservations"
        };
        let _ = writeln!(
            html,
            "<table>\n<caption>{caption}</caption>\n<thead><tr><th scope=\"col\">Personne</th>\
             <th scope=\"col\">Objet de la demande</th><th scope=\"col\">Réservé le</th></tr></thead>\n<tbody>"
        );
        for booking in &entry.bookings {
            let b = &booking.value;
            let _ = writeln!(
                html,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td></tr>",
                Esc(&b.name),
                Esc(&b.subject),
                Esc(&time::short_fr(b.booked_at)),
            );
        }
        html.push_str("</tbody>\n</table>\n");
    }
    if !s.cancelled {
        let _ = writeln!(
            html,
            "<form class=\"form\" method=\"post\" action=\"{}\">\n{}\n\
             <label for=\"motif-{key}\">Motif de l'annulation (facultatif)</label>\n\
             <input type=\"text\" id=\"motif-{key}\" name=\"motif\" maxlength=\"300\" \
             aria-describedby=\"motif-{key}-aide\">\n\
             <p id=\"motif-{key}-aide\" class=\"hint\">Transmis par e-mail aux personnes inscrites.</p>\n\
             <button type=\"submit\" class=\"danger\">Annuler ce créneau<span class=\"sr-only\"> du {}</span></button>\n</form>",
            Esc(&req.link(&format!("/{}/cancel", slot.key))),
            req.csrf_field(),
            Esc(&time::when_fr(s.starts_at)),
            key = Esc(&slot.key),
        );
    }
    html.push_str("</section>\n");
    html
}

/// The label, hint and error of one input, and the attributes tying them to it.
struct Field<'a> {
    name: &'static str,
    label: &'a str,
    hint: Option<&'a str>,
    error: Option<&'a str>,
}

impl Field<'_> {
    /// The label, then the error, then the input (built with the returned attributes), then the
    /// hint.
    fn render(&self, input: impl FnOnce(&str) -> String) -> String {
        let mut described = Vec::new();
        if self.hint.is_some() {
            described.push(format!("{}-aide", self.name));
        }
        if self.error.is_some() {
            described.push(format!("{}-erreur", self.name));
        }
        let mut attrs = format!(" id=\"{0}\" name=\"{0}\"", self.name);
        if !described.is_empty() {
            let _ = write!(attrs, " aria-describedby=\"{}\"", described.join(" "));
        }
        if self.error.is_some() {
            attrs.push_str(" aria-invalid=\"true\"");
        }
        let mut html = format!("<label for=\"{}\">{}</label>\n", self.name, self.label);
        if let Some(error) = self.error {
            let _ = writeln!(
                html,
                "<p id=\"{}-erreur\" class=\"notice error\">{}</p>",
                self.name,
                Esc(error)
            );
        }
        html.push_str(&input(&attrs));
        html.push('\n');
        if let Some(hint) = self.hint {
            let _ = writeln!(
                html,
                "<p id=\"{}-aide\" class=\"hint\">{hint}</p>",
                self.name
            );
        }
        html
    }
}

/// The form to publish a slot, with its errors when re-rendered (the caller sets 422).
pub fn slot_form(req: &Request, input: &SlotInput, errors: &[FieldError]) -> Response {
    let error = |name: &str| {
        errors
            .iter()
            .find(|(field, _)| *field == name)
            .map(|(_, message)| message.as_str())
    };
    let mut html = String::from("<h1>Publier un créneau de permanence</h1>\n");
    if !errors.is_empty() {
        html.push_str(
            "<div class=\"notice error\" role=\"alert\" aria-labelledby=\"erreurs-titre\">\n\
             <h2 id=\"erreurs-titre\">Le créneau n'a pas été publié : corrigez les champs suivants.</h2>\n<ul>\n",
        );
        for (field, message) in errors {
            let _ = writeln!(html, "<li><a href=\"#{field}\">{}</a></li>", Esc(message));
        }
        html.push_str("</ul>\n</div>\n");
    }
    let _ = writeln!(
        html,
        "<form class=\"form\" method=\"post\" action=\"{}\">\n{}",
        Esc(&req.link("/new")),
        req.csrf_field()
    );
    html.push_str("<fieldset>\n<legend>Quand ?</legend>\n");
    html.push_str(
        &Field {
            name: "debut",
            label: "Date et heure de début",
            hint: Some("Heure de Paris."),
            error: error("debut"),
        }
        .render(|a| {
            format!(
                "<input type=\"datetime-local\"{a} value=\"{}\" required>",
                Esc(&input.start)
            )
        }),
    );
    html.push_str(
        &Field {
            name: "duree",
            label: "Durée (en minutes)",
            hint: None,
            error: error("duree"),
        }
        .render(|a| {
            format!(
                "<input type=\"number\"{a} value=\"{}\" min=\"5\" max=\"480\" step=\"5\" required>",
                Esc(&input.duration)
            )
        }),
    );
    html.push_str("</fieldset>\n<fieldset>\n<legend>Où ?</legend>\n");
    html.push_str(
        "<p class=\"hint\">Indiquez un lieu ou un lien de visioconférence, pas les deux.</p>\n",
    );
    html.push_str(
        &Field {
            name: "lieu",
            label: "Lieu",
            hint: Some("Par exemple : Mairie, salle du conseil."),
            error: error("lieu"),
        }
        .render(|a| {
            format!(
                "<input type=\"text\"{a} value=\"{}\" maxlength=\"300\">",
                Esc(&input.place)
            )
        }),
    );
    html.push_str(
        &Field {
            name: "lien",
            label: "Lien de visioconférence",
            hint: Some(
                "Une adresse commençant par https://, envoyée aux seules personnes inscrites.",
            ),
            error: error("lien"),
        }
        .render(|a| {
            format!(
                "<input type=\"url\"{a} value=\"{}\" maxlength=\"300\" pattern=\"https://.+\">",
                Esc(&input.link)
            )
        }),
    );
    html.push_str("</fieldset>\n");
    html.push_str(
        &Field {
            name: "capacite",
            label: "Nombre de places",
            hint: Some("De 1 à 50 personnes."),
            error: error("capacite"),
        }
        .render(|a| {
            format!(
                "<input type=\"number\"{a} value=\"{}\" min=\"1\" max=\"{MAX_CAPACITY}\" required>",
                Esc(&input.capacity)
            )
        }),
    );
    html.push_str(
        &Field {
            name: "sujet",
            label: "Thème",
            hint: Some("Par exemple : Urbanisme et permis de construire."),
            error: error("sujet"),
        }
        .render(|a| {
            format!(
                "<input type=\"text\"{a} value=\"{}\" maxlength=\"150\" required>",
                Esc(&input.topic)
            )
        }),
    );
    html.push_str(
        &Field {
            name: "description",
            label: "Description (facultatif)",
            hint: None,
            error: error("description"),
        }
        .render(|a| {
            format!(
                "<textarea{a} rows=\"5\" maxlength=\"2000\">{}</textarea>",
                Esc(&input.description)
            )
        }),
    );
    let _ = writeln!(
        html,
        "<button type=\"submit\">Publier le créneau</button>\n</form>\n<p><a href=\"{}\">Retour à l'agenda</a></p>",
        Esc(&req.link("/"))
    );
    Response::page("Publier un créneau de permanence", html)
}
