//! Appel au don (premium): a commune runs fundraising campaigns with a goal, a deadline and a
//! progress bar. A gift goes through a Stripe Checkout session that the host creates (the
//! module never sees card data); when billing confirms the payment (`payment-succeeded`), the
//! campaign's total grows, the donor is thanked by e-mail, and listed only if they agreed.

mod money;

use parvis_module_sdk::host::{self, Audience, Channels, Checkout, Notification};
use parvis_module_sdk::prelude::*;
use parvis_module_sdk::{Event, Payment};
use serde::{Deserialize, Serialize};

use money::{euros, parse_euros};

const CAMPAIGNS: Collection = Collection::new("campaigns");
const PLEDGES: Collection = Collection::new("pledges");
/// Roles that run campaigns.
const STAFF: &[&str] = &["tenant-admin", "platform-admin", "official"];
/// Largest single gift, in cents (10 000 €).
const MAX_GIFT: u64 = 1_000_000;
/// Gifts one account may start and leave unpaid in an hour: each opens a checkout session at
/// the payment provider and leaves a pledge behind (the host also bounds checkouts per client).
const STARTED_PER_HOUR: u32 = 5;

/// A campaign.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Campaign {
    title: String,
    description: String,
    goal_cents: u64,
    /// Last day to give, `YYYY-MM-DD` (inclusive, in France).
    deadline: String,
    closed: bool,
}

/// A gift on its way through checkout, then paid.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pledge {
    campaign: String,
    account: String,
    name: String,
    amount_cents: u64,
    show_name: bool,
    paid: bool,
}

struct Donations;

impl Module for Donations {
    fn manifest() -> Manifest {
        Manifest::new("donations", "Appel au don", "1.0.0")
            .description(
                "Campagnes de dons de la commune : objectif, échéance, barre de progression, \
                 paiement sécurisé et remerciement des donateurs.",
            )
            .premium(true)
            .capabilities(&[
                Capability::Storage,
                Capability::Notify,
                Capability::Payments,
            ])
            .nav("Appels au don", "/", false)
            .nav("Campagnes de dons", "/", true)
    }

    fn handle(req: Request) -> Response {
        if req.admin {
            Router::new()
                .get("/", admin_list)
                .get("/nouvelle", new_form)
                .post("/nouvelle", create)
                .post("/{id}/cloturer", close)
                .handle(&req)
        } else {
            Router::new()
                .get("/", list)
                .get("/{id}", show)
                .post("/{id}/donner", give)
                .get("/{id}/merci", thanks)
                .handle(&req)
        }
    }

    fn on_event(event: Event) -> Result<(), String> {
        match event {
            Event::PaymentSucceeded(payment) => paid(&payment),
            _ => Ok(()),
        }
    }

    fn export_account(account: &str) -> Result<Vec<PersonalRecord>, Error> {
        pledges_of(account)
    }

    fn account_deleted(account: &str) -> Result<(), Error> {
        forget_donor(account)
    }
}

fn raised(id: &str) -> Result<(u64, u64), Error> {
    let mut cents = 0;
    let mut donors = 0;
    for (name, value) in store::counters(&format!("{id}:"))? {
        let value = u64::try_from(value).unwrap_or(0);
        if name.ends_with(":raised") {
            cents = value;
        } else if name.ends_with(":donors") {
            donors = value;
        }
    }
    Ok((cents, donors))
}

fn progress(c: &Campaign, cents: u64, donors: u64) -> Markup {
    let pct = cents
        .saturating_mul(100)
        .checked_div(c.goal_cents)
        .unwrap_or(0)
        .min(100);
    html! {
        p {
            progress max="100" value=(pct) aria-label="Avancement de la collecte" { (pct) " %" }
            " "
            strong { (euros(cents)) }
            " collectés sur " (euros(c.goal_cents)) " (" (pct) " %), " (donors) " don"
            @if donors > 1 { "s" }
            "."
        }
    }
}

fn open(c: &Campaign, today: &str) -> bool {
    !c.closed && today <= c.deadline.as_str()
}

