//! An account's data: its ballots (export and erasure).
//!
//! A named ballot's key holds the account, and the ballot its display name and choices. An
//! anonymous ballot holds nothing, but its key is a salted hash of the account, with the salt
//! in the poll: the module can still tell that the account voted (it must, to refuse a second
//! vote), so that participation is exported too, without any choice, which is not stored.

use crate::model::Ballot;
use crate::store;
use crate::time::to_iso_utc;
use parvis_module_sdk::prelude::*;
use serde_json::json;

/// Shown in the voters' list in place of a deleted account's name.
pub const DELETED: &str = "Compte supprimé";

/// Every ballot of the account in this commune, and the polls it created.
pub fn export(account: &str) -> Result<Vec<PersonalRecord>, Error> {
    let mut out = Vec::new();
    for poll in store::all_polls()? {
        if poll.value.created_by == account {
            out.push(personal::record(
                "sondage créé",
                &json!({
                    "sondage": poll.value.question,
                    "ouvert_le": to_iso_utc(poll.value.opens_at),
                }),
            )?);
        }
        let Some(ballot) = store::ballot(&poll.value.ballot_key(&poll.key, account))? else {
            continue;
        };
        let record = if poll.value.anonymous {
            personal::record(
                "participation à un sondage anonyme",
                &json!({
                    "sondage": poll.value.question,
                    "date": to_iso_utc(ballot.created_at),
                    "choix": "non enregistré : seule votre participation est connue",
                }),
            )?
        } else {
            let choices: Vec<&str> = ballot
                .value
                .choices
                .iter()
                .filter_map(|&i| poll.value.options.get(i).map(String::as_str))
                .collect();
            personal::record(
                "vote",
                &json!({
                    "sondage": poll.value.question,
                    "date": to_iso_utc(ballot.created_at),
                    "nom_affiche": ballot.value.voter,
                    "choix": choices,
                }),
            )?
        };
        out.push(record);
    }
    Ok(out)
}

/// Forgets the account: its named ballots stay counted and listed, signed « Compte supprimé »
/// under a key that no longer holds the account; its anonymous participations are deleted
/// (the tally keeps the vote). The polls it created stay the commune's, as officials' posts do.
/// Idempotent: a second run finds no ballot of the account.
pub fn forget(account: &str) -> Result<(), Error> {
    for poll in store::all_polls()? {
        let key = poll.value.ballot_key(&poll.key, account);
        let Some(ballot) = store::ballot(&key)? else {
            continue;
        };
        if poll.value.anonymous {
            store::replace_ballot(&poll.key, &key, None)?;
        } else {
            let unsigned = Ballot {
                voter: Some(DELETED.to_owned()),
                choices: ballot.value.choices,
            };
            let new_key = format!("{}:supprime-{}", poll.key, host::new_id());
            store::replace_ballot(&poll.key, &key, Some((&new_key, &unsigned)))?;
        }
    }
    Ok(())
}
