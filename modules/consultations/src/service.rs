//! The rules of a consultation and the host calls: asking a question (an official's waits for
//! an admin's consent), proposing, moderating, the voting sequence, votes, the results and
//! their publication, and an account's erasure.

use crate::model::{
    Ballot, CONTEXT_MAX, Consultation, Moderation, Phase, Proposal, QUALIFICATIONS, QUESTION_MAX,
    REASON_MAX, Tally, Vote, check_proposal, least_voted, percent, ranked,
};
use crate::store;
use parvis_module_sdk::bindings::parvis::module::notify::{Audience, Channels, Notification};
use parvis_module_sdk::html::{FieldError, french_text};
use parvis_module_sdk::prelude::*;
use parvis_module_sdk::time::ms;

/// The role of the commune's admins, who consent to an official's consultation.
pub const ADMIN: &str = "tenant-admin";
/// Proposals drawn for each step of the voting sequence (see [`crate::model::least_voted`]).
pub const DRAWS: usize = 6;
/// Proposals read in order when the draws found none left for the participant.
const WALK: u32 = 200;

/// Consultation `number`, which the viewer may see (an official's waiting one is shown only
/// to the commune's team).
pub fn consultation(req: &Request, number: u64) -> Result<(Consultation, u64), Error> {
    shown(req, store::consultation(number)?)
}

/// The consultation as the request may see it: an unapproved one only to the admins.
fn shown(req: &Request, doc: Option<Doc<Consultation>>) -> Result<(Consultation, u64), Error> {
    let doc = doc.ok_or(Error::NotFound)?;
    if !doc.value.approved && !req.admin {
        return Err(Error::NotFound);
    }
    Ok((doc.value, doc.version))
}

/// The consultation form, as typed.
#[derive(Debug, Clone, Default)]
pub struct ConsultationForm {
    pub question: String,
    pub context: String,
    pub opens: String,
    pub closes: String,
}

impl ConsultationForm {
    pub fn from_request(req: &Request) -> Self {
        let field = |n| req.form_value(n).unwrap_or_default().to_string();
        Self {
            question: field("question"),
            context: field("contexte"),
            opens: field("ouverture"),
            closes: field("cloture"),
        }
    }
}

/// Asks a new question. An admin's consultation is approved at once; an official's waits for
/// an admin's consent, and the admins are told.
pub fn create(req: &Request, form: &ConsultationForm) -> Result<u64, Vec<FieldError>> {
    let mut errors: Vec<FieldError> = Vec::new();
    let question = form.question.trim();
    let context = form.context.trim();
    if question.chars().count() < 10 || question.chars().count() > QUESTION_MAX {
        errors.push((
            "question",
            format!("Posez la question en une phrase (10 à {QUESTION_MAX} caractères)."),
        ));
    }
    if context.chars().count() > CONTEXT_MAX {
        errors.push((
            "contexte",
            "Le contexte est trop long (4\u{a0}000 caractères au plus).".to_string(),
        ));
    }
    let period = ms::period(&form.opens, &form.closes, host::now_ms());
    if let Err(e) = &period {
        errors.extend(e.iter().cloned());
    }
    let (Ok((opens_at, closes_at)), true) = (period, errors.is_empty()) else {
        return Err(errors);
    };
    let fail = |e: StoreError| vec![("question", format!("Enregistrement impossible\u{a0}: {e}"))];
    let account = req.account().unwrap_or_default().to_string();
    let admin = req.has_role(ADMIN);
    let number = store::next_consultation().map_err(fail)?;
    let consultation = Consultation {
        number,
        question: question.to_string(),
        context: context.to_string(),
        opens_at,
        closes_at,
        by: if admin {
            format!("la mairie {}", req.commune.de())
        } else {
            req.display_name().unwrap_or("Un élu").to_string()
        },
        by_account: account,
        approved: admin,
        results_published: false,
        published: 0,
    };
    store::insert_consultation(&consultation).map_err(fail)?;
    if !admin {
        let notice = Notification::in_app(
            "Consultation à valider",
            &format!(
                "{} propose une consultation\u{a0}: «\u{a0}{}\u{a0}»",
                consultation.by, consultation.question
            ),
            &format!("/{number}"),
        );
        if let Err(e) = host::notify(&Audience::Role(ADMIN.into()), &notice) {
            host::warn(&format!("consultation {number}: admins non prévenus: {e}"));
        }
    }
    Ok(number)
}