/// Today's date in France, `YYYY-MM-DD` (a campaign's last day ends at midnight Paris time).
fn today() -> String {
    let now = parvis_module_sdk::time::to_input(host::now_ms().div_euclid(1000));
    now.get(..10).unwrap_or_default().to_owned()
}

fn list(req: &Request, _: &Params) -> Result<Response, Error> {
    let today = today();
    let campaigns = CAMPAIGNS.list().descending().all::<Campaign>()?;
    let mut open_ones = Vec::new();
    for c in campaigns.iter().filter(|c| open(&c.value, &today)) {
        open_ones.push((c, raised(&c.key)?));
    }
    Ok(Response::page(
        "Appels au don",
        html! {
            h1 { "Appels au don" }
            @if open_ones.is_empty() {
                (html::empty("Aucune collecte en cours."))
            }
            @for (c, (cents, donors)) in open_ones {
                section class="card" {
                    h2 { a href=(req.link(&format!("/{}", c.key))) { (c.value.title) } }
                    (progress(&c.value, cents, donors))
                    p { "Jusqu'au " (money::date_fr(&c.value.deadline)) "." }
                }
            }
        },
    ))
}

fn show(req: &Request, params: &Params) -> Result<Response, Error> {
    let id = params.require("id")?;
    let campaign = CAMPAIGNS.get::<Campaign>(id)?.ok_or(Error::NotFound)?.value;
    campaign_page(req, id, &campaign, None)
}

fn campaign_page(
    req: &Request,
    id: &str,
    c: &Campaign,
    error: Option<&str>,
) -> Result<Response, Error> {
    let (cents, donors) = raised(id)?;
    let pledges = PLEDGES.list().index("campaign-donor", id).all::<Pledge>()?;
    let names: Vec<&str> = pledges
        .iter()
        .filter(|p| p.value.show_name)
        .map(|p| p.value.name.as_str())
        .collect();
    let is_open = open(c, &today());
    // Asked before any form is shown: nobody fills one in to be told payment is closed.
    let closed_payments = if is_open {
        host::payments_available().err()
    } else {
        None
    };
    let html = html! {
        h1 { (c.title) }
        p { (c.description) }
        (progress(c, cents, donors))
        @if is_open {
            p { "Collecte ouverte jusqu'au " (money::date_fr(&c.deadline)) " inclus." }
            @if let Some(error) = error {
                p class="notice error" role="alert" { (error) }
            }
            @if let Some(why) = &closed_payments {
                (html::notice(
                    html::Tone::Info,
                    &format!("{why} Pour donner dès maintenant, renseignez-vous auprès de la \
                              mairie."),
                ))
            } @else if req.is_signed_in() {
                h2 { "Faire un don" }
                form method="post" action=(req.link(&format!("/{id}/donner"))) class="form" {
                    (req.csrf_field())
                    label for="montant" { "Montant en euros" }
                    input id="montant" name="montant" inputmode="decimal" required
                        aria-describedby="montant-aide";
                    p class="muted" id="montant-aide" {
                        "De 1 € à 10 000 €. Le paiement se fait sur une page sécurisée de notre \
                         prestataire."
                    }
                    p {
                        input type="checkbox" id="afficher" name="afficher";
                        " "
                        label for="afficher" { "Afficher mon nom parmi les donateurs" }
                    }
                    button type="submit" { "Continuer vers le paiement" }
                }
            } @else {
                p { a href="/connexion" { "Connectez-vous" } " pour faire un don." }
            }
        } @else {
            p { "Cette collecte est terminée. Merci à tous les donateurs." }
        }
        @if !names.is_empty() {
            h2 { "Ils ont donné" }
            ul {
                @for name in names {
                    li { (name) }
                }
            }
        }
    };
    let status = if error.is_some() { 422 } else { 200 };
    Ok(Response::page(c.title.clone(), html).with_status(status))
}

