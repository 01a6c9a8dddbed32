//! The consultation's types and its rules in plain Rust (unit-tested on the host target): its
//! phases, what a proposal and a vote may be, the fair order of the voting sequence, and the
//! results.

use serde::{Deserialize, Serialize};

/// The longest question.
pub const QUESTION_MAX: usize = 200;
/// The longest context text.
pub const CONTEXT_MAX: usize = 4_000;
/// The shortest and longest proposal: a sentence, as Make.org asks (« Il faut… »).
pub const PROPOSAL_MIN: usize = 10;
pub const PROPOSAL_MAX: usize = 140;
/// The longest reason for refusing a proposal.
pub const REASON_MAX: usize = 500;
/// Proposals one account may submit to one consultation.
pub const PROPOSALS_PER_ACCOUNT: u64 = 10;
/// Votes a proposal needs before it is ranked among the most consensual or divisive: below,
/// one or two voters would decide its place.
pub const MIN_VOTES: u64 = 5;
/// Proposals shown in each ranking of the results.
pub const RANKED: usize = 10;

/// A consultation (key: its number on 8 digits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consultation {
    pub number: u64,
    pub question: String,
    /// What the commune says around it: why it asks, what it will do with the answers.
    pub context: String,
    /// Unix milliseconds.
    pub opens_at: i64,
    pub closes_at: i64,
    /// Who asked it, shown as its author after « Posée par » (« la mairie d'Annecy », or an
    /// official by name).
    pub by: String,
    pub by_account: String,
    /// An official's consultation waits for an admin's consent before anyone sees it.
    pub approved: bool,
    /// The results were published to the commune's feed (at most once).
    #[serde(default)]
    pub results_published: bool,
    /// How many of its proposals were published: the last rank of the draw.
    #[serde(default)]
    pub published: u64,
}

/// Where a consultation stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// An official's, not yet approved by an admin.
    Waiting,
    Upcoming,
    Open,
    Closed,
}

impl Consultation {
    /// Its key.
    pub fn key(number: u64) -> String {
        format!("{number:08}")
    }

    /// Its phase at `now` (Unix milliseconds).
    pub fn phase(&self, now: i64) -> Phase {
        if !self.approved {
            Phase::Waiting
        } else if now < self.opens_at {
            Phase::Upcoming
        } else if now < self.closes_at {
            Phase::Open
        } else {
            Phase::Closed
        }
    }
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Waiting => "En attente de validation",
            Phase::Upcoming => "À venir",
            Phase::Open => "Ouverte",
            Phase::Closed => "Close",
        }
    }
}

/// Where a proposal stands in moderation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Moderation {
    /// Submitted, not yet read by the commune: seen by its author only.
    Waiting,
    Published,
    Refused,
}

impl Moderation {
    pub fn value(self) -> &'static str {
        match self {
            Moderation::Waiting => "en-attente",
            Moderation::Published => "publiee",
            Moderation::Refused => "refusee",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Moderation::Waiting => "En attente de modération",
            Moderation::Published => "Publiée",
            Moderation::Refused => "Refusée",
        }
    }
}

/// A proposal (key: [`Proposal::key`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub consultation: u64,
    pub number: u64,
    pub text: String,
    /// The author's account; none once that account was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub submitted_at: i64,
    pub moderation: Moderation,
    /// Why it was refused, told to its author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Proposal {
    pub fn key(consultation: u64, number: u64) -> String {
        format!("{consultation:08}-{number:08}")
    }
}

/// A participant's vote on a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Vote {
    Agree,
    Disagree,
    Neutral,
}

impl Vote {
    pub const ALL: [Vote; 3] = [Vote::Agree, Vote::Disagree, Vote::Neutral];

    pub fn value(self) -> &'static str {
        match self {
            Vote::Agree => "d-accord",
            Vote::Disagree => "pas-d-accord",
            Vote::Neutral => "neutre",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Vote::Agree => "D'accord",
            Vote::Disagree => "Pas d'accord",
            Vote::Neutral => "Neutre",
        }
    }

    pub fn parse(value: &str) -> Option<Vote> {
        Vote::ALL.into_iter().find(|v| v.value() == value)
    }
}

/// What a voter may add to a vote (Make.org's « qualifications »).
pub const QUALIFICATIONS: [(&str, &str); 4] = [
    ("coup-de-coeur", "Coup de cœur"),
    ("realiste", "Réaliste"),
    ("infaisable", "Infaisable"),
    ("ne-comprends-pas", "Je ne comprends pas"),
];

/// A participant's ballot on one proposal (key: [`Ballot::key`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ballot {
    pub consultation: u64,
    pub proposal: u64,
    pub vote: Vote,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub qualifications: Vec<String>,
    pub at: i64,
    /// The neighbourhood the voter said they live in when voting (none: they did not say),
    /// for the results by neighbourhood.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighbourhood: Option<String>,
}

