//! What a poll is, when it is open, how its results read. Plain Rust, no host calls.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Who may vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audience {
    /// Every signed-in account.
    Everyone,
    /// Residents verified by the commune (role `resident`).
    Residents,
}

/// A poll, stored in the `polls` collection under a time-sorted id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    pub question: String,
    pub description: String,
    pub options: Vec<String>,
    /// Several options may be chosen.
    pub multiple: bool,
    /// Ballots keep no account and no choice; their keys are salted hashes.
    pub anonymous: bool,
    pub audience: Audience,
    /// Unix milliseconds.
    pub opens_at: i64,
    pub closes_at: i64,
    /// Set when closed by hand before `closes_at`, or when the tick saw it ended.
    pub closed_at: Option<i64>,
    /// The results were published in the commune's feed (exactly once).
    pub published: bool,
    /// Hex random salt for anonymous ballot keys.
    pub salt: String,
    /// Account that created the poll.
    pub created_by: String,
}

/// Where a poll stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Upcoming,
    Open,
    Closed,
}

impl Poll {
    /// The poll's status at `now` (Unix milliseconds).
    pub fn status(&self, now: i64) -> Status {
        if self.closed_at.is_some() || now >= self.closes_at {
            Status::Closed
        } else if now < self.opens_at {
            Status::Upcoming
        } else {
            Status::Open
        }
    }

    /// When it closed or will close.
    pub fn ends_at(&self) -> i64 {
        self.closed_at.unwrap_or(self.closes_at)
    }

    /// Validates the chosen option indexes (form values) against the poll; returns them
    /// sorted, without duplicates.
    pub fn choices(&self, values: &[&str]) -> Result<Vec<usize>, &'static str> {
        let mut chosen = Vec::with_capacity(values.len());
        for value in values {
            match value.trim().parse::<usize>() {
                Ok(i) if i < self.options.len() => chosen.push(i),
                _ => return Err("Cette réponse ne fait pas partie du sondage."),
            }
        }
        chosen.sort_unstable();
        chosen.dedup();
        match chosen.len() {
            0 => Err("Choisissez au moins une réponse."),
            1 => Ok(chosen),
            _ if self.multiple => Ok(chosen),
            _ => Err("Ce sondage n'accepte qu'une seule réponse."),
        }
    }

    /// The ballot key that makes one vote per account: the account itself for named polls,
    /// a salted hash for anonymous ones (so the key does not reveal who voted).
    pub fn ballot_key(&self, poll_id: &str, account: &str) -> String {
        if self.anonymous {
            let mut hash = Sha256::new();
            hash.update(self.salt.as_bytes());
            hash.update([0]);
            hash.update(account.as_bytes());
            format!("{poll_id}:{}", hex(&hash.finalize()))
        } else {
            format!("{poll_id}:{account}")
        }
    }
}

/// A vote, stored in the `ballots` collection. Anonymous polls store an empty ballot: the
/// counters hold the tally, the key only prevents a second vote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ballot {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voter: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<usize>,
}

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// The tally of a poll.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Results {
    /// Accounts that voted.
    pub voters: u64,
    /// Votes per option, in the poll's order.
    pub votes: Vec<u64>,
}

/// Each count is spread over this many counters, chosen by ballot: two votes at once then
/// rarely update the same row, which a database locks until the vote's commit (PostgreSQL
/// serialized every vote of a poll on its one voters counter).
pub const COUNTER_SHARDS: u64 = 8;

impl Results {
    /// Counter names: `<poll>:voters:<shard>` and `<poll>:option:<index>:<shard>` (polls
    /// counted before sharding have `<poll>:voters` and `<poll>:option:<index>`; both add up).
    pub fn voters_counter(poll_id: &str, shard: u64) -> String {
        format!("{poll_id}:voters:{shard}")
    }

    /// The counter of one option, in one shard.
    pub fn option_counter(poll_id: &str, option: usize, shard: u64) -> String {
        format!("{poll_id}:option:{option}:{shard}")
    }

    /// The shard of a ballot key (FNV-1a: stable across versions, unlike std's hasher).
    pub fn shard(ballot_key: &str) -> u64 {
        let hash = ballot_key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        hash % COUNTER_SHARDS
    }

    /// Reads the tally from the counters of `poll_id` (as listed by prefix `<poll>:`).
    pub fn from_counters(poll_id: &str, options: usize, counters: &[(String, i64)]) -> Self {
        let mut results = Self {
            voters: 0,
            votes: vec![0; options],
        };
        let prefix = format!("{poll_id}:");
        for (name, value) in counters {
            let value = u64::try_from(*value).unwrap_or(0);
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            if rest == "voters" || rest.strip_prefix("voters:").is_some() {
                results.voters += value;
            } else if let Some(slot) = rest
                .strip_prefix("option:")
                .and_then(|i| i.split(':').next())
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| results.votes.get_mut(i))
            {
                *slot += value;
            }
        }
        results
    }

    /// Share of voters who chose `option`, in tenths of a percent (rounded half up). For a
    /// multiple-choice poll the shares add up to more than 100 %.
    pub fn per_mille(&self, option: usize) -> u64 {
        let votes = self.votes.get(option).copied().unwrap_or(0);
        (votes * 1000 + self.voters / 2)
            .checked_div(self.voters)
            .unwrap_or(0)
    }
}

/// `425` → `42,5` (French decimal comma).
pub fn percent_fr(per_mille: u64) -> String {
    format!("{},{}", per_mille / 10, per_mille % 10)
}

/// `425` → `42.5` (CSV and CSS).
pub fn percent_dot(per_mille: u64) -> String {
    format!("{}.{}", per_mille / 10, per_mille % 10)
}