fn give(req: &Request, params: &Params) -> Result<Response, Error> {
    let account = req.require_account()?.to_owned();
    let id = params.require("id")?;
    let campaign = CAMPAIGNS.get::<Campaign>(id)?.ok_or(Error::NotFound)?.value;
    if !open(&campaign, &today()) {
        return Err(Error::conflict("Cette collecte est terminée."));
    }
    let amount = match parse_euros(req.form_value("montant").unwrap_or("")) {
        Some(cents) if (100..=MAX_GIFT).contains(&cents) => cents,
        _ => {
            return campaign_page(
                req,
                id,
                &campaign,
                Some("Indiquez un montant entre 1 € et 10 000 €, par exemple 20 ou 12,50."),
            );
        }
    };
    if unpaid_this_hour(&account)? >= STARTED_PER_HOUR {
        return Ok(Response::error_page(
            429,
            "Trop de dons commencés",
            "Vous avez commencé plusieurs dons sans les régler dans l'heure : terminez l'un \
             d'eux ou réessayez plus tard.",
        ));
    }
    let pledge_id = host::new_id();
    let pledge = Pledge {
        campaign: id.to_owned(),
        account,
        name: req.display_name().unwrap_or("Donateur").to_owned(),
        amount_cents: amount,
        show_name: req.form_value("afficher").is_some(),
        paid: false,
    };
    PLEDGES.insert(&pledge_id, &pledge, pledge_indexes(&pledge))?;
    let checkout = Checkout {
        amount_cents: amount,
        currency: "eur".into(),
        description: format!("Don — {}", campaign.title),
        reference: pledge_id,
        success_path: format!("/{id}/merci"),
        cancel_path: format!("/{id}"),
    };
    match host::create_checkout(&checkout) {
        Ok(url) => Ok(Response::redirect(url)),
        // Status 503 rolls the pledge back: nothing is recorded for a gift that cannot be paid.
        Err(why) => Ok(Response::error_page(503, "Paiement indisponible", &why)),
    }
}

/// The account's pledges started in the last hour and not paid (pledge keys are `new-id`s, so
/// the newest come first in descending order: one short page says it).
fn unpaid_this_hour(account: &str) -> Result<u32, Error> {
    let hour_ago = host::now_ms() - 3_600_000;
    let recent = PLEDGES
        .list()
        .index("account", account)
        .descending()
        .limit(STARTED_PER_HOUR)
        .page::<Pledge>()?;
    let unpaid = recent
        .documents
        .iter()
        .filter(|d| d.created_at > hour_ago && !d.value.paid)
        .count();
    Ok(u32::try_from(unpaid).unwrap_or(u32::MAX))
}

fn thanks(req: &Request, params: &Params) -> Result<Response, Error> {
    let id = params.require("id")?;
    let campaign = CAMPAIGNS.get::<Campaign>(id)?.ok_or(Error::NotFound)?.value;
    Ok(Response::page(
        "Merci !",
        html! {
            h1 { "Merci pour votre don" }
            p {
                "Votre paiement pour « " (campaign.title) " » est en cours de confirmation ; \
                 vous recevrez un e-mail de remerciement dès qu'il sera validé."
            }
            p { a href=(req.link(&format!("/{id}"))) { "Revenir à la collecte" } }
        },
    ))
}

/// Billing confirmed a payment: count it once, thank the donor.
fn paid(payment: &Payment) -> Result<(), String> {
    let Some(doc) = PLEDGES
        .get::<Pledge>(&payment.reference)
        .map_err(|e| e.to_string())?
    else {
        return Err(format!("promesse de don inconnue : {}", payment.reference));
    };
    let mut pledge = doc.value;
    if pledge.paid {
        return Ok(());
    }
    pledge.paid = true;
    pledge.amount_cents = payment.amount_cents;
    let campaign = pledge.campaign.clone();
    PLEDGES
        .put(
            &payment.reference,
            &pledge,
            pledge_indexes(&pledge),
            Some(doc.version),
        )
        .map_err(|e| e.to_string())?;
    let amount = i64::try_from(payment.amount_cents).map_err(|e| e.to_string())?;
    store::incr(&format!("{campaign}:raised"), amount).map_err(|e| e.to_string())?;
    store::incr(&format!("{campaign}:donors"), 1).map_err(|e| e.to_string())?;
    let title = CAMPAIGNS
        .get::<Campaign>(&campaign)
        .map_err(|e| e.to_string())?
        .map(|c| c.value.title)
        .unwrap_or_default();
    let thanks = Notification::in_app(
        &format!("Merci pour votre don à « {title} »"),
        &format!(
            "Votre don de {} à la collecte « {title} » a bien été reçu. Merci pour votre générosité.",
            euros(payment.amount_cents)
        ),
        &format!("/{campaign}"),
    )
    .channels(Channels::IN_APP | Channels::EMAIL);
    // A pledge whose donor deleted their account before the payment came is counted, and
    // nobody is left to thank.
    if !pledge.account.is_empty() {
        host::notify(&Audience::Accounts(vec![pledge.account]), &thanks)?;
    }
    Ok(())
}