/// A neighbourhood's share of a proposal is shown from this many of its residents' votes:
/// below it, someone who knows who voted there could tell how one of them voted.
pub const MIN_AREA_VOTES: u64 = 10;

/// A neighbourhood id as a form may send it (`vieille-ville`): short, lowercase, dashed.
pub fn is_neighbourhood_id(s: &str) -> bool {
    // Checked for its shape only: the voter's own word, like the select it comes from; an id
    // that is no neighbourhood of the commune is simply never shown.
    !s.is_empty()
        && s.len() <= 80
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Ballot {
    pub fn key(consultation: u64, proposal: u64, account: &str) -> String {
        format!("{consultation:08}-{proposal:08}-{account}")
    }
}

/// A proposal's tally, kept up to date by each vote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tally {
    pub agree: u64,
    pub disagree: u64,
    pub neutral: u64,
    /// Each qualification's count, in [`QUALIFICATIONS`] order.
    pub qualifications: [u64; 4],
    /// The votes of participants who said where they live, by neighbourhood id:
    /// `[agree, disagree, neutral]`. Counted with the vote, in the same write, so the results
    /// by neighbourhood read no ballot (a national consultation has millions).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub areas: Vec<(String, [u64; 3])>,
}

impl Tally {
    pub fn votes(&self) -> u64 {
        self.agree + self.disagree + self.neutral
    }

    /// The share of votes that agree, in per mille (0 without votes).
    pub fn agree_share(&self) -> u64 {
        per_mille(self.agree, self.votes())
    }

    pub fn disagree_share(&self) -> u64 {
        per_mille(self.disagree, self.votes())
    }

    /// How consensual it is: the share of agreement (ties broken by more votes).
    pub fn consensus(&self) -> u64 {
        self.agree_share()
    }

    /// How divisive it is: the smaller of the agree and disagree shares, so 500 ‰ is a
    /// proposal split in two halves and 0 one everyone judges the same way.
    pub fn division(&self) -> u64 {
        self.agree_share().min(self.disagree_share())
    }

    /// Counts `ballot` in (`delta` 1) or out (-1).
    pub fn count(&mut self, ballot: &Ballot, delta: i64) {
        let step = |n: &mut u64| {
            *n = if delta < 0 {
                n.saturating_sub(delta.unsigned_abs())
            } else {
                n.saturating_add(delta.unsigned_abs())
            };
        };
        let slot = match ballot.vote {
            Vote::Agree => 0,
            Vote::Disagree => 1,
            Vote::Neutral => 2,
        };
        step([&mut self.agree, &mut self.disagree, &mut self.neutral][slot]);
        for q in &ballot.qualifications {
            if let Some(i) = QUALIFICATIONS.iter().position(|(c, _)| c == q) {
                step(&mut self.qualifications[i]);
            }
        }
        if let Some(id) = &ballot.neighbourhood {
            let i = match self.areas.iter().position(|(a, _)| a == id) {
                Some(i) => i,
                None => {
                    self.areas.push((id.clone(), [0; 3]));
                    self.areas.len() - 1
                }
            };
            step(&mut self.areas[i].1[slot]);
            if self.areas[i].1 == [0; 3] {
                self.areas.remove(i);
            }
        }
    }

    /// The tally among the participants of each neighbourhood (votes only).
    pub fn by_area(&self) -> Vec<(String, Tally)> {
        self.areas
            .iter()
            .map(|(id, [agree, disagree, neutral])| {
                let t = Tally {
                    agree: *agree,
                    disagree: *disagree,
                    neutral: *neutral,
                    ..Tally::default()
                };
                (id.clone(), t)
            })
            .collect()
    }
}

fn per_mille(part: u64, whole: u64) -> u64 {
    (part * 1000).checked_div(whole).unwrap_or(0)
}

/// `42 %` from per mille, rounded.
pub fn percent(per_mille: u64) -> String {
    format!("{}\u{202f}%", (per_mille + 5) / 10)
}

/// The fair order of the voting sequence: among `candidates` (proposals drawn at random
/// among the published ones, with their vote counts; those the participant already judged
/// left out), the one with the fewest votes. Drawing at random spreads the participants over
/// every proposal; taking the least voted of a few draws evens the counts out, so a proposal
/// published late catches up instead of staying behind (the « power of choices »). Popularity
/// plays no part: an approved proposal is not shown more. Ties go to the first drawn.
pub fn least_voted(candidates: &[(u64, u64)]) -> Option<u64> {
    candidates
        .iter()
        .min_by_key(|(_, votes)| *votes)
        .map(|(number, _)| *number)
}

/// The ranking of the results: the `RANKED` proposals with at least [`MIN_VOTES`] votes,
/// highest `score` first, ties broken by more votes then by number (the oldest).
pub fn ranked(tallies: &[(u64, Tally)], score: impl Fn(&Tally) -> u64) -> Vec<(u64, Tally)> {
    let mut kept: Vec<(u64, Tally)> = tallies
        .iter()
        .filter(|(_, t)| t.votes() >= MIN_VOTES)
        .cloned()
        .collect();
    kept.sort_by(|(a, ta), (b, tb)| {
        score(tb)
            .cmp(&score(ta))
            .then(tb.votes().cmp(&ta.votes()))
            .then(a.cmp(b))
    });
    kept.truncate(RANKED);
    kept
}