/// An admin consents to an official's consultation.
pub fn approve(req: &Request, number: u64) -> Result<(), Error> {
    if !req.has_role(ADMIN) {
        return Err(Error::page(
            403,
            "Réservé aux administrateurs",
            "Seuls les administrateurs de la commune valident la consultation d'un élu.",
        ));
    }
    let doc = store::consultation(number)?.ok_or(Error::NotFound)?;
    let mut c = doc.value;
    if c.approved {
        return Ok(());
    }
    c.approved = true;
    store::update_consultation(&c, doc.version)?;
    Ok(())
}

/// Refuses an action outside the consultation's open period, saying when it is.
/// The commune's neighbourhoods, `(id, name)`, in its order.
pub fn neighbourhoods() -> Result<Vec<(String, String)>, StoreError> {
    Ok(parvis_module_sdk::store::neighbourhoods()?
        .into_iter()
        .map(|n| (n.id, n.name))
        .collect())
}

pub fn require_open(c: &Consultation, what: &str) -> Result<(), Error> {
    match c.phase(host::now_ms()) {
        Phase::Open => Ok(()),
        Phase::Closed => Err(Error::page(
            409,
            "Consultation close",
            &format!(
                "Cette consultation est close depuis le {}\u{a0}: {what} n'est plus possible.",
                ms::format_fr(c.closes_at)
            ),
        )),
        Phase::Upcoming | Phase::Waiting => Err(Error::page(
            409,
            "Consultation pas encore ouverte",
            &format!(
                "Cette consultation ouvre le {}\u{a0}: {what} sera possible à partir de là.",
                ms::format_fr(c.opens_at)
            ),
        )),
    }
}

/// Submits a proposal: it waits for moderation, seen by its author only.
pub fn propose(req: &Request, number: u64, text: &str) -> Result<u64, Error> {
    let account = req.require_account()?.to_string();
    let (c, _) = consultation(req, number)?;
    require_open(&c, "proposer")?;
    let text = check_proposal(text)
        .map_err(|message| Error::page(422, "Proposition non envoyée", &message))?;
    if store::count_authored(number, &account)? >= crate::model::PROPOSALS_PER_ACCOUNT {
        return Err(Error::page(
            429,
            "Assez de propositions",
            &format!(
                "Vous avez déjà fait {} propositions à cette consultation\u{a0}: c'est le plus, pour que chacun ait sa place.",
                crate::model::PROPOSALS_PER_ACCOUNT
            ),
        ));
    }
    let proposal = Proposal {
        consultation: number,
        number: store::next_proposal(number)?,
        text,
        author: Some(account),
        submitted_at: host::now_ms(),
        moderation: Moderation::Waiting,
        reason: None,
    };
    store::insert_proposal(&proposal)?;
    Ok(proposal.number)
}

