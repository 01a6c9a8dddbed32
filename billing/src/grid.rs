//! The price grid: population tiers and, for each premium offer (a module or a bundle), a
//! monthly and a yearly price per tier. Read from `billing/grid.toml` (compiled in) or from
//! the file `PARVIS_BILLING_GRID` names, and validated before anything uses it.

use std::path::Path;

use serde::Deserialize;

/// The grid shipped with Parvis.
pub const DEFAULT_GRID: &str = include_str!("../grid.toml");

/// A grid that cannot be used, with the reason.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    /// The TOML could not be read or parsed.
    #[error("grille tarifaire {0} illisible : {1}")]
    Read(String, String),
    /// The grid is inconsistent.
    #[error("grille tarifaire : {0}")]
    Invalid(String),
}

/// Billing interval of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    /// Billed every month.
    Month,
    /// Billed every year.
    Year,
}

impl Interval {
    /// `month` or `year`, as Stripe spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }

    /// From Stripe's or a form's spelling.
    pub fn parse(s: &str) -> Option<Interval> {
        match s {
            "month" | "mensuel" => Some(Interval::Month),
            "year" | "annuel" => Some(Interval::Year),
            _ => None,
        }
    }

    /// `mensuel` or `annuel`.
    pub fn label(self) -> &'static str {
        match self {
            Interval::Month => "mensuel",
            Interval::Year => "annuel",
        }
    }
}

/// A population stratum.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Short id used in lookup keys (`s3`).
    pub id: String,
    /// What a mayor reads (`2 000 à 3 499 habitants`).
    pub label: String,
    /// Largest population of the tier; the last tier has none.
    pub max: Option<u64>,
}

/// Something a commune can subscribe to: one premium module or a bundle of them.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Offer {
    /// Id used in lookup keys and forms (`office-hours`, `pack`).
    pub id: String,
    /// Product name shown on Checkout and invoices.
    pub name: String,
    /// One sentence for the billing page.
    pub description: String,
    /// The premium modules it entitles.
    pub modules: Vec<String>,
    /// `[monthly, yearly]` in cents per tier, in the grid's tier order.
    pub prices: Vec<[u64; 2]>,
}

impl Offer {
    /// The price in cents for a tier index and interval.
    pub fn price(&self, tier: usize, interval: Interval) -> Option<u64> {
        let pair = self.prices.get(tier)?;
        Some(match interval {
            Interval::Month => pair[0],
            Interval::Year => pair[1],
        })
    }
}

/// The whole grid.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// ISO 4217, lowercase.
    pub currency: String,
    /// Days premium modules stay on after a failed payment.
    pub grace_days: u32,
    /// Tiers by increasing population.
    pub tiers: Vec<Tier>,
    /// Premium offers.
    pub offers: Vec<Offer>,
}

impl Grid {
    /// Parses and validates a grid.
    pub fn parse(text: &str, origin: &str) -> Result<Grid, GridError> {
        let grid: Grid =
            toml::from_str(text).map_err(|e| GridError::Read(origin.into(), e.to_string()))?;
        grid.validate()?;
        Ok(grid)
    }

