//! Reading the RNE's municipal files (councillors "cm" and mayors "mai"), whatever the
//! publication: `;`, tab or `,` separators, UTF-8 with or without BOM, headers matched by name
//! after folding accents, apostrophes, spaces and underscores, dates `dd/mm/yyyy` or ISO (with
//! or without a time), codes with or without their leading zero.

use std::io::Read;

use parvis_core::types::InseeCode;
pub use parvis_core::util::parse_date;

/// Which RNE file: councillors carry a function column, mayors do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `elus-conseillers-municipaux-cm.csv`.
    Councillors,
    /// `elus-maires-mai.csv`.
    Mayors,
}

impl FileKind {
    /// The `mandates.source` value.
    pub fn source(self) -> &'static str {
        match self {
            FileKind::Councillors => "municipal",
            FileKind::Mayors => "mayor",
        }
    }
}

/// One valid row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line number in the file.
    pub line: u64,
    /// The commune.
    pub insee: InseeCode,
    /// Family name as published (capitals).
    pub last_name: String,
    /// First name.
    pub first_name: String,
    /// `M` or `F`.
    pub sex: Option<String>,
    /// ISO date.
    pub birth_date: String,
    /// « Maire », « 1er adjoint au maire »… or empty for a councillor.
    pub function_label: String,
    /// ISO date.
    pub mandate_start: String,
    /// ISO date.
    pub function_start: Option<String>,
}

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// 1-based line number.
    pub line: u64,
    /// Why, in French.
    pub reason: String,
}

/// The file cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Unreadable (the cause is in the message, not a `source`, so it is printed once).
    #[error("lecture impossible : {0}")]
    Io(std::io::Error),
    /// Not UTF-8.
    #[error("le fichier n'est pas en UTF-8 (ligne {0})")]
    Encoding(u64),
    /// Required columns are missing.
    #[error(
        "colonnes absentes : {0} (est-ce un fichier « conseillers municipaux » ou « maires » du Répertoire national des élus ?)"
    )]
    MissingColumns(String),
    /// Empty file.
    #[error("le fichier est vide")]
    Empty,
}

/// Folds a header to its significant words: « Nom de l’élu », "Nom de l'élu" and `nom_elu`
/// all become `nom_elu`.
fn fold(header: &str) -> String {
    const STOP: [&str; 7] = ["de", "du", "la", "le", "l", "d", "des"];
    deunicode::deunicode(header)
        .to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && !STOP.contains(w))
        .collect::<Vec<_>>()
        .join("_")
}

struct Columns {
    commune: usize,
    last_name: usize,
    first_name: usize,
    sex: Option<usize>,
    birth: usize,
    mandate_start: usize,
    function: Option<usize>,
    function_start: Option<usize>,
}

fn find(headers: &[String], names: &[&str]) -> Option<usize> {
    let wanted: Vec<String> = names.iter().map(|n| fold(n)).collect();
    headers.iter().position(|h| wanted.contains(h))
}

fn columns(raw: &csv::StringRecord) -> Result<(Columns, FileKind), FileError> {
    let headers: Vec<String> = raw.iter().map(fold).collect();
    let mut missing = vec![];
    let mut need = |label: &str, names: &[&str]| {
        let found = find(&headers, names);
        if found.is_none() {
            missing.push(label.to_string());
        }
        found.unwrap_or(0)
    };
    let commune = need(
        "Code de la commune",
        &["Code de la commune", "code_commune"],
    );
    let last_name = need("Nom de l'élu", &["Nom de l'élu", "nom_elu"]);
    let first_name = need("Prénom de l'élu", &["Prénom de l'élu", "prenom_elu"]);
    let birth = need(
        "Date de naissance",
        &["Date de naissance", "date_naissance_elu", "date_naissance"],
    );
    let mandate_start = need(
        "Date de début du mandat",
        &["Date de début du mandat", "date_debut_mandat"],
    );
    if !missing.is_empty() {
        return Err(FileError::MissingColumns(missing.join(", ")));
    }
    let function = find(&headers, &["Libellé de la fonction", "libelle_fonction"]);
    let kind = if function.is_some() {
        FileKind::Councillors
    } else {
        FileKind::Mayors
    };
    Ok((
        Columns {
            commune,
            last_name,
            first_name,
            sex: find(&headers, &["Code sexe", "code_sexe"]),
            birth,
            mandate_start,
            function,
            function_start: find(
                &headers,
                &["Date de début de la fonction", "date_debut_fonction"],
            ),
        },
        kind,
    ))
}

fn separator(first_line: &str) -> u8 {
    let count = |c: char| first_line.matches(c).count();
    [(b';', count(';')), (b'\t', count('\t')), (b',', count(','))]
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(c, _)| c)
        .unwrap_or(b';')
}

