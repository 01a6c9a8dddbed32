//! Permanences en ligne (module `office-hours`, premium) through the real router and the real
//! compiled component: an official publishes a slot, citizens book it and get an e-mail with a
//! calendar invitation, a slot never takes more bookings than seats even when citizens rush it
//! at once, cancelling frees a seat, moving a booking is all or nothing, the official's agenda
//! shows who booked what, and another commune sees nothing.

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_core::modules::bindings::parvis::module::types::Event;
use parvis_core::types::{ModuleId, Slug, TenantId};
use parvis_tenants::provision;
use parvis_tests::{TestApp, both_backends, form_token};

const PACKAGE: &str = "parvis-module-office-hours";
const ID: &str = "office-hours";
const PASSWORD: &str = "mot-de-passe-solide";
const OFFICIAL: &str = "elu@paris.fr";

async fn tenant(app: &TestApp, slug: &str) -> Result<TenantId> {
    Ok(provision::find_by_slug(&app.state.db, &Slug::parse(slug)?)
        .await?
        .context("no such tenant")?
        .id)
}

/// A premium module: enabling it needs the commune's entitlement first.
async fn entitle_and_enable(app: &TestApp, slug: &str) -> Result<()> {
    let id = ModuleId::parse(ID)?;
    parvis_core::modules::service::entitle(
        &app.state.modules,
        &app.state.db.tenant(tenant(app, slug).await?),
        &id,
        "test",
        None,
    )
    .await?;
    app.enable_module(slug, ID).await
}

/// Paris with the module (refused before the entitlement, enabled after) and an official.
async fn paris_with_module(app: &TestApp) -> Result<(String, reqwest::Client)> {
    let paris = app.commune("75056").await?;
    assert_eq!(app.install_module(PACKAGE).await?, ID);
    assert!(
        app.enable_module(&paris, ID).await.is_err(),
        "a premium module was enabled without an entitlement"
    );
    entitle_and_enable(app, &paris).await?;
    let elu = app.account(OFFICIAL, PASSWORD).await?;
    app.grant(&elu, Role::Official, Some(&paris)).await?;
    let official = app.signed_in(Some(&paris), OFFICIAL, PASSWORD).await?;
    Ok((paris, official))
}

