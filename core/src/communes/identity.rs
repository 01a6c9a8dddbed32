//! A commune's colour: the accent of its pages (links, buttons, checked boxes), chosen by its
//! admins within the contrast rules of WCAG 2.1 AA (RGAA criterion 3.2), and its variant for
//! dark mode, derived so that the same rules hold there too.
//!
//! In light mode the accent is text on white and on the pale panels (`--bg`, `--soft` of
//! `static/parvis.css`) and the background of white button text: it must reach 4.5:1 against
//! each. In dark mode the host lightens it (mixing in white) until it reaches 4.5:1 against
//! the dark backgrounds and against the dark button text.

/// The smallest contrast ratio between text and its background (WCAG 2.1 AA, normal text).
pub const MIN_CONTRAST: f64 = 4.5;

/// What the accent meets in light mode: the page, the panels, and white button text.
const LIGHT_AGAINST: [Rgb; 2] = [Rgb(0xff, 0xff, 0xff), Rgb(0xf3, 0xf5, 0xf8)];
/// What its dark variant meets: the page, the panels, and the dark button text.
const DARK_AGAINST: [Rgb; 3] = [
    Rgb(0x12, 0x16, 0x1b),
    Rgb(0x1b, 0x21, 0x29),
    Rgb(0x0d, 0x13, 0x20),
];

/// A colour, 8 bits per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rrggbb` (what `<input type="color">` sends), case-insensitive, spaces trimmed.
    pub fn parse(text: &str) -> Option<Rgb> {
        let hex = text.trim().strip_prefix('#')?;
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        Some(Rgb(channel(0)?, channel(2)?, channel(4)?))
    }

    /// `#rrggbb`, lower case.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// Relative luminance (WCAG 2.1, sRGB).
    fn luminance(self) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(self.0) + 0.7152 * linear(self.1) + 0.0722 * linear(self.2)
    }

    /// Contrast ratio with another colour, from 1 to 21.
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (light, dark) = if a > b { (a, b) } else { (b, a) };
        (light + 0.05) / (dark + 0.05)
    }

    /// This colour mixed with white: `share` of white, from 0 to 1.
    fn lighten(self, share: f64) -> Rgb {
        let mix = |c: u8| {
            let c = f64::from(c);
            // Within 0..=255 by construction: a weighted mean of c and 255.
            (c + (255.0 - c) * share).round().clamp(0.0, 255.0) as u8
        };
        Rgb(mix(self.0), mix(self.1), mix(self.2))
    }
}

/// Why a colour is refused, in French for the commune's admins.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AccentError {
    /// Not `#rrggbb`.
    #[error("Indiquez une couleur au format #rrvvbb (par exemple #1d4ed8).")]
    Format,
    /// Too light for text on white.
    #[error(
        "Cette couleur n'est pas assez contrastée sur fond blanc ({ratio}\u{a0}:\u{a0}1, il faut au moins 4,5\u{a0}:\u{a0}1 \
         pour que liens et boutons restent lisibles). Choisissez une teinte plus foncée."
    )]
    TooLight {
        /// The weakest ratio, written the French way (« 3,2 »).
        ratio: String,
    },
}

/// The weakest contrast of `accent` in light mode.
pub fn light_contrast(accent: Rgb) -> f64 {
    LIGHT_AGAINST
        .iter()
        .map(|bg| accent.contrast(*bg))
        .fold(f64::INFINITY, f64::min)
}

/// Checks an accent chosen by a commune's admins; `Ok(None)`: back to the platform's colour
/// (an empty field).
pub fn check_accent(text: &str) -> Result<Option<Rgb>, AccentError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let accent = Rgb::parse(text).ok_or(AccentError::Format)?;
    let weakest = light_contrast(accent);
    if weakest < MIN_CONTRAST {
        // Rounded down, so a refused colour never reads as « 4,5 : 1 ».
        let ratio = format!("{:.1}", (weakest * 10.0).floor() / 10.0).replace('.', ",");
        return Err(AccentError::TooLight { ratio });
    }
    Ok(Some(accent))
}

