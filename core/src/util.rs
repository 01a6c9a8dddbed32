//! Small helpers shared by every feature: clock, identifiers, tokens, text folding.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// Current time in Unix seconds (the storage format of every timestamp).
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A new time-ordered identifier (UUIDv7, text form) for rows keyed by text.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// 32 random bytes from the OS generator, URL-safe base64 without padding.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a secret token, hex: what the database stores instead of the token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Folds a name for searching: no accents, lowercase, punctuation as single spaces
/// (« Saint-Étienne » → `saint etienne`).
pub fn search_key(text: &str) -> String {
    let folded = deunicode::deunicode(text).to_ascii_lowercase();
    let mut out = String::with_capacity(folded.len());
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with(' ') && !out.is_empty() {
            out.push(' ');
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Parses `dd/mm/yyyy`, `yyyy-mm-dd` or `yyyy-mm-dd hh:mm:ss…` into an ISO date, checking it
/// exists (`31/02/1990` does not). The error is a French sentence.
pub fn parse_date(raw: &str) -> Result<String, String> {
    use time::{Date, Month};
    let s = raw.trim();
    let (y, m, d) = if let Some((d, rest)) = s.split_once('/') {
        let (m, y) = rest
            .split_once('/')
            .ok_or_else(|| format!("date « {s} » illisible"))?;
        (y, m, d)
    } else if s.len() >= 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' {
        (&s[0..4], &s[5..7], &s[8..10])
    } else {
        return Err(format!("date « {s} » illisible (attendu jj/mm/aaaa)"));
    };
    let number = |v: &str| {
        v.trim()
            .parse::<u16>()
            .map_err(|_| format!("date « {s} » illisible"))
    };
    let (y, m, d) = (number(y)?, number(m)?, number(d)?);
    let month = Month::try_from(u8::try_from(m).unwrap_or(0))
        .map_err(|_| format!("date « {s} » invalide"))?;
    let date = Date::from_calendar_date(i32::from(y), month, u8::try_from(d).unwrap_or(0))
        .map_err(|_| format!("date « {s} » invalide"))?;
    Ok(format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    ))
}

/// `12 345`: thousands grouped as French writes them, with a narrow no-break space.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() * 2);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202F}');
        }
        out.push(c);
    }
    out
}

