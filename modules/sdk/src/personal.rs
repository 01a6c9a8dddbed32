//! Personal data a module keeps: the records of an account's data export (right of access),
//! built from the module's own serialisable types.
//!
//! ```ignore
//! fn export_account(account: &str) -> Result<Vec<PersonalRecord>, Error> {
//!     store::bookings_of_account(account)?
//!         .iter()
//!         .map(|b| personal::record("réservation", &b.value))
//!         .collect()
//! }
//! ```

use crate::{Error, PersonalRecord};
use serde::Serialize;

/// One export record: `kind` says what it is in French (`vote`, `réservation`), `data` must
/// serialise to a JSON object (the host refuses anything else).
pub fn record<T: Serialize + ?Sized>(kind: &str, data: &T) -> Result<PersonalRecord, Error> {
    let value = serde_json::to_value(data)
        .map_err(|e| Error::Internal(format!("export « {kind} » : {e}")))?;
    if !value.is_object() {
        return Err(Error::Internal(format!(
            "export « {kind} » : un objet JSON est attendu"
        )));
    }
    Ok(PersonalRecord {
        kind: kind.to_owned(),
        data: value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_json_objects() {
        let r = record("vote", &serde_json::json!({"sondage": "Q"})).ok();
        assert_eq!(r.map(|r| r.data), Some(r#"{"sondage":"Q"}"#.to_owned()));
        assert!(record("vote", &42).is_err());
    }
}