/// Publishes proposal `p` (it joins the draw) or refuses it with a reason told to its author.
pub fn moderate(number: u64, p: u64, publish: bool, reason: &str) -> Result<(), Error> {
    let reason = reason.trim();
    if !publish && (reason.is_empty() || reason.chars().count() > REASON_MAX) {
        return Err(Error::page(
            422,
            "Raison manquante",
            "Dites à l'auteur pourquoi sa proposition n'est pas publiée (500 caractères au plus)\u{a0}: la modération est neutre et s'explique.",
        ));
    }
    let doc = store::proposal(number, p)?.ok_or(Error::NotFound)?;
    let mut proposal = doc.value;
    if proposal.moderation != Moderation::Waiting {
        return Err(Error::conflict("Cette proposition a déjà été modérée."));
    }
    if publish {
        let c = store::consultation(number)?.ok_or(Error::NotFound)?;
        let mut consultation = c.value;
        consultation.published += 1;
        store::update_consultation(&consultation, c.version)?;
        store::publish(number, consultation.published, p)?;
        proposal.moderation = Moderation::Published;
    } else {
        proposal.moderation = Moderation::Refused;
        proposal.reason = Some(reason.to_string());
    }
    store::update_proposal(&proposal, doc.version)?;
    if let Some(author) = &proposal.author {
        let (title, body) = if publish {
            (
                "Proposition publiée".to_string(),
                format!(
                    "Votre proposition «\u{a0}{}\u{a0}» est publiée\u{a0}: les participants peuvent voter.",
                    proposal.text
                ),
            )
        } else {
            (
                "Proposition non publiée".to_string(),
                format!(
                    "Votre proposition «\u{a0}{}\u{a0}» n'est pas publiée. Raison\u{a0}: {reason}",
                    proposal.text
                ),
            )
        };
        let notice = Notification::in_app(&title, &body, &format!("/{number}"))
            .channels(Channels::IN_APP | Channels::EMAIL);
        if let Err(e) = host::notify(&Audience::Accounts(vec![author.clone()]), &notice) {
            host::warn(&format!(
                "proposition {number}-{p}: auteur non prévenu: {e}"
            ));
        }
    }
    Ok(())
}

/// A random number below `n` (n > 0).
fn random_below(n: u64) -> u64 {
    let bytes = host::random_bytes(8);
    let mut word = [0u8; 8];
    for (w, b) in word.iter_mut().zip(bytes) {
        *w = b;
    }
    u64::from_le_bytes(word) % n
}

/// The next proposal to show `account` in the voting sequence: the least voted of
/// [`DRAWS`] published proposals drawn at random among those it has not judged; when the
/// draws find none, the first not judged in order from a random rank. `None`: nothing left.
pub fn next(c: &Consultation, account: &str) -> Result<Option<u64>, Error> {
    let n = c.published;
    if n == 0 {
        return Ok(None);
    }
    let mut candidates: Vec<(u64, u64)> = Vec::new();
    let mut drawn: Vec<u64> = Vec::new();
    for _ in 0..DRAWS {
        let Some(p) = store::at_rank(c.number, 1 + random_below(n))? else {
            continue;
        };
        if drawn.contains(&p) {
            continue;
        }
        drawn.push(p);
        if store::ballot(c.number, p, account)?.is_none() {
            candidates.push((p, store::tally_of(c.number, p)?.votes()));
        }
    }
    if let Some(p) = least_voted(&candidates) {
        return Ok(Some(p));
    }
    for from in [1 + random_below(n), 1] {
        for p in store::ranks_from(c.number, from, WALK)? {
            if store::ballot(c.number, p, account)?.is_none() {
                return Ok(Some(p));
            }
        }
    }
    Ok(None)
}

/// The qualifications of the posted form: known codes only, each once.
pub fn qualifications(req: &Request) -> Vec<String> {
    let posted = req.form_values("qualification");
    QUALIFICATIONS
        .iter()
        .filter(|(code, _)| posted.contains(code))
        .map(|(code, _)| (*code).to_string())
        .collect()
}

