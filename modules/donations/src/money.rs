//! Euros and dates as French people write them.

/// `1234.5 €` written the French way: `1 234,50 €` (narrow no-break space for thousands).
pub fn euros(cents: u64) -> String {
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push('\u{202F}');
        }
        grouped.push(c);
    }
    match cents % 100 {
        0 => format!("{grouped} €"),
        rest => format!("{grouped},{rest:02} €"),
    }
}

/// `20`, `12,50`, `12.5`, `1 000` → cents; `None` if it is not an amount.
pub fn parse_euros(raw: &str) -> Option<u64> {
    let cleaned: String = raw
        .trim()
        .trim_end_matches('€')
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{202F}')
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    let (whole, frac) = match cleaned.split_once('.') {
        Some((w, f)) => (w, f),
        None => (cleaned.as_str(), ""),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 2 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let frac: u64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<u64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(frac)
}

/// Whether `raw` is a real `YYYY-MM-DD` date.
pub fn valid_date(raw: &str) -> bool {
    let parts: Vec<&str> = raw.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    if y.to_string().len() != 4 || !(1..=12).contains(&m) || d == 0 {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= days
}

/// `2026-12-24` → `24/12/2026`.
pub fn date_fr(iso: &str) -> String {
    match iso.split('-').collect::<Vec<_>>().as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        _ => iso.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_as_people_type_them() {
        assert_eq!(parse_euros("20"), Some(2000));
        assert_eq!(parse_euros("12,50"), Some(1250));
        assert_eq!(parse_euros("12.5 €"), Some(1250));
        assert_eq!(parse_euros("1 000"), Some(100_000));
        assert_eq!(parse_euros("12,345"), None);
        assert_eq!(parse_euros("-3"), None);
        assert_eq!(parse_euros("abc"), None);
        assert_eq!(parse_euros(""), None);
        assert_eq!(euros(123_456), "1\u{202F}234,56 €");
        assert_eq!(euros(500), "5 €");
    }

    #[test]
    fn dates() {
        assert!(valid_date("2028-02-29"));
        assert!(!valid_date("2027-02-29"));
        assert!(!valid_date("2027-13-01"));
        assert!(!valid_date("27-01-01"));
        assert_eq!(date_fr("2026-12-24"), "24/12/2026");
    }
}