    /// The grid in `path`, or the embedded one.
    pub fn load(path: Option<&Path>) -> Result<Grid, GridError> {
        match path {
            None => Grid::parse(DEFAULT_GRID, "intégrée"),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| GridError::Read(p.display().to_string(), e.to_string()))?;
                Grid::parse(&text, &p.display().to_string())
            }
        }
    }

    fn validate(&self) -> Result<(), GridError> {
        let bad = |m: String| Err(GridError::Invalid(m));
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_lowercase()) {
            return bad(format!(
                "devise « {} » : attendu un code ISO 4217 en minuscules (eur)",
                self.currency
            ));
        }
        if self.tiers.is_empty() {
            return bad("aucune tranche de population".into());
        }
        let mut previous: Option<u64> = None;
        for (i, tier) in self.tiers.iter().enumerate() {
            if !valid_id(&tier.id) {
                return bad(format!("identifiant de tranche « {} » invalide", tier.id));
            }
            let last = i + 1 == self.tiers.len();
            match (tier.max, last) {
                (None, false) => {
                    return bad(format!(
                        "la tranche « {} » n'a pas de maximum alors qu'elle n'est pas la dernière",
                        tier.id
                    ));
                }
                (Some(_), true) => {
                    return bad(format!(
                        "la dernière tranche « {} » ne doit pas avoir de maximum",
                        tier.id
                    ));
                }
                (Some(max), false) => {
                    if previous.is_some_and(|p| max <= p) {
                        return bad(format!(
                            "les tranches doivent croître : « {} » finit à {max}",
                            tier.id
                        ));
                    }
                    previous = Some(max);
                }
                (None, true) => {}
            }
            if self.tiers[..i].iter().any(|t| t.id == tier.id) {
                return bad(format!("tranche « {} » en double", tier.id));
            }
        }
        if self.offers.is_empty() {
            return bad("aucune offre".into());
        }
        for (i, offer) in self.offers.iter().enumerate() {
            if !valid_id(&offer.id) {
                return bad(format!("identifiant d'offre « {} » invalide", offer.id));
            }
            if self.offers[..i].iter().any(|o| o.id == offer.id) {
                return bad(format!("offre « {} » en double", offer.id));
            }
            if offer.modules.is_empty() {
                return bad(format!("l'offre « {} » n'ouvre aucun module", offer.id));
            }
            if offer.prices.len() != self.tiers.len() {
                return bad(format!(
                    "l'offre « {} » a {} prix pour {} tranches",
                    offer.id,
                    offer.prices.len(),
                    self.tiers.len()
                ));
            }
            if let Some((t, _)) = offer
                .prices
                .iter()
                .enumerate()
                .find(|(_, p)| p[0] == 0 || p[1] == 0)
            {
                return bad(format!(
                    "l'offre « {} » a un prix nul pour la tranche « {} »",
                    offer.id, self.tiers[t].id
                ));
            }
        }
        Ok(())
    }

    /// The tier index of a population.
    pub fn tier_index(&self, population: u64) -> usize {
        self.tiers
            .iter()
            .position(|t| t.max.is_none_or(|max| population <= max))
            .unwrap_or(self.tiers.len() - 1)
    }

    /// The tier of a population.
    pub fn tier_for(&self, population: u64) -> &Tier {
        &self.tiers[self.tier_index(population)]
    }

    /// An offer by id.
    pub fn offer(&self, id: &str) -> Option<&Offer> {
        self.offers.iter().find(|o| o.id == id)
    }

    /// A tier index by id.
    pub fn tier_by_id(&self, id: &str) -> Option<usize> {
        self.tiers.iter().position(|t| t.id == id)
    }

    /// Every premium module some offer entitles.
    pub fn premium_modules(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .offers
            .iter()
            .flat_map(|o| o.modules.iter().map(String::as_str))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// The Stripe lookup key of one price.
pub fn lookup_key(offer: &str, tier: &str, interval: Interval) -> String {
    format!("parvis:{offer}:{tier}:{}", interval.as_str())
}

/// Reads a lookup key back: (offer, tier, interval).
pub fn parse_lookup_key(key: &str) -> Option<(&str, &str, Interval)> {
    let mut parts = key.split(':');
    let (Some("parvis"), Some(offer), Some(tier), Some(interval), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    Some((offer, tier, Interval::parse(interval)?))
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// `1 234,50 €` (French formatting of cents).
pub fn euros(cents: u64) -> String {
    let units = cents / 100;
    let rest = cents % 100;
    let digits = units.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    if rest == 0 {
        format!("{grouped} €")
    } else {
        format!("{grouped},{rest:02} €")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_grid_is_valid_and_tiers_follow_strata() -> Result<(), GridError> {
        let g = Grid::load(None)?;
        assert_eq!(g.tier_for(0).id, "s1");
        assert_eq!(g.tier_for(499).id, "s1");
        assert_eq!(g.tier_for(500).id, "s2");
        assert_eq!(g.tier_for(3_499).id, "s3");
        assert_eq!(g.tier_for(3_500).id, "s4");
        assert_eq!(g.tier_for(99_999).id, "s6");
        assert_eq!(g.tier_for(2_133_111).id, "s7");
        assert_eq!(
            g.premium_modules(),
            vec!["donations", "geo-evaluation", "office-hours"]
        );
        Ok(())
    }

    #[test]
    fn inconsistent_grids_are_refused_with_the_reason() {
        let base = DEFAULT_GRID;
        let missing_price = base.replacen("[900, 9000], ", "", 1);
        let err = Grid::parse(&missing_price, "t")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("6 prix pour 7 tranches"), "{err}");
        let open_middle = base.replacen(", max = 1999", "", 1);
        let err = Grid::parse(&open_middle, "t")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("n'a pas de maximum"), "{err}");
        let zero = base.replacen("[900, 9000]", "[0, 9000]", 1);
        let err = Grid::parse(&zero, "t")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("prix nul"), "{err}");
        assert!(matches!(
            Grid::parse("currency = 3", "t"),
            Err(GridError::Read(..))
        ));
    }

    #[test]
    fn lookup_keys_round_trip() {
        let key = lookup_key("pack", "s3", Interval::Year);
        assert_eq!(key, "parvis:pack:s3:year");
        assert_eq!(parse_lookup_key(&key), Some(("pack", "s3", Interval::Year)));
        assert_eq!(parse_lookup_key("parvis:pack:s3"), None);
        assert_eq!(euros(123_450), "1\u{202f}234,50 €");
        assert_eq!(euros(900), "9 €");
    }
}
