//! A function as the registry writes it, as a page should say it: « 2e adjointe au maire »,
//! « Maire déléguée », « 1re adjointe » — the registry (RNE) writes « 2ème adjoint au maire »
//! and « Maire délégué » whoever holds the function, and gives the official's sex apart.

/// `raw` (a function label of the registry) for an official of `sex` (`F` or `M`, as the
/// registry codes it): ordinals written as French typography has them (« 2e », « 1er »/« 1re »),
/// and, for a woman, the feminine of each word that has one.
pub fn function_title(raw: &str, sex: Option<&str>) -> String {
    let woman = sex.is_some_and(|s| s.eq_ignore_ascii_case("F"));
    raw.split(' ')
        .map(|word| word_title(word, woman))
        .collect::<Vec<_>>()
        .join(" ")
}

fn word_title(word: &str, woman: bool) -> String {
    // « 2ème », « 2eme », « 2e » → « 2e »; « 1er » → « 1re » for a woman.
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 {
        let (number, suffix) = word.split_at(digits);
        let suffix = suffix.to_lowercase();
        return match suffix.as_str() {
            "er" | "ère" | "re" if number == "1" => {
                format!("{number}{}", if woman { "re" } else { "er" })
            }
            "ème" | "eme" | "e" => format!("{number}e"),
            _ => word.to_string(),
        };
    }
    if !woman {
        return word.to_string();
    }
    let feminine = match word.to_lowercase().as_str() {
        "adjoint" => "adjointe",
        "délégué" => "déléguée",
        "conseiller" => "conseillère",
        "municipal" => "municipale",
        _ => return word.to_string(),
    };
    // Keep a capital the registry put on the first letter.
    if word.chars().next().is_some_and(char::is_uppercase) {
        let mut chars = feminine.chars();
        chars
            .next()
            .map(|c| c.to_uppercase().chain(chars).collect())
            .unwrap_or_default()
    } else {
        feminine.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::function_title;

    #[test]
    fn registry_functions_read_as_french_typography_and_agree_with_the_official() {
        let cases = [
            ("Maire", Some("F"), "Maire"),
            ("Maire délégué", Some("F"), "Maire déléguée"),
            ("Maire délégué", Some("M"), "Maire délégué"),
            ("1er adjoint au maire", Some("F"), "1re adjointe au maire"),
            ("1er adjoint au maire", Some("M"), "1er adjoint au maire"),
            ("2ème adjoint au maire", Some("F"), "2e adjointe au maire"),
            ("12ème adjoint au maire", None, "12e adjoint au maire"),
            ("Adjoint au maire", Some("F"), "Adjointe au maire"),
            ("Conseiller municipal", Some("F"), "Conseillère municipale"),
            ("", Some("F"), ""),
        ];
        for (raw, sex, expected) in cases {
            assert_eq!(function_title(raw, sex), expected, "{raw} ({sex:?})");
        }
    }
}
