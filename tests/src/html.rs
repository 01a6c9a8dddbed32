//! Pages read as HTML: a check looks at one place of a page (a table's rows, an element's
//! text), so text found elsewhere on the page (the header names the signed-in account, every
//! anonymous page links to /connexion) cannot make it pass.

use anyhow::{Context as _, Result, anyhow};
use scraper::{ElementRef, Html, Selector};

fn selector(css: &str) -> Result<Selector> {
    Selector::parse(css).map_err(|e| anyhow!("bad selector « {css} »: {e}"))
}

fn text_of(element: ElementRef<'_>) -> String {
    element
        .text()
        .collect::<String>()
        // HTML's whitespace, which is ASCII's: the no-break spaces of French typography
        // (« Motif : », « oublié ? ») are text, and kept.
        .split_ascii_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text of each cell of each body row of the first table matching `table` (CSS), with
/// whitespace collapsed. Fails when no table matches.
pub fn table_rows(page: &str, table: &str) -> Result<Vec<Vec<String>>> {
    let doc = Html::parse_document(page);
    let found = doc
        .select(&selector(table)?)
        .next()
        .with_context(|| format!("no table « {table} » in the page:\n{page}"))?;
    let rows = selector("tbody tr")?;
    let cells = selector("td, th")?;
    Ok(found
        .select(&rows)
        .map(|row| row.select(&cells).map(text_of).collect())
        .collect())
}

/// The text a reader sees of the whole page (tags gone, entities decoded, whitespace
/// collapsed).
pub fn text(page: &str) -> String {
    let doc = Html::parse_document(page);
    text_of(doc.root_element())
}

/// The text of each element matching `css`, in page order, whitespace collapsed (none
/// matching: empty).
pub fn texts(page: &str, css: &str) -> Result<Vec<String>> {
    let doc = Html::parse_document(page);
    Ok(doc.select(&selector(css)?).map(text_of).collect())
}

/// The value of `attribute` on each element matching `css` that has it, in page order.
pub fn attrs(page: &str, css: &str, attribute: &str) -> Result<Vec<String>> {
    let doc = Html::parse_document(page);
    Ok(doc
        .select(&selector(css)?)
        .filter_map(|e| e.value().attr(attribute).map(str::to_string))
        .collect())
}