/// A size for people, in the units French software writes: « 900 octets », « 512 Kio »,
/// « 64 Mio », « 9,8 Mio », « 1,5 Gio » (a whole number of the unit shows no decimal).
pub fn size_text(bytes: i64) -> String {
    const UNITS: [&str; 3] = ["Kio", "Mio", "Gio"];
    let bytes = bytes.max(0);
    if bytes < 1 << 10 {
        return format!("{} octets", thousands(bytes));
    }
    let mut unit = 0;
    while unit + 1 < UNITS.len() && bytes >= 1 << (10 * (unit + 2)) {
        unit += 1;
    }
    let scale = 1i64 << (10 * (unit + 1));
    let tenths = (bytes * 10 + scale / 2) / scale;
    if tenths % 10 == 0 {
        format!("{} {}", thousands(tenths / 10), UNITS[unit])
    } else {
        format!("{},{} {}", thousands(tenths / 10), tenths % 10, UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn french_numbers_and_sizes() {
        use super::{size_text, thousands};
        assert_eq!(thousands(5), "5");
        assert_eq!(thousands(1_000), "1\u{202F}000");
        assert_eq!(thousands(12_345_678), "12\u{202F}345\u{202F}678");
        assert_eq!(thousands(-2_000), "-2\u{202F}000");
        assert_eq!(size_text(900), "900 octets");
        assert_eq!(size_text(512 << 10), "512 Kio");
        assert_eq!(size_text(64 << 20), "64 Mio");
        assert_eq!(size_text(10_276_044), "9,8 Mio");
        assert_eq!(size_text(3 << 29), "1,5 Gio");
    }

    #[test]
    fn search_keys() {
        assert_eq!(super::search_key("Saint-Étienne"), "saint etienne");
        assert_eq!(super::search_key("L'Haÿ-les-Roses "), "l hay les roses");
    }
}

/// The network one client holds, which every per-address limit keys on: an IPv4 address (also
/// when written IPv4-mapped), or an IPv6 /64 (one subscriber's network: any address in it is
/// theirs to use, so counting addresses one by one would give them 2^64 budgets).
pub fn client_network(ip: std::net::IpAddr) -> std::net::IpAddr {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

/// The same-origin path a redirect target leads to, as a browser would resolve it, or `None`
/// when it would leave the site. The target is parsed with the WHATWG URL rules browsers use
/// (tabs and newlines dropped, `\` read as `/`, `%09` kept as data), against a placeholder
/// origin: anything that changes the origin (`//evil`, `/\t/evil`, `https:evil`, `\\evil`) is
/// refused, and what is returned is the normalised path, query and fragment (so no CR/LF or
/// control character reaches a `Location` header).
pub fn same_origin_path(target: &str) -> Option<String> {
    // Only a path is a same-site target; an absolute URL naming our own host is not needed.
    if !target.starts_with('/') {
        return None;
    }
    let base = url::Url::parse("http://same-origin.invalid/").ok()?;
    let resolved = base.join(target).ok()?;
    if resolved.origin() != base.origin() {
        return None;
    }
    let mut out = resolved.path().to_string();
    if let Some(q) = resolved.query() {
        out.push('?');
        out.push_str(q);
    }
    if let Some(f) = resolved.fragment() {
        out.push('#');
        out.push_str(f);
    }
    // `/%2F%2Fevil` stays a path on this site, but a second resolution (a proxy that decodes,
    // a module that re-joins it) must not turn it into `//evil`.
    if out.starts_with("//") || out.starts_with("/\\") {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod client_network_tests {
    use super::client_network;

    #[test]
    fn one_subscriber_network_is_one_client() {
        let a: std::net::IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(std::net::IpAddr::from([0; 4]));
        let b: std::net::IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or(std::net::IpAddr::from([0; 4]));
        let c: std::net::IpAddr = "2001:db8:1:3::1"
            .parse()
            .unwrap_or(std::net::IpAddr::from([0; 4]));
        assert_eq!(client_network(a), client_network(b));
        assert_ne!(client_network(a), client_network(c));
        let mapped: std::net::IpAddr = "::ffff:192.0.2.7"
            .parse()
            .unwrap_or(std::net::IpAddr::from([0; 4]));
        assert_eq!(client_network(mapped).to_string(), "192.0.2.7");
    }
}

#[cfg(test)]
mod same_origin_tests {
    use super::same_origin_path;

    #[test]
    fn keeps_paths_of_this_site() {
        assert_eq!(
            same_origin_path("/fil?page=2#x").as_deref(),
            Some("/fil?page=2#x")
        );
        assert_eq!(
            same_origin_path("/m/polls/3").as_deref(),
            Some("/m/polls/3")
        );
        // Dot segments are resolved as the browser will.
        assert_eq!(same_origin_path("/a/../b").as_deref(), Some("/b"));
    }

    #[test]
    fn refuses_what_leaves_the_site() {
        for bad in [
            "//evil.example/x",
            "/\t/evil.example/phish",
            "/\n/evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "https:evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/\r\n/evil.example",
        ] {
            assert_eq!(same_origin_path(bad), None, "{bad:?} must be refused");
        }
    }

    #[test]
    fn encoded_tabs_stay_data_and_no_control_character_survives() {
        // `%09` is not decoded by the browser: it is a path segment, on this site.
        let p = same_origin_path("/%09/evil.example/phish");
        assert_eq!(p.as_deref(), Some("/%09/evil.example/phish"));
        let p = same_origin_path("/a\r\nSet-Cookie: x=1").unwrap_or_default();
        assert!(!p.contains('\r') && !p.contains('\n'), "{p:?}");
    }
}

/// At most `max` bytes of an HTTP answer's body, and whether there was more (then no more
/// is read): what another server sends is bounded before it is held, whoever it is (an
/// identity provider, a push service a browser named, an SMS gateway).
pub async fn body_up_to(
    response: &mut reqwest::Response,
    max: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = max - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

/// The start of an answer's body for a log line: its first 300 characters, reading at most
/// 1,200 bytes (300 characters of UTF-8, whatever they are), nothing if it cannot be read.
pub async fn error_text(mut response: reqwest::Response) -> String {
    let (body, _) = body_up_to(&mut response, 1200).await.unwrap_or_default();
    String::from_utf8_lossy(&body).chars().take(300).collect()
}