async fn citizen(app: &TestApp, slug: &str, email: &str) -> Result<reqwest::Client> {
    app.account(email, PASSWORD).await?;
    app.signed_in(Some(slug), email, PASSWORD).await
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A `datetime-local` value for `secs` (its UTC digits; the module reads them as Paris time,
/// one or two hours earlier in UTC, which these tests allow for).
fn local_input(secs: i64) -> String {
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Every distinct `{key}` found as `{prefix}{key}{suffix}` in `html`, in order.
fn keys_between(html: &str, prefix: &str, suffix: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        let (key, after) = rest.split_at(end);
        if !key.is_empty() && after.starts_with(suffix) && !keys.iter().any(|k| k == key) {
            keys.push(key.to_string());
        }
    }
    keys
}

async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, String)> {
    let r = client.get(url).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    fields: &[(&str, &str)],
) -> Result<reqwest::Response> {
    Ok(client.post(url).form(fields).send().await?)
}

/// Publishes a slot through the admin form; returns its key.
async fn publish(
    app: &TestApp,
    official: &reqwest::Client,
    slug: &str,
    start: &str,
    capacity: &str,
    topic: &str,
) -> Result<String> {
    let form = app.url(Some(slug), "/admin/m/office-hours/new");
    let token = form_token(official, &form).await?;
    let r = post(
        official,
        &form,
        &[
            ("csrf_token", &token),
            ("debut", start),
            ("duree", "30"),
            ("lieu", "Mairie, bureau des élus"),
            ("lien", ""),
            ("capacite", capacity),
            ("sujet", topic),
            ("description", "Venez avec vos questions."),
        ],
    )
    .await?;
    assert_eq!(r.status(), 303, "{}", r.text().await?);
    assert_eq!(r.headers()["location"], "/admin/m/office-hours");
    let (_, agenda) = get(official, &app.url(Some(slug), "/admin/m/office-hours/")).await?;
    assert!(agenda.contains("est publié"), "no flash: {agenda}");
    let (_, list) = get(official, &app.url(Some(slug), "/m/office-hours/")).await?;
    // The new key is the one next to its topic in the public list.
    let at = list.find(topic).context("topic not listed")?;
    keys_between(&list[..at], "href=\"/m/office-hours/", "\"")
        .pop()
        .context("no slot link")
}

/// Books `slot` as `client`; returns the response.
async fn book(
    app: &TestApp,
    client: &reqwest::Client,
    slug: &str,
    slot: &str,
    subject: &str,
) -> Result<reqwest::Response> {
    let page = app.url(Some(slug), &format!("/m/office-hours/{slot}"));
    let token = form_token(client, &page).await?;
    post(
        client,
        &format!("{page}/book"),
        &[("csrf_token", &token), ("objet", subject)],
    )
    .await
}

/// The keys of the viewer's bookings, from the cancel buttons of "Mes réservations".
async fn my_bookings(app: &TestApp, client: &reqwest::Client, slug: &str) -> Result<Vec<String>> {
    let (_, html) = get(
        client,
        &app.url(Some(slug), "/m/office-hours/mes-reservations"),
    )
    .await?;
    Ok(keys_between(
        &html,
        "/m/office-hours/mes-reservations/",
        "/annuler",
    ))
}

/// Delivers a `tick` to the module in a commune, as the host's scheduler does every minute,
/// at a chosen time.
async fn tick(app: &TestApp, slug: &str, at: i64) -> Result<()> {
    let module = app.state.modules.get(ID).context("module not loaded")?;
    let outcome = parvis_core::modules::call::event(
        &app.state.modules,
        &module,
        tenant(app, slug).await?,
        app.url(Some(slug), ""),
        &Event::Tick(at),
    )
    .await?;
    outcome.map_err(|e| anyhow::anyhow!("tick refused: {e}"))
}

both_backends!(
    officials_publish_and_citizens_book_with_an_invitation,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, official) = paris_with_module(&app).await?;
        let anonymous = app.client()?;
        let public = app.url(Some(&paris), "/m/office-hours/");

        // A bad form is shown again with its French messages and a 422.
        let form = app.url(Some(&paris), "/admin/m/office-hours/new");
        let token = form_token(&official, &form).await?;
        let r = post(
            &official,
            &form,
            &[
                ("csrf_token", &token),
                ("debut", ""),
                ("duree", "30"),
                ("lieu", ""),
                ("lien", "http://visio.example.org/salle"),
                ("capacite", "99"),
                ("sujet", "Urbanisme <b>"),
            ],
        )
        .await?;
        assert_eq!(r.status(), 422);
        let page = r.text().await?;
        for message in [
            "Indiquez la date et l'heure de début.",
            "Le lien de visioconférence doit commencer par https://.",
            "Le nombre de places doit être compris entre 1 et 50.",
        ] {
            assert!(page.contains(message), "{message} missing: {page}");
        }
        assert!(page.contains("value=\"Urbanisme &lt;b&gt;\""), "{page}");
        assert!(page.contains("aria-invalid=\"true\""), "{page}");

        // Citizens may not publish.
        let camille = citizen(&app, &paris, "camille@example.org").await?;
        let (status, _) = get(&camille, &form).await?;
        assert_eq!(status, 403);

        let start = local_input(unix_now() + 3 * 86_400);
        let slot = publish(&app, &official, &paris, &start, "3", "Permanence urbanisme").await?;

        // The commune's home page announces it (issue 17: where people look).
        let (_, home) = get(&anonymous, &app.url(Some(&paris), "/")).await?;
        let cards = parvis_tests::html::texts(&home, "section.now article")?;
        assert_eq!(cards.len(), 1, "{home}");
        assert!(cards[0].contains("Permanence urbanisme"), "{cards:?}");
        assert!(cards[0].contains("3 places libres."), "{cards:?}");
        assert_eq!(
            parvis_tests::html::attrs(&home, "section.now h3 a", "href")?,
            [format!("/m/office-hours/{slot}")]
        );

        // Anonymous visitors see the slot and are asked to sign in.
        let (status, list) = get(&anonymous, &public).await?;
        assert_eq!(status, 200);
        assert!(list.contains("Permanence urbanisme"), "{list}");
        assert!(list.contains("3 places sur 3"), "{list}");
        assert!(list.contains("/connexion?next="), "{list}");
        let slot_url = app.url(Some(&paris), &format!("/m/office-hours/{slot}"));
        let (_, detail) = get(&anonymous, &slot_url).await?;
        assert!(detail.contains("connectez-vous"), "{detail}");
        assert!(!detail.contains("name=\"objet\""), "{detail}");

        // Lyon has the module too, but not Paris's slots.
        let lyon = app.commune("69123").await?;
        entitle_and_enable(&app, &lyon).await?;
        let (status, lyon_list) =
            get(&anonymous, &app.url(Some(&lyon), "/m/office-hours/")).await?;
        assert_eq!(status, 200);
        assert!(!lyon_list.contains("Permanence urbanisme"), "{lyon_list}");
        let (status, _) = get(
            &anonymous,
            &app.url(Some(&lyon), &format!("/m/office-hours/{slot}")),
        )
        .await?;
        assert_eq!(status, 404);

        // A booking needs a subject.
        let r = book(&app, &camille, &paris, &slot, "   ").await?;
        assert_eq!(r.status(), 422);
        assert!(
            r.text()
                .await?
                .contains("Indiquez l'objet de votre demande.")
        );

        let r = book(&app, &camille, &paris, &slot, "Extension de ma véranda").await?;
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "/m/office-hours/mes-reservations");
        let (_, mine) = get(
            &camille,
            &app.url(Some(&paris), "/m/office-hours/mes-reservations"),
        )
        .await?;
        assert!(mine.contains("Votre réservation est confirmée"), "{mine}");
        assert!(mine.contains("Extension de ma véranda"), "{mine}");

        // The confirmation e-mail, with the calendar invitation attached.
        let mail = app
            .smtp
            .wait_for("camille@example.org", "Permanence réservée")
            .await?;
        for text in [
            "Votre réservation est confirmée.",
            "Permanence : Permanence urbanisme",
            "Lieu : Mairie, bureau des élus",
            "Objet de votre demande : Extension de ma véranda",
            "permanence.ics",
            "/m/office-hours/mes-reservations",
        ] {
            assert!(mail.text.contains(text), "{text} missing: {}", mail.text);
        }
        let attached: Vec<(Option<&str>, &str)> = mail
            .attachments
            .iter()
            .map(|a| (a.filename.as_deref(), a.content_type.as_str()))
            .collect();
        assert_eq!(
            attached,
            [(Some("permanence.ics"), "text/calendar")],
            "{mail:?}"
        );

        // The same invitation, downloaded from "Mes réservations".
        let bookings = my_bookings(&app, &camille, &paris).await?;
        assert_eq!(bookings.len(), 1, "{mine}");
        let r = camille
            .get(app.url(
                Some(&paris),
                &format!(
                    "/m/office-hours/mes-reservations/{}/invitation.ics",
                    bookings[0]
                ),
            ))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()?
                .starts_with("text/calendar")
        );
        let ics = r.text().await?;
        assert!(
            ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"),
            "{ics}"
        );
        assert!(ics.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"), "{ics}");
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "unfolded line: {line:?}");
        }
        let unfolded = ics.replace("\r\n ", "");
        for property in ["UID:", "DTSTAMP:", "DTSTART:", "DTEND:"] {
            assert!(
                unfolded.contains(&format!("\r\n{property}")),
                "{property} missing: {ics}"
            );
        }
        assert!(unfolded.contains("SUMMARY:Permanence : Permanence urbanisme\r\n"));
        assert!(unfolded.contains("LOCATION:Mairie\\, bureau des élus\r\n"));
        let dtstart = unfolded
            .split("\r\n")
            .find_map(|l| l.strip_prefix("DTSTART:"))
            .context("DTSTART")?;
        assert!(dtstart.len() == 16 && dtstart.ends_with('Z'), "{dtstart}");
        // Someone else cannot read it.
        let (status, _) = get(
            &official,
            &app.url(
                Some(&paris),
                &format!(
                    "/m/office-hours/mes-reservations/{}/invitation.ics",
                    bookings[0]
                ),
            ),
        )
        .await?;
        assert_eq!(status, 404);

        // Booking twice is refused, kindly: the form is gone, and a replayed post gets a 409.
        let (_, detail) = get(&camille, &slot_url).await?;
        assert!(detail.contains("Vous avez réservé ce créneau."), "{detail}");
        assert!(!detail.contains("name=\"objet\""), "{detail}");
        let token = form_token(
            &camille,
            &app.url(Some(&paris), "/m/office-hours/mes-reservations"),
        )
        .await?;
        let r = post(
            &camille,
            &format!("{slot_url}/book"),
            &[("csrf_token", &token), ("objet", "Encore moi")],
        )
        .await?;
        assert_eq!(r.status(), 409);
        assert!(
            r.text()
                .await?
                .contains("Vous avez déjà réservé ce créneau.")
        );

        // The official's agenda shows who booked and why.
        let (status, agenda) =
            get(&official, &app.url(Some(&paris), "/admin/m/office-hours/")).await?;
        assert_eq!(status, 200);
        assert!(agenda.contains("Permanence urbanisme"), "{agenda}");
        let camille_name = parvis_tests::display_name("camille@example.org");
        assert!(agenda.contains(&camille_name), "{camille_name}: {agenda}");
        assert!(agenda.contains("Extension de ma véranda"), "{agenda}");
        assert!(
            agenda.contains("1 réservation(s) sur 3 place(s)"),
            "{agenda}"
        );

        // The day before, one reminder (with the invitation again), and only one.
        tick(&app, &paris, unix_now()).await?;
        let day_before = unix_now() + 3 * 86_400 - 4 * 3600;
        tick(&app, &paris, day_before).await?;
        let reminder = app
            .smtp
            .wait_for("camille@example.org", "Rappel : permanence")
            .await?;
        assert!(
            reminder.text.contains("Extension de ma véranda"),
            "{}",
            reminder.text
        );
        tick(&app, &paris, day_before + 60).await?;
        // A second reminder would be a job the tick queued: once the queue has run everything,
        // it would be in the mailbox.
        app.settle_jobs().await?;
        let reminders = app
            .smtp
            .messages()?
            .into_iter()
            .filter(|m| m.subject.contains("Rappel"))
            .count();
        assert_eq!(reminders, 1);

        // The commune cancels the slot: the citizen is told why, and it leaves the list.
        let token = form_token(&official, &app.url(Some(&paris), "/admin/m/office-hours/")).await?;
        let r = post(
            &official,
            &app.url(
                Some(&paris),
                &format!("/admin/m/office-hours/{slot}/cancel"),
            ),
            &[
                ("csrf_token", &token),
                ("motif", "Conseil municipal exceptionnel"),
            ],
        )
        .await?;
        assert_eq!(r.status(), 303);
        let mail = app
            .smtp
            .wait_for("camille@example.org", "Permanence annulée")
            .await?;
        assert!(
            mail.text.contains("Conseil municipal exceptionnel"),
            "{}",
            mail.text
        );
        assert!(mail.text.contains("annulation.ics"), "{}", mail.text);
        let (_, list) = get(&anonymous, &public).await?;
        assert!(!list.contains("Permanence urbanisme"), "{list}");
        let (_, mine) = get(
            &camille,
            &app.url(Some(&paris), "/m/office-hours/mes-reservations"),
        )
        .await?;
        assert!(mine.contains("Annulé par la commune"), "{mine}");
        app.stop().await;
        Ok(())
    }
);

