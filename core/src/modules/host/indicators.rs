//! `parvis:module/indicators` (since 0.2.7): the figures the commune's modules publish as
//! counters named `indicateur:{name}:{neighbourhood or -}:{YYYY-MM}`, read for a module that
//! maps them (the géo-évaluation). It is storage: the `storage` capability, the call's
//! transaction and its read bounds; only the request's commune, only its switched-on modules.

use std::time::Instant;

use crate::modules::bindings::parvis::module::indicators::{Error, Figure, Host};
use crate::modules::call::{CallState, Capability};
use crate::modules::host::storage::denied;
use crate::modules::store::{self, INDICATOR_PREFIX, MAX_INDICATOR_ROWS};

/// Most figures one `read` answers.
pub const MAX_FIGURES: usize = 20_000;

/// `YYYY-MM`, a month as the figures' names carry it.
fn is_month(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit())
        && matches!(
            &s[5..],
            "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
        )
}

/// A counter's name read as a figure: `(name, neighbourhood, month)`, or none when it does
/// not follow the pattern (the module's own business, not a figure).
pub fn parse(counter: &str) -> Option<(&str, Option<&str>, &str)> {
    let rest = counter.strip_prefix(INDICATOR_PREFIX)?;
    let mut parts = rest.split(':');
    let (name, place, month) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || name.is_empty() || place.is_empty() || !is_month(month) {
        return None;
    }
    Some((name, (place != "-").then_some(place), month))
}

impl Host for CallState {
    async fn read(&mut self, since: String) -> Result<Vec<Figure>, Error> {
        let _leaving = self.leaving_database();
        if !is_month(&since) {
            return Err(Error::Invalid(format!(
                "mois « {} » : attendu AAAA-MM (2026-01)",
                since.chars().take(20).collect::<String>()
            )));
        }
        let tx = self.tx(Capability::Storage).await.map_err(denied)?;
        let started = Instant::now();
        let found = store::indicators(tx).await;
        let rows = match found {
            Ok(rows) => rows,
            Err(e) => return Err(Error::Unavailable(self.fail(&e))),
        };
        self.read_documents(started.elapsed(), rows.len());
        if rows.len() > MAX_INDICATOR_ROWS {
            return Err(Error::Invalid(format!(
                "plus de {MAX_INDICATOR_ROWS} compteurs publiés dans la commune"
            )));
        }
        let mut figures = Vec::new();
        for (module, counter, value) in rows {
            let Some((name, neighbourhood, month)) = parse(&counter) else {
                continue;
            };
            if month < since.as_str() {
                continue;
            }
            if figures.len() == MAX_FIGURES {
                return Err(Error::Invalid(format!(
                    "plus de {MAX_FIGURES} chiffres depuis {since} : demandez moins de mois"
                )));
            }
            figures.push(Figure {
                module: module.clone(),
                name: name.to_string(),
                neighbourhood: neighbourhood.map(str::to_string),
                month: month.to_string(),
                value,
            });
        }
        figures.sort_by(|a, b| {
            (&a.module, &a.name, &a.neighbourhood, &a.month).cmp(&(
                &b.module,
                &b.name,
                &b.neighbourhood,
                &b.month,
            ))
        });
        Ok(figures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_named_counters_are_figures() {
        assert_eq!(
            parse("indicateur:signalements:vieille-ville:2026-11"),
            Some(("signalements", Some("vieille-ville"), "2026-11"))
        );
        assert_eq!(
            parse("indicateur:soutiens:-:2026-01"),
            Some(("soutiens", None, "2026-01"))
        );
        for not in [
            "signalements:vieille-ville:2026-11",
            "indicateur:signalements:2026-11",
            "indicateur:a:b:2026-13",
            "indicateur:a:b:2026-1",
            "indicateur::b:2026-01",
            "indicateur:a:b:2026-01:x",
        ] {
            assert_eq!(parse(not), None, "{not}");
        }
    }
}