/// Parses a whole file; rows that are wrong are returned separately with their line.
pub fn parse(mut input: impl Read) -> Result<(FileKind, Vec<Row>, Vec<Rejected>), FileError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes).map_err(FileError::Io)?;
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let first_line = text.split(|b| *b == b'\n').next().ok_or(FileError::Empty)?;
    let first_line = std::str::from_utf8(first_line).map_err(|_| FileError::Encoding(1))?;
    if first_line.trim().is_empty() {
        return Err(FileError::Empty);
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(separator(first_line))
        .flexible(true)
        .from_reader(text);
    let header = reader
        .headers()
        .map_err(|_| FileError::Encoding(1))?
        .clone();
    let (cols, kind) = columns(&header)?;
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    rejected.push(Rejected {
                        line,
                        reason: "ligne qui n'est pas en UTF-8".into(),
                    });
                    continue;
                }
                rejected.push(Rejected {
                    line,
                    reason: format!("ligne illisible : {e}"),
                });
                continue;
            }
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        match row(&record, &cols, line) {
            Ok(r) => rows.push(r),
            Err(reason) => rejected.push(Rejected { line, reason }),
        }
    }
    Ok((kind, rows, rejected))
}

fn row(record: &csv::StringRecord, cols: &Columns, line: u64) -> Result<Row, String> {
    let get = |i: usize| record.get(i).map(str::trim).unwrap_or_default();
    let code = get(cols.commune);
    let insee =
        InseeCode::parse(code).map_err(|_| format!("code de commune « {code} » invalide"))?;
    let last_name = get(cols.last_name);
    let first_name = get(cols.first_name);
    if last_name.is_empty() || first_name.is_empty() {
        return Err("nom ou prénom absent".into());
    }
    let birth_date = parse_date(get(cols.birth)).map_err(|e| format!("date de naissance : {e}"))?;
    let mandate_start = parse_date(get(cols.mandate_start))
        .map_err(|e| format!("date de début du mandat : {e}"))?;
    let function_start = match cols.function_start.map(get).filter(|s| !s.is_empty()) {
        Some(d) => Some(parse_date(d).map_err(|e| format!("date de début de la fonction : {e}"))?),
        None => None,
    };
    let function_label = match cols.function {
        Some(i) => get(i).to_string(),
        None => "Maire".to_string(),
    };
    let sex = cols
        .sex
        .map(get)
        .filter(|s| matches!(*s, "M" | "F"))
        .map(str::to_string);
    Ok(Row {
        line,
        insee,
        last_name: last_name.to_string(),
        first_name: first_name.to_string(),
        sex,
        birth_date,
        function_label,
        mandate_start,
        function_start,
    })
}

/// Orders functions on the commune page: mayor, deputies by rank, delegated mayors, others,
/// councillors.
pub fn function_rank(label: &str) -> i64 {
    let l = deunicode::deunicode(label).to_ascii_lowercase();
    if l.is_empty() {
        return 1000;
    }
    if l == "maire" {
        return 0;
    }
    if l.contains("adjoint") {
        let n: String = l.chars().take_while(char::is_ascii_digit).collect();
        return n.parse::<i64>().map(|n| n.min(99)).unwrap_or(99);
    }
    if l.contains("maire delegue") {
        return 100;
    }
    500
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("23/03/2026").as_deref(), Ok("2026-03-23"));
        assert_eq!(parse_date("2026-03-23").as_deref(), Ok("2026-03-23"));
        assert_eq!(
            parse_date("1955-05-02 00:00:00+00").as_deref(),
            Ok("1955-05-02")
        );
        assert!(parse_date("31/02/1990").is_err());
        assert!(parse_date("hier").is_err());
    }

    #[test]
    fn ranks() {
        assert_eq!(function_rank("Maire"), 0);
        assert_eq!(function_rank("1er adjoint au maire"), 1);
        assert_eq!(function_rank("12ème adjoint au maire"), 12);
        assert_eq!(function_rank("Maire délégué"), 100);
        assert_eq!(function_rank(""), 1000);
    }

    #[test]
    fn headers_in_every_spelling() {
        assert_eq!(fold("Nom de l'élu"), fold("nom_elu"));
        assert_eq!(fold("Nom de l’élu"), fold("Nom de l'élu"));
        assert_eq!(fold("Date de début du mandat"), fold("date_debut_mandat"));
        assert_eq!(fold("Prénom de l'élu"), fold("prenom_elu"));
        assert_eq!(fold("Libellé de la fonction"), fold("libelle_fonction"));
    }
}