/// Records (or changes) the viewer's vote on proposal `p`. Returns false when it is the
/// same as before.
pub fn vote(
    req: &Request,
    number: u64,
    p: u64,
    vote: Vote,
    qualifications: Vec<String>,
) -> Result<bool, Error> {
    let account = req.require_account()?.to_string();
    // What the vote checks but does not change, as last committed: on SQLite the call then
    // takes the commune's one writer only from its ballot on, every other vote waiting less. A
    // consultation closed, or a proposal withdrawn, a few milliseconds before is a vote that
    // came a few milliseconds earlier; what the vote changes (its ballot, the tally, the
    // participants) is read in its transaction.
    let (c, _) = shown(req, store::consultation_committed(number)?)?;
    require_open(&c, "voter")?;
    let proposal = store::proposal_committed(number, p)?
        .ok_or(Error::NotFound)?
        .value;
    if proposal.moderation != Moderation::Published {
        return Err(Error::NotFound);
    }
    let ballot = Ballot {
        consultation: number,
        proposal: p,
        vote,
        qualifications,
        at: host::now_ms(),
        neighbourhood: req
            .form_value("quartier")
            .filter(|q| crate::model::is_neighbourhood_id(q))
            .map(str::to_string),
    };
    let unchanged = |before: &Option<Doc<Ballot>>| {
        before.as_ref().is_some_and(|old| {
            old.value.vote == ballot.vote
                && old.value.qualifications == ballot.qualifications
                && old.value.neighbourhood == ballot.neighbourhood
        })
    };
    let before = store::ballot(number, p, &account)?;
    if unchanged(&before) {
        return Ok(false);
    }
    // The ballot first: a second vote at the same moment by the same person conflicts here,
    // so the tally never counts one person twice. On PostgreSQL twins (a double click) read
    // the ballot side by side; the later one's write waits for the first, then conflicts:
    // read again, its vote is found made. Any other conflict is rolled back whole.
    match store::put_ballot(&ballot, &account, before.as_ref().map(|d| d.version)) {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) if unchanged(&store::ballot(number, p, &account)?) => {
            return Ok(false);
        }
        Err(e) => return Err(e.into()),
    }
    let old = before.map(|d| d.value);
    store::change_tally(number, p, |tally: &mut Tally| {
        if let Some(old) = &old {
            tally.count(old, -1);
        }
        tally.count(&ballot, 1);
        true
    })?;
    if old.is_none() {
        store::join(number, &account)?;
    }
    Ok(true)
}

/// The results of a consultation: its totals and rankings, with the ranked proposals' texts.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Results {
    /// When they were worked out (Unix milliseconds).
    pub at: i64,
    pub participants: u64,
    pub votes: u64,
    pub published: u64,
    pub consensual: Vec<(u64, Tally)>,
    pub divisive: Vec<(u64, Tally)>,
    pub texts: Vec<(u64, String)>,
    /// For each ranked proposal, its tally among the voters of each neighbourhood who said
    /// where they live (every neighbourhood, however few: the page hides the small ones).
    #[serde(default)]
    pub by_neighbourhood: Vec<(u64, Vec<(String, Tally)>)>,
}

/// How long the results page's figures are kept before they are worked out again: reading
/// every proposal's tally (20,000 in a national-sized consultation) for each visitor would
/// cost more than all the votes. Once the consultation is closed they never change.
pub const RESULTS_FRESH_MS: u32 = 30_000;

/// The results worked out now from every tally.
pub fn results(c: &Consultation) -> Result<Results, Error> {
    let tallies = store::tallies(c.number)?;
    let participants = store::participants(c.number)?;
    let votes = tallies.iter().map(|(_, t)| t.votes()).sum();
    let consensual = ranked(&tallies, Tally::consensus);
    let divisive = ranked(&tallies, Tally::division);
    let mut texts: Vec<(u64, String)> = Vec::new();
    for (p, _) in consensual.iter().chain(&divisive) {
        if !texts.iter().any(|(q, _)| q == p) {
            texts.push((*p, text_of(c.number, *p)?));
        }
    }
    let by_neighbourhood = consensual.iter().chain(&divisive).fold(
        Vec::new(),
        |mut all: Vec<(u64, Vec<(String, Tally)>)>, (p, t)| {
            if !all.iter().any(|(q, _)| q == p) {
                all.push((*p, t.by_area()));
            }
            all
        },
    );
    Ok(Results {
        at: host::now_ms(),
        participants,
        votes,
        published: c.published,
        consensual,
        divisive,
        texts,
        by_neighbourhood,
    })
}