both_backends!(
    a_slot_never_takes_more_bookings_than_seats,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let (paris, official) = paris_with_module(&app).await?;
        let start = local_input(unix_now() + 5 * 86_400);
        let slot = publish(&app, &official, &paris, &start, "2", "Permanence du maire").await?;
        let slot_url = app.url(Some(&paris), &format!("/m/office-hours/{slot}"));

        // Ten citizens, each on their own session, ready to post at the same moment.
        let mut ready = Vec::new();
        for i in 0..10 {
            let client = citizen(&app, &paris, &format!("habitant{i}@example.org")).await?;
            let token = form_token(&client, &slot_url).await?;
            ready.push((i, client, token));
        }
        let mut rush = tokio::task::JoinSet::new();
        for (i, client, token) in ready.iter().cloned() {
            let url = format!("{slot_url}/book");
            rush.spawn(async move {
                let r = client
                    .post(url)
                    .form(&[
                        ("csrf_token", token.as_str()),
                        ("objet", &format!("Question {i}")),
                    ])
                    .send()
                    .await?;
                let status = r.status().as_u16();
                anyhow::Ok((i, status, r.text().await?))
            });
        }
        let mut won = Vec::new();
        for outcome in rush.join_all().await {
            let (i, status, body) = outcome?;
            match status {
                303 => won.push(i),
                409 => assert!(body.contains("Ce créneau est complet."), "{body}"),
                other => panic!("citizen {i} got {other}: {body}"),
            }
        }
        assert_eq!(won.len(), 2, "winners: {won:?}");
        let (_, agenda) = get(&official, &app.url(Some(&paris), "/admin/m/office-hours/")).await?;
        assert!(
            agenda.contains("2 réservation(s) sur 2 place(s)"),
            "{agenda}"
        );
        let (_, detail) = get(&ready[0].1, &slot_url).await?;
        assert!(detail.contains("Complet"), "{detail}");

        // A winner cancels: the seat is free again for one more citizen, not two.
        let winner = &ready[won[0]].1;
        let booking = my_bookings(&app, winner, &paris)
            .await?
            .pop()
            .context("winner has no booking")?;
        let mine = app.url(Some(&paris), "/m/office-hours/mes-reservations");
        let token = form_token(winner, &mine).await?;
        let r = post(
            winner,
            &app.url(
                Some(&paris),
                &format!("/m/office-hours/mes-reservations/{booking}/annuler"),
            ),
            &[("csrf_token", &token)],
        )
        .await?;
        assert_eq!(r.status(), 303);
        assert!(my_bookings(&app, winner, &paris).await?.is_empty());
        app.smtp
            .wait_for(
                &format!("habitant{}@example.org", won[0]),
                "Réservation annulée",
            )
            .await?;
        let (_, list) = get(winner, &app.url(Some(&paris), "/m/office-hours/")).await?;
        assert!(list.contains("1 place sur 2"), "{list}");
        let losers: Vec<usize> = (0..10).filter(|i| !won.contains(i)).collect();
        let r = book(&app, &ready[losers[0]].1, &paris, &slot, "Enfin une place").await?;
        assert_eq!(r.status(), 303);
        let token = form_token(&ready[losers[1]].1, &mine).await?;
        let r = post(
            &ready[losers[1]].1,
            &format!("{slot_url}/book"),
            &[("csrf_token", &token), ("objet", "Et moi ?")],
        )
        .await?;
        assert_eq!(r.status(), 409);

        // Moving a booking is all or nothing: onto a free slot it works, onto a full one the
        // old booking stays.
        let later = local_input(unix_now() + 6 * 86_400);
        let other = publish(&app, &official, &paris, &later, "1", "Permanence jeunesse").await?;
        let mover = &ready[won[1]].1;
        let booking = my_bookings(&app, mover, &paris)
            .await?
            .pop()
            .context("mover has no booking")?;
        let move_url = app.url(
            Some(&paris),
            &format!("/m/office-hours/mes-reservations/{booking}/deplacer"),
        );
        let (status, page) = get(mover, &move_url).await?;
        assert_eq!(status, 200);
        assert!(page.contains("Permanence jeunesse"), "{page}");
        let token = form_token(mover, &move_url).await?;
        let r = post(
            mover,
            &move_url,
            &[("csrf_token", &token), ("creneau", &other)],
        )
        .await?;
        assert_eq!(r.status(), 303);
        app.smtp
            .wait_for(
                &format!("habitant{}@example.org", won[1]),
                "Rendez-vous déplacé",
            )
            .await?;
        let (_, list) = get(mover, &app.url(Some(&paris), "/m/office-hours/")).await?;
        assert!(
            list.contains("1 place sur 2"),
            "the old seat is free: {list}"
        );

        let stuck = &ready[losers[0]].1;
        let booking = my_bookings(&app, stuck, &paris)
            .await?
            .pop()
            .context("no booking")?;
        let move_url = app.url(
            Some(&paris),
            &format!("/m/office-hours/mes-reservations/{booking}/deplacer"),
        );
        let token = form_token(stuck, &mine).await?;
        let r = post(
            stuck,
            &move_url,
            &[("csrf_token", &token), ("creneau", &other)],
        )
        .await?;
        assert_eq!(r.status(), 409);
        assert!(r.text().await?.contains("Ce créneau est complet."));
        assert_eq!(my_bookings(&app, stuck, &paris).await?, vec![booking]);
        let (_, list) = get(stuck, &app.url(Some(&paris), "/m/office-hours/")).await?;
        assert!(
            list.contains("1 place sur 2"),
            "the old seat is still held: {list}"
        );
        app.stop().await;
        Ok(())
    }
);