/// The accent's dark-mode variant: the least white mixed in that reaches [`MIN_CONTRAST`]
/// against every dark background and the dark button text (white itself always does).
pub fn dark_variant(accent: Rgb) -> Rgb {
    (0..=100)
        .map(|step| accent.lighten(f64::from(step) / 100.0))
        .find(|c| {
            DARK_AGAINST
                .iter()
                .all(|bg| c.contrast(*bg) >= MIN_CONTRAST)
        })
        .unwrap_or(Rgb(0xff, 0xff, 0xff))
}

/// The style sheet that puts a commune's accent on its pages, after `parvis.css`.
pub fn theme_css(accent: Rgb) -> String {
    format!(
        ":root{{--accent:{};--accent-ink:#fff}}\
         @media (prefers-color-scheme:dark){{:root{{--accent:{};--accent-ink:#0d1320}}}}\n",
        accent.hex(),
        dark_variant(accent).hex()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_matches_the_wcag_reference_values() {
        let white = Rgb(255, 255, 255);
        let black = Rgb(0, 0, 0);
        assert!((white.contrast(black) - 21.0).abs() < 1e-9);
        assert!((white.contrast(white) - 1.0).abs() < 1e-9);
        // #767676 on white is the classic 4.54:1 grey.
        let grey = Rgb(0x76, 0x76, 0x76);
        assert!((grey.contrast(white) - 4.54).abs() < 0.01);
    }

    #[test]
    fn only_six_digit_hex_colours_are_read() {
        assert_eq!(Rgb::parse(" #1D4ed8 "), Some(Rgb(0x1d, 0x4e, 0xd8)));
        for bad in ["1d4ed8", "#1d4ed", "#1d4ed8a", "#gg0000", "bleu", "#é00000"] {
            assert_eq!(Rgb::parse(bad), None, "{bad}");
        }
        assert_eq!(Rgb(0x1d, 0x4e, 0xd8).hex(), "#1d4ed8");
    }

    #[test]
    fn light_colours_are_refused_with_their_ratio_and_dark_ones_kept() {
        assert_eq!(check_accent(""), Ok(None));
        assert_eq!(check_accent("rouge"), Err(AccentError::Format));
        // Annecy's lake blue and the platform's own pass; yellow and a pale green do not.
        assert_eq!(check_accent("#00577d"), Ok(Some(Rgb(0x00, 0x57, 0x7d))));
        assert!(check_accent("#1d4ed8").is_ok());
        let Err(AccentError::TooLight { ratio }) = check_accent("#ffd700") else {
            panic!("yellow passed");
        };
        assert_eq!(ratio, "1,2");
        assert!(check_accent("#4caf50").is_err());
        // #767676 passes on white (4.54) but not on the panels' #f3f5f8.
        assert!(check_accent("#767676").is_err());
    }

    #[test]
    fn every_accepted_colour_has_a_dark_variant_that_passes_too() {
        // Every 17th value of each channel: 4,096 colours, the accepted ones checked.
        let steps: Vec<u8> = (0..=255).step_by(17).collect();
        let mut accepted = 0;
        for &r in &steps {
            for &g in &steps {
                for &b in &steps {
                    let accent = Rgb(r, g, b);
                    if check_accent(&accent.hex()).is_err() {
                        continue;
                    }
                    accepted += 1;
                    let dark = dark_variant(accent);
                    for bg in DARK_AGAINST {
                        assert!(
                            dark.contrast(bg) >= MIN_CONTRAST,
                            "{} → {} against {}",
                            accent.hex(),
                            dark.hex(),
                            bg.hex()
                        );
                    }
                }
            }
        }
        assert!(accepted > 500, "{accepted}");
        // Keeps its hue: the platform's blue becomes a light blue, not white.
        assert_ne!(dark_variant(Rgb(0x1d, 0x4e, 0xd8)), Rgb(255, 255, 255));
    }

    #[test]
    fn the_theme_sets_both_modes() {
        let css = theme_css(Rgb(0x00, 0x57, 0x7d));
        assert!(
            css.starts_with(":root{--accent:#00577d;--accent-ink:#fff}"),
            "{css}"
        );
        assert!(css.contains("prefers-color-scheme:dark"), "{css}");
    }
}