/// The results as the page shows them. While the consultation is open, worked out at most
/// every [`RESULTS_FRESH_MS`] by one visitor and kept in the host's memory (`cache`): a GET
/// that wrote them to storage would, on SQLite, hold the commune's writer — every vote
/// waiting — for the whole computation. Once closed, worked out once after the closing and
/// kept in storage for good (the final results never change; the feed's post reads them too).
pub fn shown_results(c: &Consultation) -> Result<Results, Error> {
    let now = host::now_ms();
    if now < c.closes_at {
        let key = format!("resultats:{}", c.number);
        return cache::fresh_or(&key, RESULTS_FRESH_MS, || results(c));
    }
    let version = match store::kept_results(c.number)? {
        Some(kept) if kept.value.at >= c.closes_at => return Ok(kept.value),
        kept => kept.map(|d| d.version),
    };
    let fresh = self::results(c)?;
    store::keep_results(c.number, &fresh, version)?;
    Ok(fresh)
}

/// The text of proposal `p` (empty if it is gone).
pub fn text_of(number: u64, p: u64) -> Result<String, Error> {
    Ok(store::proposal(number, p)?
        .map(|d| d.value.text)
        .unwrap_or_default())
}

/// Publishes the results of a closed consultation in the commune's feed, once.
pub fn publish_results(number: u64) -> Result<(), Error> {
    let doc = store::consultation(number)?.ok_or(Error::NotFound)?;
    let mut c = doc.value;
    if c.phase(host::now_ms()) != Phase::Closed {
        return Err(Error::conflict(
            "Les résultats se publient une fois la consultation close.",
        ));
    }
    if c.results_published {
        return Err(Error::conflict(
            "Les résultats sont déjà publiés dans le fil.",
        ));
    }
    let results = results(&c)?;
    let mut text = format!(
        "**Résultats de la consultation «\u{a0}{}\u{a0}»**\n\n{} participants, {} votes sur {} propositions.",
        c.question, results.participants, results.votes, results.published
    );
    if !results.consensual.is_empty() {
        text.push_str("\n\nLes propositions les plus consensuelles\u{a0}:\n");
        for (p, t) in results.consensual.iter().take(3) {
            text.push_str(&format!(
                "\n- {} ({} d'accord)",
                results
                    .texts
                    .iter()
                    .find(|(q, _)| q == p)
                    .map_or("", |(_, s)| s.as_str()),
                percent(t.agree_share())
            ));
        }
    }
    text.push_str("\n\nTous les résultats, en données ouvertes, sur la page de la consultation.");
    host::publish(&french_text(&text), Some(&format!("/{number}/resultats")))
        .map_err(|e| Error::Internal(format!("fil: {e}")))?;
    c.results_published = true;
    store::update_consultation(&c, doc.version)?;
    Ok(())
}

/// The account was deleted: its proposals stay the consultation's, unsigned; its votes are
/// withdrawn from the tallies, and it is no longer counted among the participants.
pub fn forget(account: &str) -> Result<(), Error> {
    for doc in store::proposed_by(account)? {
        let mut p = doc.value;
        p.author = None;
        store::update_proposal(&p, doc.version)?;
    }
    for n in store::numbers()? {
        for doc in store::ballots_of(n, account)? {
            let ballot = doc.value;
            store::change_tally(ballot.consultation, ballot.proposal, |tally: &mut Tally| {
                tally.count(&ballot, -1);
                true
            })?;
            store::delete_ballot(&doc.key)?;
        }
        store::leave(n, account)?;
    }
    for doc in store::declared_by(account)? {
        store::forget_declared(&doc.key)?;
    }
    Ok(())
}
