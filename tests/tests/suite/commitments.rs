//! Engagements (module `commitments`, free) through the real host and its compiled component,
//! on both backends: Odile, an official of Paris, publishes a commitment with its milestones
//! and documents in her own name (a citizen cannot; an empty form, another's name, a bad
//! milestone line and a `javascript:` document are refused with French messages, the line
//! named); it is announced in the commune's feed. Nobody evaluates it before it is under way.
//! Odile reports its progress (giving it up needs a reason); Alice evaluates it, changes her
//! note, a note of 6 is refused; below five evaluations no mean nor distribution is shown,
//! from five they are, and the verified residents are counted apart only from five of them
//! too. Odile answers Alice's comment; Alice withdraws her evaluation and the totals follow.
//! The bilan of the commune and Odile's own list it; Lyon sees nothing of Paris's.

use anyhow::Result;
use parvis_core::authz::Role;
use parvis_tests::forms::{location, post};
use parvis_tests::{TestApp, both_backends, html};

const PACKAGE: &str = "parvis-module-commitments";
const ID: &str = "commitments";
const PASSWORD: &str = "mot-de-passe-solide";

async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, String)> {
    let r = client.get(url).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

both_backends!(
    officials_publish_commitments_and_citizens_evaluate_them,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let lyon = app.commune("69123").await?;
        assert_eq!(app.install_module(PACKAGE).await?, ID);
        app.enable_module(&paris, ID).await?;
        app.enable_module(&lyon, ID).await?;
        let odile_id = app
            .account_named("odile@paris.fr", "Odile Exemple", PASSWORD)
            .await?;
        app.grant(&odile_id, Role::Official, Some(&paris)).await?;
        let odile = app
            .signed_in(Some(&paris), "odile@paris.fr", PASSWORD)
            .await?;
        app.account("alice@example.org", PASSWORD).await?;
        let alice = app
            .signed_in(Some(&paris), "alice@example.org", PASSWORD)
            .await?;
        let visitor = app.client()?;
        let base = app.url(Some(&paris), "/m/commitments");
        let new = format!("{base}/nouveau");

        let (status, page) = get(&visitor, &format!("{base}/")).await?;
        assert_eq!(status, 200);
        assert!(
            html::text(&page).contains("Aucun engagement ne correspond"),
            "{page}"
        );
        // A citizen does not publish.
        let (status, _) = get(&alice, &new).await?;
        assert_eq!(status, 403);

        // Bad input, named by field and line; nothing stored.
        let (status, form) = get(&odile, &new).await?;
        assert_eq!(status, 200);
        assert!(
            form.contains("<option value=\"mobilites\">Mobilités</option>"),
            "{form}"
        );
        let r = post(
            &odile,
            &new,
            &[
                ("titre", ""),
                ("description", ""),
                ("theme", ""),
                ("porteur", ""),
            ],
        )
        .await?;
        assert_eq!(r.status(), 422);
        let text = html::text(&r.text().await?);
        for says in [
            "Le titre doit compter",
            "Décrivez l'engagement",
            "Choisissez un thème",
            "Indiquez qui porte",
        ] {
            assert!(text.contains(says), "{says}: {text}");
        }
        let fields = |jalons: &'static str, documents: &'static str| {
            vec![
                ("titre", "Vingt kilomètres de pistes cyclables"),
                (
                    "description",
                    "Relier chaque quartier au centre par une piste séparée.",
                ),
                ("theme", "mobilites"),
                ("porteur", "Odile Exemple, adjointe aux mobilités"),
                ("jalons", jalons),
                ("documents", documents),
            ]
        };
        let r = post(
            &odile,
            &new,
            &fields("2027-03-01 ; Concertation\n2027-02-30 ; Jamais", ""),
        )
        .await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("Étape, ligne 2"));
        let mut theirs = fields("", "");
        theirs[3] = ("porteur", "Le maire");
        let r = post(&odile, &new, &theirs).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("Un élu publie en son nom"));
        let r = post(&odile, &new, &fields("", "Piège ; javascript:alert(1)")).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("Document, ligne 1"));

        // Odile publishes; the feed announces it.
        let r = post(
            &odile,
            &new,
            &fields(
                "2027-06-01 ; Travaux\n2027-03-01 ; Concertation",
                "Délibération ; https://www.paris.fr/deliberation.pdf",
            ),
        )
        .await?;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/m/commitments/1");
        let first = format!("{base}/1");
        let (_, page) = get(&visitor, &first).await?;
        let text = html::text(&page);
        assert!(
            text.contains("Porté par Odile Exemple, adjointe aux mobilités"),
            "{text}"
        );
        assert!(
            text.find("Concertation") < text.find("Travaux"),
            "milestones by date: {text}"
        );
        assert!(page.contains("href=\"https://www.paris.fr/deliberation.pdf\""));
        let home = app.anonymous_page(app.url(Some(&paris), "/")).await?;
        assert!(
            home.contains("Vingt kilomètres de pistes cyclables"),
            "{home}"
        );

        // Not under way yet: nobody evaluates it.
        let evaluate = format!("{first}/evaluation");
        let token = parvis_tests::form_token(&alice, &first).await?;
        let r = alice
            .post(&evaluate)
            .form(&[("csrf_token", token.as_str()), ("note", "4")])
            .send()
            .await?;
        assert_eq!(r.status(), 409);

        // Only its bearer (or an admin) reports progress; giving up needs a reason.
        let point = format!("{first}/point");
        let r = alice
            .post(&point)
            .form(&[
                ("csrf_token", token.as_str()),
                ("statut", "en-cours"),
                ("avancement", "40"),
                ("texte", "Faux."),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 403);
        let odile_token = parvis_tests::form_token(&odile, &first).await?;
        let progress = |fields: Vec<(&'static str, &'static str)>| {
            let mut body = vec![("csrf_token", odile_token.clone())];
            body.extend(fields.into_iter().map(|(k, v)| (k, v.to_string())));
            odile.post(&point).form(&body).send()
        };
        let r = progress(vec![
            ("statut", "abandonne"),
            ("avancement", "10"),
            ("texte", "On arrête."),
        ])
        .await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("Donnez la raison de l'abandon"));
        let r = progress(vec![
            ("statut", "en-cours"),
            ("avancement", "40"),
            ("fait", "0"),
            ("texte", "La concertation est close, le tracé est arrêté."),
        ])
        .await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&visitor, &first).await?;
        let text = html::text(&page);
        assert!(
            page.contains("<progress max=\"100\" value=\"40\">"),
            "{page}"
        );
        assert!(text.contains("La concertation est close"), "{text}");

        // Alice evaluates, then changes her note; 6 is not a note.
        let send = |client: &reqwest::Client, token: &str, fields: &[(&str, &str)]| {
            let mut body = vec![("csrf_token", token.to_string())];
            body.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
            client.post(&evaluate).form(&body).send()
        };
        let r = send(&alice, &token, &[("note", "6")]).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("Choisissez une note de 1 à 5."));
        let r = send(
            &alice,
            &token,
            &[
                ("note", "2"),
                ("commentaire", "Les travaux bloquent le quai."),
            ],
        )
        .await?;
        assert_eq!(r.status(), 303);
        let r = send(
            &alice,
            &token,
            &[
                ("note", "4"),
                ("commentaire", "Les travaux bloquent le quai."),
            ],
        )
        .await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&visitor, &first).await?;
        let text = html::text(&page);
        assert!(text.contains("moins de 5 évaluations"), "{text}");
        assert!(!page.contains("notes-tous"), "no distribution below five");
        assert!(text.contains("Les travaux bloquent le quai."), "{text}");

        // Four more, two of them verified residents: the mean and the distribution appear,
        // the residents are not counted apart yet.
        for (i, note) in ["5", "3", "4", "5"].iter().enumerate() {
            let email = format!("habitant{i}@example.org");
            let id = app.account(&email, PASSWORD).await?;
            if i < 2 {
                app.grant(&id, Role::Resident, Some(&paris)).await?;
            }
            let client = app.signed_in(Some(&paris), &email, PASSWORD).await?;
            let token = parvis_tests::form_token(&client, &first).await?;
            let r = send(&client, &token, &[("note", note)]).await?;
            assert_eq!(r.status(), 303);
        }
        let (_, page) = get(&visitor, &first).await?;
        let text = html::text(&page);
        assert!(text.contains("4,2 sur 5 (5 évaluations)"), "{text}");
        assert!(page.contains("notes-tous"), "{page}");
        assert!(
            !page.contains("notes-habitants"),
            "two residents are not shown apart"
        );

        // Odile answers Alice's comment.
        let (_, page) = get(&odile, &first).await?;
        let accounts = html::attrs(&page, "input[name=\"compte\"]", "value")?;
        assert_eq!(accounts.len(), 1, "{page}");
        let r = odile
            .post(format!("{first}/reponse"))
            .form(&[
                ("csrf_token", odile_token.as_str()),
                ("compte", accounts[0].as_str()),
                ("reponse", "Le quai rouvre lundi."),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&visitor, &first).await?;
        assert!(html::text(&page).contains("Le quai rouvre lundi."));

        // Alice withdraws: four left, no mean shown again.
        let r = alice
            .post(format!("{evaluate}/retirer"))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&visitor, &first).await?;
        assert!(html::text(&page).contains("moins de 5 évaluations"));

        // The bilans list it; an unknown bearer is a 404; Lyon sees nothing of it.
        let (_, page) = get(&visitor, &format!("{base}/")).await?;
        let code = "odile-exemple-adjointe-aux-mobilites";
        assert!(
            page.contains(&format!("/m/commitments/porteur/{code}")),
            "{page}"
        );
        let (status, page) = get(&visitor, &format!("{base}/porteur/{code}")).await?;
        assert_eq!(status, 200);
        assert!(page.contains("Vingt kilomètres de pistes cyclables"));
        let (status, _) = get(&visitor, &format!("{base}/porteur/inconnu")).await?;
        assert_eq!(status, 404);
        let (status, _) = get(&visitor, &app.url(Some(&lyon), "/m/commitments/1")).await?;
        assert_eq!(status, 404);
        Ok(())
    }
);
