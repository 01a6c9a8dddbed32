//! Consultations (module `consultations`, free) through the real host and its compiled
//! component, on both backends: the commune asks a question (bad dates refused); an official's
//! consultation stays hidden until an admin consents; residents propose (an empty or too long
//! proposal refused in French), the proposals wait for moderation (a refusal needs its reason,
//! told to the author); six residents go through the voting sequence, which shows each of them
//! every published proposal once, never the same twice, and gives every proposal its first
//! vote before the sequence ends; a vote is changed; the results rank the most consensual and
//! the most divisive and download as CSV without personal data; Lyon sees nothing; once closed,
//! votes and proposals are refused (409) and the results go to the commune's feed, once.

use anyhow::{Context as _, Result};
use parvis_core::authz::Role;
use parvis_tests::forms::{location, post};
use parvis_tests::wait_for_page as wait_until;
use parvis_tests::{TestApp, both_backends, html};
use serde_json::Value;

const PACKAGE: &str = "parvis-module-consultations";
const ID: &str = "consultations";
const PASSWORD: &str = "mot-de-passe-solide";

async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, String)> {
    let r = client.get(url).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

/// Moves consultation `number` of `slug` to have closed a second ago, in the database.
async fn close(app: &TestApp, slug: &str, number: u64) -> Result<()> {
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis(),
    )?;
    app.edit_module_doc(slug, ID, "consultations", &format!("{number:08}"), |c| {
        c["closes_at"] = Value::from(now - 1000);
        Ok(())
    })
    .await
}

