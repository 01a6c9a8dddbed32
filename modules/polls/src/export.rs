//! CSV exports. Plain Rust, no host calls.

use crate::model::{Ballot, Poll, Results, percent_dot};

/// Text cells that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, CR) get a
/// leading apostrophe: voter names are typed by anyone.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// `option,votes,percentage`, one row per option (percentage of voters, dot decimal).
pub fn results_csv(poll: &Poll, results: &Results) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["option", "votes", "percentage"])?;
    for (i, option) in poll.options.iter().enumerate() {
        let votes = results.votes.get(i).copied().unwrap_or(0);
        out.write_record([
            cell(option),
            votes.to_string(),
            percent_dot(results.per_mille(i)),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// `voter,options` for a named poll: each voter with the options chosen, `; `-separated.
pub fn voters_csv<'a>(
    poll: &Poll,
    ballots: impl IntoIterator<Item = &'a Ballot>,
) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["voter", "options"])?;
    for ballot in ballots {
        let chosen: Vec<&str> = ballot
            .choices
            .iter()
            .filter_map(|&i| poll.options.get(i).map(String::as_str))
            .collect();
        out.write_record([
            cell(ballot.voter.as_deref().unwrap_or_default()),
            cell(&chosen.join("; ")),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Audience;

    fn poll() -> Poll {
        Poll {
            question: "Q".into(),
            description: String::new(),
            options: vec!["Oui".into(), "Non, \"jamais\"".into()],
            multiple: true,
            anonymous: false,
            audience: Audience::Everyone,
            opens_at: 0,
            closes_at: 1,
            closed_at: None,
            published: false,
            salt: String::new(),
            created_by: String::new(),
        }
    }

    #[test]
    fn results_are_one_row_per_option_with_quoting() {
        let results = Results {
            voters: 3,
            votes: vec![2, 1],
        };
        let csv = results_csv(&poll(), &results).map(String::from_utf8);
        assert_eq!(
            csv.ok().and_then(Result::ok).as_deref(),
            Some("option,votes,percentage\nOui,2,66.7\n\"Non, \"\"jamais\"\"\",1,33.3\n")
        );
    }

    #[test]
    fn voters_list_names_and_choices() {
        let ballots = [
            Ballot {
                voter: Some("Alice Martin".into()),
                choices: vec![0, 1],
            },
            Ballot {
                voter: Some("=HYPERLINK(\"x\")".into()),
                choices: vec![1, 7],
            },
        ];
        let csv = voters_csv(&poll(), &ballots).map(String::from_utf8);
        assert_eq!(
            csv.ok().and_then(Result::ok).as_deref(),
            Some(
                "voter,options\nAlice Martin,\"Oui; Non, \"\"jamais\"\"\"\n\"'=HYPERLINK(\"\"x\"\")\",\"Non, \"\"jamais\"\"\"\n"
            )
        );
    }
}
