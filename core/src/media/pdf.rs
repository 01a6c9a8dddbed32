//! PDF documents: only checked, never rewritten. A PDF is stored as sent when it starts with
//! the `%PDF-1.x`/`%PDF-2.x` header, ends with an `%%EOF` marker (incremental updates may
//! follow the first one, so the last kilobyte is searched) and mentions a cross-reference
//! (`startxref`). Browsers show it as a download, never inline (see [`crate::media::routes`]).

use crate::media::MediaError;

/// Checks that `bytes` look like a whole PDF document of at most `max_bytes`.
pub fn check(bytes: &[u8], max_bytes: usize) -> Result<(), MediaError> {
    if bytes.len() > max_bytes {
        return Err(MediaError::TooLarge(max_bytes));
    }
    let header_ok = bytes.len() >= 8
        && bytes.starts_with(b"%PDF-")
        && matches!(bytes[5], b'1' | b'2')
        && bytes[6] == b'.'
        && bytes[7].is_ascii_digit();
    let tail = &bytes[bytes.len().saturating_sub(1024)..];
    if !header_ok || !contains(tail, b"%%EOF") || !contains(tail, b"startxref") {
        return Err(MediaError::NotAPdf);
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\nstartxref\n0\n%%EOF\n";

    #[test]
    fn accepts_a_pdf_and_refuses_the_rest() {
        assert!(check(MINIMAL, 1 << 20).is_ok());
        assert!(matches!(check(MINIMAL, 10), Err(MediaError::TooLarge(10))));
        assert!(matches!(
            check(b"%PDF-1.4 no end", 1 << 20),
            Err(MediaError::NotAPdf)
        ));
        assert!(matches!(
            check(b"<html>%%EOF startxref", 1 << 20),
            Err(MediaError::NotAPdf)
        ));
    }
}
