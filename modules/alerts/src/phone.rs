//! French mobile numbers: what citizens type (`06 12 34 56 78`, `07.12.34.56.78`,
//! `+33 6 12 34 56 78`, `0033612345678`) and the one form they are stored in (`+33612345678`).

/// The normalised number (`+33` and nine digits, the first a 6 or a 7), or `None` when the text
/// is not a French mobile number. Spaces, dots and dashes between digits are allowed.
pub fn normalise(input: &str) -> Option<String> {
    let compact: String = input
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '\u{a0}'))
        .collect();
    let national = if let Some(rest) = compact.strip_prefix("+33") {
        rest
    } else if let Some(rest) = compact.strip_prefix("0033") {
        rest
    } else {
        compact.strip_prefix('0')?
    };
    let mobile = national.len() == 9
        && national.bytes().all(|b| b.is_ascii_digit())
        && matches!(national.as_bytes().first(), Some(b'6' | b'7'));
    mobile.then(|| format!("+33{national}"))
}

/// A normalised number as people read it: `+33 6 12 34 56 78`.
pub fn display(normalised: &str) -> String {
    let Some(national) = normalised.strip_prefix("+33") else {
        return normalised.to_owned();
    };
    let (first, rest) = national.split_at(national.len().min(1));
    let pairs: Vec<&str> = rest
        .as_bytes()
        .chunks(2)
        .filter_map(|pair| std::str::from_utf8(pair).ok())
        .collect();
    format!("+33 {first} {}", pairs.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_ways_of_writing_a_mobile_number() {
        for typed in [
            "06 12 34 56 78",
            "0612345678",
            " 06.12.34.56.78 ",
            "06-12-34-56-78",
            "+33 6 12 34 56 78",
            "+33612345678",
            "0033 6 12 34 56 78",
            "06\u{a0}12\u{a0}34\u{a0}56\u{a0}78",
        ] {
            assert_eq!(normalise(typed).as_deref(), Some("+33612345678"), "{typed}");
        }
        assert_eq!(normalise("07 98 76 54 32").as_deref(), Some("+33798765432"));
    }

    #[test]
    fn refuses_landlines_foreign_and_malformed_numbers() {
        for typed in [
            "",
            "01 23 45 67 89",
            "09 12 34 56 78",
            "+32 470 12 34 56",
            "+44 7911 123456",
            "06 12 34 56 7",
            "06 12 34 56 789",
            "6 12 34 56 78",
            "+33 06 12 34 56 78",
            "06 12 34 56 7a",
            "06/12/34/56/78",
        ] {
            assert_eq!(normalise(typed), None, "{typed}");
        }
    }

    #[test]
    fn displays_in_pairs() {
        assert_eq!(display("+33612345678"), "+33 6 12 34 56 78");
        assert_eq!(display("inconnu"), "inconnu");
    }
}