/// Index entries of a pledge: its campaign, its campaign's donors once paid, and its donor's
/// account (export and erasure), while it has one.
fn pledge_indexes(pledge: &Pledge) -> Indexes {
    let mut indexes = Indexes::new().index("campaign", &pledge.campaign);
    if pledge.paid {
        indexes = indexes.index("campaign-donor", &pledge.campaign);
    }
    if !pledge.account.is_empty() {
        indexes = indexes.index("account", &pledge.account);
    }
    indexes
}

/// The account's pledges, paid or not, with their campaign.
fn pledges_of(account: &str) -> Result<Vec<PersonalRecord>, Error> {
    let mut out = Vec::new();
    for doc in PLEDGES.list().index("account", account).all::<Pledge>()? {
        let p = &doc.value;
        let campaign = CAMPAIGNS
            .get::<Campaign>(&p.campaign)?
            .map(|c| c.value.title)
            .unwrap_or_default();
        out.push(personal::record(
            "promesse de don",
            &serde_json::json!({
                "collecte": campaign,
                "montant": euros(p.amount_cents),
                "paye": p.paid,
                "nom": p.name,
                "nom_affiche_publiquement": p.show_name,
                "date": parvis_module_sdk::time::ms::iso_utc(doc.created_at),
            }),
        )?);
    }
    Ok(out)
}

/// Anonymises the account's pledges: the amounts stay in the campaigns' totals (and a payment
/// still on its way is counted), the name and the account go, and the name leaves the public
/// list of donors. Idempotent: anonymised pledges are no longer indexed by the account.
fn forget_donor(account: &str) -> Result<(), Error> {
    for doc in PLEDGES.list().index("account", account).all::<Pledge>()? {
        let mut pledge = doc.value;
        pledge.account = String::new();
        pledge.name = "Donateur".to_owned();
        pledge.show_name = false;
        PLEDGES.put(
            &doc.key,
            &pledge,
            pledge_indexes(&pledge),
            Some(doc.version),
        )?;
    }
    Ok(())
}