/// `1 voix`, `12 voix`; `1 votant`, `2 votants`.
pub fn voters_fr(n: u64) -> String {
    if n <= 1 {
        format!("{n} votant")
    } else {
        format!("{n} votants")
    }
}

/// Escapes Markdown punctuation so a question reads as plain text in the feed.
pub fn markdown_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '<' | '>' | '!' | '|' | '~'
        ) {
            out.push('\\');
        }
        out.push(if c == '\n' || c == '\r' { ' ' } else { c });
    }
    out
}

/// The feed post announcing the results of a closed poll.
pub fn results_markdown(poll: &Poll, results: &Results) -> String {
    let mut md = format!(
        "**Résultats du sondage : {}**\n\n",
        markdown_text(&poll.question)
    );
    for (i, option) in poll.options.iter().enumerate() {
        let votes = results.votes.get(i).copied().unwrap_or(0);
        md.push_str(&format!(
            "- {} : {votes} voix ({} %)\n",
            markdown_text(option),
            percent_fr(results.per_mille(i))
        ));
    }
    md.push_str(&format!("\n{}.", voters_fr(results.voters)));
    if poll.multiple {
        md.push_str(" Plusieurs réponses étaient possibles.");
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn poll(multiple: bool, anonymous: bool) -> Poll {
        Poll {
            question: "Quel nom pour la médiathèque ?".into(),
            description: String::new(),
            options: vec![
                "Victor Hugo".into(),
                "Simone Veil".into(),
                "Jean Moulin".into(),
            ],
            multiple,
            anonymous,
            audience: Audience::Everyone,
            opens_at: 1_000,
            closes_at: 2_000,
            closed_at: None,
            published: false,
            salt: "00ff".into(),
            created_by: "admin".into(),
        }
    }

    #[test]
    fn status_follows_the_clock_and_manual_closing() {
        let mut p = poll(false, false);
        assert_eq!(p.status(999), Status::Upcoming);
        assert_eq!(p.status(1_000), Status::Open);
        assert_eq!(p.status(1_999), Status::Open);
        assert_eq!(p.status(2_000), Status::Closed);
        p.closed_at = Some(1_500);
        assert_eq!(p.status(1_600), Status::Closed);
        assert_eq!(p.ends_at(), 1_500);
    }

    #[test]
    fn single_choice_takes_exactly_one_option() {
        let p = poll(false, false);
        assert_eq!(p.choices(&["1"]), Ok(vec![1]));
        assert_eq!(p.choices(&["1", "1"]), Ok(vec![1]));
        assert!(p.choices(&[]).is_err());
        assert!(p.choices(&["0", "2"]).is_err());
        assert!(p.choices(&["3"]).is_err());
        assert!(p.choices(&["-1"]).is_err());
        assert!(p.choices(&["x"]).is_err());
    }

    #[test]
    fn multiple_choice_takes_several_distinct_options() {
        let p = poll(true, false);
        assert_eq!(p.choices(&["2", "0", "2"]), Ok(vec![0, 2]));
        assert!(p.choices(&[]).is_err());
        assert!(p.choices(&["0", "9"]).is_err());
    }

    #[test]
    fn anonymous_ballot_keys_hide_the_account() {
        let named = poll(false, false);
        assert_eq!(named.ballot_key("p1", "acc-42"), "p1:acc-42");
        let anon = poll(false, true);
        let key = anon.ballot_key("p1", "acc-42");
        assert!(key.starts_with("p1:") && !key.contains("acc-42"));
        assert_eq!(key.len(), 3 + 64);
        assert_eq!(key, anon.ballot_key("p1", "acc-42"), "stable, so it dedups");
        assert_ne!(key, anon.ballot_key("p1", "acc-43"));
        let mut other_salt = anon.clone();
        other_salt.salt = "01".into();
        assert_ne!(key, other_salt.ballot_key("p1", "acc-42"));
    }

    #[test]
    fn reads_counters_and_computes_shares() {
        let counters = vec![
            ("p1:option:0".to_owned(), 1),
            ("p1:option:0:3".to_owned(), 1),
            ("p1:option:2:7".to_owned(), 1),
            ("p1:option:9:0".to_owned(), 5),
            ("p1:voters".to_owned(), 1),
            ("p1:voters:3".to_owned(), 1),
            ("p1:voters:7".to_owned(), 1),
            ("p10:voters:0".to_owned(), 99),
        ];
        let r = Results::from_counters("p1", 3, &counters);
        assert_eq!(r.voters, 3);
        assert_eq!(r.votes, vec![2, 0, 1]);
        assert_eq!(r.per_mille(0), 667);
        assert_eq!(r.per_mille(1), 0);
        assert_eq!(r.per_mille(2), 333);
        assert_eq!(percent_fr(r.per_mille(0)), "66,7");
        assert_eq!(percent_dot(r.per_mille(2)), "33.3");
        assert_eq!(Results::default().per_mille(0), 0);
    }

    #[test]
    fn results_post_lists_every_option() {
        let p = poll(false, false);
        let r = Results {
            voters: 4,
            votes: vec![1, 3, 0],
        };
        let md = results_markdown(&p, &r);
        assert!(md.starts_with("**Résultats du sondage : Quel nom pour la médiathèque ?**"));
        assert!(md.contains("- Simone Veil : 3 voix (75,0 %)"));
        assert!(md.contains("- Jean Moulin : 0 voix (0,0 %)"));
        assert!(md.ends_with("4 votants."));
        assert_eq!(markdown_text("*a* [b](c)"), "\\*a\\* \\[b\\]\\(c\\)");
    }
}
