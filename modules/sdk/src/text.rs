//! Small text rules modules share: codes from French labels, bounded names, numbers in paths.

/// `Éclairage public` → `eclairage-public`: French letters folded to ASCII, anything else a
/// separator. The code of a category or theme in URLs and indexes.
pub fn code_of(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'à' | 'â' | 'ä' | 'á' => "a",
            'ç' => "c",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'î' | 'ï' | 'í' => "i",
            'ô' | 'ö' | 'ó' => "o",
            'ù' | 'û' | 'ü' | 'ú' => "u",
            'ÿ' => "y",
            'œ' => "oe",
            'æ' => "ae",
            _ => "",
        };
        if !folded.is_empty() {
            out.push_str(folded);
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// `text`'s first `max` characters, trimmed.
pub fn clip(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .collect::<String>()
        .trim()
        .to_string()
}

/// A list the commune's admins write in a setting (categories, themes): entries separated by
/// `;` or new lines, each `Name` or `Name > detail`; blank entries (and names with no letter
/// or digit) skipped, names and details cut to `max_len`, the first of two names with the
/// same [`code_of`] kept, at most `max_items`. An empty setting gives `default`. Returns each
/// name with its detail (empty when none).
pub fn setting_list(
    setting: &str,
    default: &str,
    max_len: usize,
    max_items: usize,
) -> Vec<(String, String)> {
    let setting = if setting.trim().is_empty() {
        default
    } else {
        setting
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for entry in setting.split([';', '\n']) {
        let (name, detail) = entry.split_once('>').unwrap_or((entry, ""));
        let name = clip(name.trim(), max_len);
        let code = code_of(&name);
        if code.is_empty() || out.iter().any(|(n, _)| code_of(n) == code) {
            continue;
        }
        out.push((name, clip(detail.trim(), max_len)));
        if out.len() == max_items {
            break;
        }
    }
    out
}

/// A document number in a URL segment (`42`: 1 to 8 digits, not 0), if it is one.
pub fn parse_number(segment: &str) -> Option<u64> {
    if segment.is_empty() || segment.len() > 8 || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    segment.parse().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_fold_french_letters_and_numbers_stay_bounded() {
        assert_eq!(code_of("Éclairage public"), "eclairage-public");
        assert_eq!(code_of("  Cœur de ville / Lac "), "coeur-de-ville-lac");
        assert_eq!(clip("  abcdef", 5), "abc");
        assert_eq!(
            setting_list("Vélo > Voirie; vélo ;\n; ?! ;Écoles", "", 60, 10),
            [
                ("Vélo".into(), "Voirie".into()),
                ("Écoles".into(), String::new())
            ]
        );
        assert_eq!(setting_list(" ", "A;B;C", 60, 2).len(), 2);
        assert_eq!(parse_number("42"), Some(42));
        for bad in ["", "0", "-1", "123456789", "4a", "+4"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }
}