fn admin_list(req: &Request, _: &Params) -> Result<Response, Error> {
    req.require_any_role(STAFF)?;
    let mut campaigns = Vec::new();
    for c in CAMPAIGNS.list().descending().all::<Campaign>()? {
        let (cents, _) = raised(&c.key)?;
        campaigns.push((c, cents));
    }
    Ok(Response::page(
        "Campagnes de dons",
        html! {
            h1 { "Campagnes de dons" }
            @if let Err(why) = host::payments_available() {
                (html::notice(
                    html::Tone::Error,
                    &format!("Les habitants ne peuvent pas encore donner en ligne. {why} La page « Facturation » \
                              dit comment le relier."),
                ))
            }
            p { a href=(req.link("/nouvelle")) { "Lancer une collecte" } }
            @if campaigns.is_empty() {
                p { "Aucune campagne pour l'instant." }
            } @else {
                table {
                    (table_head(None, &["Campagne", "Collecté", "Objectif", "Échéance", "Action"]))
                    tbody {
                        @for (c, cents) in &campaigns {
                            tr {
                                td { a href={ "/m/donations/" (c.key) } { (c.value.title) } }
                                td { (euros(*cents)) }
                                td { (euros(c.value.goal_cents)) }
                                td { (money::date_fr(&c.value.deadline)) }
                                td {
                                    @if c.value.closed {
                                        "Close"
                                    } @else {
                                        form method="post"
                                            action=(req.link(&format!("/{}/cloturer", c.key)))
                                            class="inline" {
                                            (req.csrf_field())
                                            button type="submit" {
                                                "Clôturer"
                                                span class="sr-only" { " " (c.value.title) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

fn form_html(req: &Request, errors: &[&str], f: &[(&str, &str)]) -> Markup {
    let value = |name: &str| {
        f.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .unwrap_or("")
    };
    html! {
        h1 { "Lancer une collecte" }
        @if !errors.is_empty() {
            div class="notice error" role="alert" {
                p { "Le formulaire contient des erreurs :" }
                ul {
                    @for e in errors {
                        li { (e) }
                    }
                }
            }
        }
        form method="post" action=(req.link("/nouvelle")) class="form" {
            (req.csrf_field())
            label for="titre" { "Titre" }
            input id="titre" name="titre" required maxlength="120" value=(value("titre"));
            label for="description" { "Pour quoi collectez-vous ?" }
            textarea id="description" name="description" rows="5" required {
                (value("description"))
            }
            label for="objectif" { "Objectif en euros" }
            input id="objectif" name="objectif" inputmode="decimal" required
                value=(value("objectif"));
            label for="echeance" { "Dernier jour de la collecte" }
            input id="echeance" name="echeance" type="date" required value=(value("echeance"));
            button type="submit" { "Lancer la collecte" }
        }
    }
}

fn new_form(req: &Request, _: &Params) -> Result<Response, Error> {
    req.require_any_role(STAFF)?;
    Ok(Response::page(
        "Lancer une collecte",
        form_html(req, &[], &[]),
    ))
}

fn create(req: &Request, _: &Params) -> Result<Response, Error> {
    req.require_any_role(STAFF)?;
    let title = req.form_value("titre").unwrap_or("").trim();
    let description = req.form_value("description").unwrap_or("").trim();
    let goal = parse_euros(req.form_value("objectif").unwrap_or(""));
    let deadline = req.form_value("echeance").unwrap_or("").trim();
    let mut errors = vec![];
    if title.is_empty() || title.chars().count() > 120 {
        errors.push("Le titre est obligatoire (120 caractères au plus).");
    }
    if description.is_empty() || description.chars().count() > 5000 {
        errors.push("La description est obligatoire (5 000 caractères au plus).");
    }
    if !matches!(goal, Some(g) if (100..=100_000_000).contains(&g)) {
        errors.push("L'objectif doit être un montant entre 1 € et 1 000 000 €.");
    }
    if !money::valid_date(deadline) || deadline < today().as_str() {
        errors.push("L'échéance doit être une date à venir (jj/mm/aaaa).");
    }
    if !errors.is_empty() {
        let fields: Vec<(&str, &str)> = ["titre", "description", "objectif", "echeance"]
            .iter()
            .map(|n| (*n, req.form_value(n).unwrap_or("")))
            .collect();
        return Ok(
            Response::page("Lancer une collecte", form_html(req, &errors, &fields))
                .with_status(422),
        );
    }
    let id = host::new_id();
    let campaign = Campaign {
        title: title.to_owned(),
        description: description.to_owned(),
        goal_cents: goal.unwrap_or(0),
        deadline: deadline.to_owned(),
        closed: false,
    };
    CAMPAIGNS.insert(&id, &campaign, Indexes::new())?;
    Ok(req.redirect("/").with_flash("La collecte est lancée."))
}

fn close(req: &Request, params: &Params) -> Result<Response, Error> {
    req.require_any_role(STAFF)?;
    let id = params.require("id")?;
    let doc = CAMPAIGNS.get::<Campaign>(id)?.ok_or(Error::NotFound)?;
    let mut campaign = doc.value;
    campaign.closed = true;
    CAMPAIGNS.put(id, &campaign, Indexes::new(), Some(doc.version))?;
    Ok(req.redirect("/").with_flash("La collecte est close."))
}

export_module!(Donations);