/// The proposal the voting page shows (its hidden `proposition` field), if any.
fn shown(page: &str) -> Option<String> {
    let at = page.find("name=\"proposition\" value=\"")? + 26;
    Some(
        page[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect(),
    )
}

both_backends!(
    a_commune_consults_and_participants_vote_in_a_fair_order,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let lyon = app.commune("69123").await?;
        assert_eq!(app.install_module(PACKAGE).await?, ID);
        app.enable_module(&paris, ID).await?;
        app.enable_module(&lyon, ID).await?;
        let maire = app.account("maire@paris.fr", PASSWORD).await?;
        app.grant(&maire, Role::TenantAdmin, Some(&paris)).await?;
        let admin = app
            .signed_in(Some(&paris), "maire@paris.fr", PASSWORD)
            .await?;
        let chloe = app
            .account_named("chloe@paris.fr", "Chloé Martin", PASSWORD)
            .await?;
        app.grant(&chloe, Role::Official, Some(&paris)).await?;
        let official = app
            .signed_in(Some(&paris), "chloe@paris.fr", PASSWORD)
            .await?;
        let mut voters = Vec::new();
        for name in ["alice", "bruno", "chantal", "driss", "emma", "farid"] {
            let email = format!("{name}@example.org");
            app.account(&email, PASSWORD).await?;
            voters.push(app.signed_in(Some(&paris), &email, PASSWORD).await?);
        }
        let alice = voters[0].clone();
        let visitor = app.client()?;
        let admin_base = app.url(Some(&paris), "/admin/m/consultations");
        let base = app.url(Some(&paris), "/m/consultations");

        // The commune asks; bad dates are refused.
        let question = "Comment rendre le centre-ville plus agréable ?";
        let ask = |opens: &'static str, closes: &'static str| {
            vec![
                ("question", question),
                (
                    "contexte",
                    "La place de l'Hôtel-de-Ville sera réaménagée en 2027.",
                ),
                ("ouverture", opens),
                ("cloture", closes),
            ]
        };
        let new = format!("{admin_base}/nouvelle");
        let r = post(&admin, &new, &ask("2026-01-01T09:00", "2025-12-01T09:00")).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("La clôture doit venir après l'ouverture."));
        let r = post(&admin, &new, &ask("2026-01-01T09:00", "demain")).await?;
        assert_eq!(r.status(), 422);
        let r = post(&admin, &new, &ask("2026-01-01T09:00", "2031-01-01T18:00")).await?;
        assert_eq!(location(&r), "/admin/m/consultations/1");
        let page = format!("{base}/1");
        let (status, text) = get(&visitor, &page).await?;
        assert_eq!(status, 200);
        assert!(html::text(&text).contains("Ouverte"), "{text}");

        // An official's consultation waits for an admin's consent.
        let r = post(
            &official,
            &new,
            &ask("2026-01-01T09:00", "2031-01-01T18:00"),
        )
        .await?;
        assert_eq!(location(&r), "/admin/m/consultations/2");
        let (status, _) = get(&alice, &format!("{base}/2")).await?;
        assert_eq!(status, 404, "hidden until approved");
        let r = post(&official, &format!("{admin_base}/2/valider"), &[]).await?;
        assert_eq!(r.status(), 403, "an official does not approve their own");
        let r = post(&admin, &format!("{admin_base}/2/valider"), &[]).await?;
        assert_eq!(r.status(), 303);
        let (status, _) = get(&alice, &format!("{base}/2")).await?;
        assert_eq!(status, 200);

        // Proposals: checked, then waiting for moderation, seen by their author only.
        let propose = format!("{page}/propositions");
        let r = post(&alice, &propose, &[("proposition", "  ")]).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("10 caractères au moins"));
        let long = format!("Il faut {}", "vraiment ".repeat(20));
        let r = post(&alice, &propose, &[("proposition", long.as_str())]).await?;
        assert_eq!(r.status(), 422);
        let texts = [
            "Il faut planter des arbres sur la place",
            "Il faut interdire les voitures le dimanche",
            "Il faut plus de bancs pour se reposer",
        ];
        for text in texts {
            let r = post(&alice, &propose, &[("proposition", text)]).await?;
            assert_eq!(r.status(), 303, "{text}");
        }
        let spam = "Achetez mes montres sur mon site";
        let r = post(&voters[1], &propose, &[("proposition", spam)]).await?;
        assert_eq!(r.status(), 303);
        let (_, text) = get(&visitor, &page).await?;
        assert!(
            !text.contains("planter des arbres"),
            "not before moderation"
        );
        let (_, text) = get(&alice, &page).await?;
        assert!(
            html::text(&text).contains("En attente de modération"),
            "{text}"
        );

        // Moderation: publish the three, refuse the fourth with its reason, told to its author.
        let moderate = format!("{admin_base}/1/moderer");
        let (_, queue) = get(&admin, &format!("{admin_base}/1")).await?;
        assert!(queue.contains(spam), "{queue}");
        let r = post(
            &admin,
            &moderate,
            &[
                ("proposition", "4"),
                ("decision", "refuser"),
                ("raison", ""),
            ],
        )
        .await?;
        assert_eq!(r.status(), 422, "a refusal needs its reason");
        let reason = "Publicité sans rapport avec la question.";
        let r = post(
            &admin,
            &moderate,
            &[
                ("proposition", "4"),
                ("decision", "refuser"),
                ("raison", reason),
            ],
        )
        .await?;
        assert_eq!(r.status(), 303);
        for p in ["1", "2", "3"] {
            let r = post(
                &admin,
                &moderate,
                &[("proposition", p), ("decision", "publier")],
            )
            .await?;
            assert_eq!(r.status(), 303);
        }
        let r = post(
            &admin,
            &moderate,
            &[("proposition", "1"), ("decision", "publier")],
        )
        .await?;
        assert_eq!(r.status(), 409, "moderated once");
        wait_until(
            &voters[1],
            &app.url(Some(&paris), "/notifications"),
            "the author of the refused proposal was not told",
            |p| p.contains("Proposition non publiée"),
        )
        .await?;
        let (_, text) = get(&voters[1], &page).await?;
        assert!(
            html::text(&text).contains(reason),
            "the author reads why: {text}"
        );
        let (_, text) = get(&visitor, &page).await?;
        assert!(text.contains(texts[0]) && !text.contains(spam), "{text}");

        // The voting sequence: each voter is shown every published proposal once, then none.
        let vote_for = |text: &str, voter: usize| match text {
            t if t.contains("arbres") => "d-accord",
            t if t.contains("voitures") => {
                if voter.is_multiple_of(2) {
                    "d-accord"
                } else {
                    "pas-d-accord"
                }
            }
            _ => "neutre",
        };
        let ballot = format!("{page}/voter");
        let mut first_round = Vec::new();
        for round in 0..4 {
            for (i, voter) in voters.iter().enumerate() {
                let (status, step) = get(voter, &ballot).await?;
                assert_eq!(status, 200);
                let Some(p) = shown(&step) else {
                    assert_eq!(round, 3, "voter {i} ran out early: {step}");
                    assert!(
                        html::text(&step).contains("Plus aucune proposition"),
                        "{step}"
                    );
                    continue;
                };
                assert!(round < 3, "voter {i} shown {p} after judging all three");
                if round == 0 {
                    first_round.push(p.clone());
                }
                let text = texts[p.parse::<usize>()? - 1];
                let mut fields = vec![("proposition", p.as_str()), ("vote", vote_for(text, i))];
                if text.contains("arbres") {
                    fields.push(("qualification", "coup-de-coeur"));
                }
                let r = post(voter, &ballot, &fields).await?;
                assert_eq!(r.status(), 303, "voter {i}, proposal {p}");
                let (_, mine) = get(voter, &format!("{page}/mes-votes")).await?;
                assert_eq!(
                    html::table_rows(&mine, "main table")?.len(),
                    round + 1,
                    "voter {i} never judges one proposal twice"
                );
            }
        }
        for p in ["1", "2", "3"] {
            assert!(
                first_round.iter().any(|q| q == p),
                "every proposal had a first vote in the first round: {first_round:?}"
            );
        }
        let r = post(
            &alice,
            &ballot,
            &[("proposition", "1"), ("vote", "peut-etre")],
        )
        .await?;
        assert_eq!(r.status(), 422);
        // A vote is changed, and the same vote again changes nothing.
        let change = [("proposition", "3"), ("vote", "d-accord")];
        let r = post(&alice, &ballot, &change).await?;
        assert_eq!(r.status(), 303);
        let (_, step) = get(&alice, &format!("{ballot}?proposition=3")).await?;
        assert!(
            step.contains("value=\"d-accord\" required checked"),
            "{step}"
        );

        // Results: the most consensual and the most divisive; the CSV names no one.
        let (_, results) = get(&visitor, &format!("{page}/resultats")).await?;
        let text = html::text(&results);
        assert!(
            text.contains("Participants6") || text.contains("Participants 6"),
            "{text}"
        );
        let consensual = html::table_rows(&results, "main table")?;
        assert_eq!(consensual[0][0], texts[0], "{consensual:?}");
        assert_eq!(consensual[0][1], "100\u{202f}%");
        let divisive_at = results.find("Les plus clivantes").context("divisive")?;
        let divisive = html::table_rows(&results[divisive_at..], "table")?;
        assert_eq!(divisive[0][0], texts[1], "{divisive:?}");
        let r = visitor.get(format!("{page}/resultats.csv")).send().await?;
        assert!(
            r.headers()["content-type"]
                .to_str()?
                .starts_with("text/csv")
        );
        let csv = r.text().await?;
        assert_eq!(csv.lines().count(), 4, "{csv}");
        assert!(
            csv.lines()
                .next()
                .is_some_and(|h| h.starts_with("proposition,texte,votes"))
        );
        assert!(
            csv.contains("Il faut planter des arbres sur la place,6,6,0,0,6"),
            "{csv}"
        );
        assert!(!csv.contains("alice") && !csv.contains(spam), "{csv}");

        // Eight twins of one change sent at once (a double click, a second tab): each finds
        // it made or makes it (303), and the tally still counts alice once. On PostgreSQL
        // twins read the ballot side by side, and all but one conflict on its write.
        let trees = |csv: &str| -> Vec<String> {
            csv.lines()
                .find(|l| l.contains("planter des arbres"))
                .map(|l| l.split(',').map(str::to_string).collect())
                .unwrap_or_default()
        };
        let number = trees(&csv).first().cloned().context("the trees' row")?;
        let token = parvis_tests::form_token(&alice, &ballot).await?;
        let twins = (0..8).map(|_| {
            alice
                .post(&ballot)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("proposition", number.as_str()),
                    ("vote", "neutre"),
                ])
                .send()
        });
        for r in futures_util::future::join_all(twins).await {
            assert_eq!(r?.status(), 303);
        }
        let (_, csv) = get(&visitor, &format!("{page}/resultats.csv")).await?;
        assert_eq!(trees(&csv)[2..6], ["6", "5", "0", "1"], "{csv}");
        let back = [("proposition", number.as_str()), ("vote", "d-accord")];
        assert_eq!(post(&alice, &ballot, &back).await?.status(), 303);
        let (_, csv) = get(&visitor, &format!("{page}/resultats.csv")).await?;
        assert_eq!(trees(&csv)[2..6], ["6", "6", "0", "0"], "{csv}");

        // Results by neighbourhood: ten residents of the 4th say so, then vote; the share of
        // a neighbourhood shows from ten of its votes on a proposal.
        let declare = format!("{page}/quartier");
        let r = post(&alice, &declare, &[("quartier", "atlantide")]).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("Choisissez votre quartier dans la liste"));
        for i in 0..10 {
            let id = app
                .account(&format!("quatrieme{i}@example.org"), PASSWORD)
                .await?;
            let resident = app.session_client(&paris, &id).await?;
            let r = post(&resident, &declare, &[("quartier", "4e-arrondissement")]).await?;
            assert_eq!(r.status(), 303);
            let (_, step) = get(&resident, &format!("{ballot}?proposition=1")).await?;
            let area = "name=\"quartier\" value=\"4e-arrondissement\"";
            assert!(
                step.contains(area),
                "the vote carries the neighbourhood: {step}"
            );
            let vote = if i < 7 { "d-accord" } else { "pas-d-accord" };
            let fields = [
                ("proposition", "1"),
                ("vote", vote),
                ("quartier", "4e-arrondissement"),
            ];
            assert_eq!(post(&resident, &ballot, &fields).await?.status(), 303);
            if i < 9 {
                let fields = [
                    ("proposition", "2"),
                    ("vote", "d-accord"),
                    ("quartier", "4e-arrondissement"),
                ];
                assert_eq!(post(&resident, &ballot, &fields).await?.status(), 303);
            }
        }
        // The results are kept 30 s while the consultation is open (in the server's memory):
        // the votes since the last reading do not show yet…
        let (_, kept) = get(&visitor, &format!("{page}/resultats")).await?;
        let participants = |page: &str, n: u32| {
            let text = html::text(page);
            text.contains(&format!("Participants{n}"))
                || text.contains(&format!("Participants {n}"))
        };
        assert!(participants(&kept, 6), "{kept}");
        // …until they are worked out again, as if the 30 s had passed.
        app.forget_module_cache(&paris, ID, "resultats:1").await?;
        let (_, results) = get(
            &visitor,
            &format!("{page}/resultats?quartier=4e-arrondissement"),
        )
        .await?;
        assert!(participants(&results, 16), "{results}");
        let at = results
            .find("id=\"par-quartier\"")
            .context("by neighbourhood")?;
        let rows = html::table_rows(&results[at..], "table")?;
        let planted = rows
            .iter()
            .find(|r| r[0] == texts[0])
            .context("proposal 1")?;
        assert_eq!(
            planted[1..],
            ["70\u{202f}%", "81\u{202f}%", "10"],
            "{rows:?}"
        );
        let second = rows
            .iter()
            .find(|r| r[0] == texts[1])
            .context("proposal 2")?;
        assert_eq!(second[1], "moins de 10 votes", "{rows:?}");
        assert_eq!(second[3], "9");

        // Lyon sees none of it.
        let (status, _) = get(&visitor, &app.url(Some(&lyon), "/m/consultations/1")).await?;
        assert_eq!(status, 404);

        // Closed: no more votes or proposals; the results go to the feed, once.
        close(&app, &paris, 1).await?;
        let r = post(&alice, &ballot, &change).await?;
        assert_eq!(r.status(), 409);
        assert!(html::text(&r.text().await?).contains("close depuis le"));
        let r = post(&alice, &propose, &[("proposition", texts[0])]).await?;
        assert_eq!(r.status(), 409);
        let publish = format!("{admin_base}/1/publier-resultats");
        let r = post(&admin, &publish, &[]).await?;
        assert_eq!(r.status(), 303);
        let home = app.anonymous_page(app.url(Some(&paris), "/")).await?;
        assert!(home.contains("Résultats de la consultation"), "{home}");
        let r = post(&admin, &publish, &[]).await?;
        assert_eq!(r.status(), 409);
        app.stop().await;
        Ok(())
    }
);