/// A proposal's text, checked: trimmed, one line, within bounds.
pub fn check_proposal(text: &str) -> Result<String, String> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let n = text.chars().count();
    if n < PROPOSAL_MIN {
        return Err(format!(
            "Écrivez votre proposition en une phrase ({PROPOSAL_MIN} caractères au moins)."
        ));
    }
    if n > PROPOSAL_MAX {
        return Err(format!(
            "Votre proposition fait {n} caractères\u{a0}: {PROPOSAL_MAX} au plus, une idée par proposition."
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(agree: u64, disagree: u64, neutral: u64) -> Tally {
        Tally {
            agree,
            disagree,
            neutral,
            ..Tally::default()
        }
    }

    #[test]
    fn phases_follow_the_dates_and_the_consent() {
        let mut c = Consultation {
            number: 1,
            question: "Q".into(),
            context: String::new(),
            opens_at: 100,
            closes_at: 200,
            by: "Mairie".into(),
            by_account: "a".into(),
            approved: false,
            results_published: false,
            published: 0,
        };
        assert_eq!(c.phase(150), Phase::Waiting);
        c.approved = true;
        assert_eq!(c.phase(99), Phase::Upcoming);
        assert_eq!(c.phase(100), Phase::Open);
        assert_eq!(c.phase(200), Phase::Closed);
    }

    #[test]
    fn the_sequence_takes_the_least_voted_draw() {
        assert_eq!(least_voted(&[(4, 12), (9, 3), (2, 3), (7, 40)]), Some(9));
        assert_eq!(least_voted(&[]), None);
    }

    #[test]
    fn rankings_need_enough_votes() {
        let tallies = vec![
            (1, tally(9, 1, 0)),
            (2, tally(3, 0, 0)),
            (3, tally(5, 5, 2)),
            (4, tally(50, 40, 10)),
            (5, tally(9, 1, 0)),
        ];
        let consensual: Vec<u64> = ranked(&tallies, Tally::consensus)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(consensual, [1, 5, 4, 3], "2 has too few votes");
        let divisive: Vec<u64> = ranked(&tallies, Tally::division)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(divisive, [3, 4, 1, 5]);
        assert_eq!(percent(tally(5, 5, 2).agree_share()), "42\u{202f}%");
    }

    #[test]
    fn proposals_are_one_sentence() {
        assert_eq!(
            check_proposal("  Il faut   plus\nde bancs  ").as_deref(),
            Ok("Il faut plus de bancs")
        );
        assert!(check_proposal("Oui").is_err());
        assert!(check_proposal(&"a".repeat(141)).is_err());
    }

    #[test]
    fn a_changed_vote_moves_the_tally() {
        let mut t = Tally::default();
        let mut b = Ballot {
            consultation: 1,
            proposal: 2,
            vote: Vote::Agree,
            qualifications: vec!["realiste".into(), "inconnue".into()],
            at: 0,
            neighbourhood: None,
        };
        t.count(&b, 1);
        t.count(&b, -1);
        b.vote = Vote::Disagree;
        t.count(&b, 1);
        assert_eq!(
            (t.agree, t.disagree, t.votes(), t.qualifications[1]),
            (0, 1, 1, 1)
        );
        t.count(&b, -1);
        t.count(&b, -1);
        assert_eq!(t, Tally::default(), "never below zero");
    }

    #[test]
    fn neighbourhoods_are_counted_with_the_vote() {
        let ballot = |vote, area: Option<&str>| Ballot {
            consultation: 1,
            proposal: 1,
            vote,
            qualifications: vec![],
            at: 0,
            neighbourhood: area.map(str::to_string),
        };
        let mut t = Tally::default();
        t.count(&ballot(Vote::Agree, Some("nord")), 1);
        t.count(&ballot(Vote::Disagree, Some("nord")), 1);
        t.count(&ballot(Vote::Agree, Some("sud")), 1);
        t.count(&ballot(Vote::Agree, None), 1);
        assert_eq!(t.votes(), 4);
        assert_eq!(
            t.areas,
            vec![
                ("nord".to_string(), [1, 1, 0]),
                ("sud".to_string(), [1, 0, 0])
            ]
        );
        // A changed vote moves between neighbourhoods; one left empty is dropped.
        t.count(&ballot(Vote::Agree, Some("sud")), -1);
        t.count(&ballot(Vote::Neutral, Some("nord")), 1);
        assert_eq!(t.areas, vec![("nord".to_string(), [1, 1, 1])]);
        let nord = &t.by_area()[0].1;
        assert_eq!((nord.votes(), nord.agree_share()), (3, 333));
    }
}
