//! Boîte à idées (module `ideas`, free) through the real host and its compiled component, on
//! both backends: Alice proposes an idea placed by the Hôtel de Ville with a photo from her
//! phone (served without its EXIF and GPS position); an empty form, a title too long, a place
//! outside Paris, an unknown neighbourhood and a file that is not an image are refused with
//! French messages and nothing is stored. Bruno supports it once (a second time changes
//! nothing, Alice cannot support her own) and comments; an empty comment is refused; Alice
//! cannot delete Bruno's comment, the town hall can. The lists filter by status, theme and
//! neighbourhood (the idea lies in the 4th arrondissement), and say how they are ordered.
//! The staff answer (« non retenue » needs its reason, a commitment link must stay on the
//! site); Alice and Bruno are told in the app and by e-mail; after a final answer nobody can
//! support or comment. Lyon sees none of Paris's ideas.

use anyhow::Result;
use parvis_core::authz::Role;
use parvis_tests::forms::{location, phone_photo, post, post_files};
use parvis_tests::wait_for_page as wait_until;
use parvis_tests::{TestApp, both_backends, html};
use serde_json::Value;

const PACKAGE: &str = "parvis-module-ideas";
const ID: &str = "ideas";
const PASSWORD: &str = "mot-de-passe-solide";
const NBSP: char = '\u{a0}';

async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, String)> {
    let r = client.get(url).send().await?;
    Ok((r.status().as_u16(), r.text().await?))
}

fn idea<'a>(title: &'a str, text: &'a str, theme: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("titre", title), ("texte", text), ("theme", theme)]
}

both_backends!(
    citizens_propose_support_and_discuss_ideas_and_the_town_hall_answers,
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
        app.account("alice@example.org", PASSWORD).await?;
        let alice = app
            .signed_in(Some(&paris), "alice@example.org", PASSWORD)
            .await?;
        app.account("bruno@example.org", PASSWORD).await?;
        let bruno = app
            .signed_in(Some(&paris), "bruno@example.org", PASSWORD)
            .await?;
        let visitor = app.client()?;
        let list = app.url(Some(&paris), "/m/ideas/");
        let new = app.url(Some(&paris), "/m/ideas/nouvelle");

        // The box says how its list is ordered; a visitor signs in before proposing.
        let (status, page) = get(&visitor, &list).await?;
        assert_eq!(status, 200);
        let text = html::text(&page);
        assert!(text.contains("Proposer une idée"), "{text}");
        assert!(text.contains("sans classement par popularité"), "{text}");
        let (status, _) = get(&visitor, &new).await?;
        assert_ne!(status, 200, "a visitor signs in first");
        let (status, form) = get(&alice, &new).await?;
        assert_eq!(status, 200);
        assert!(
            form.contains("<option value=\"mobilites\">Mobilités</option>"),
            "{form}"
        );
        assert!(form.contains("data-pick=\"lieu\""), "{form}");
        // Paris starts with its arrondissements: they are offered without a place.
        assert!(
            form.contains("<option value=\"4e-arrondissement\">4e arrondissement</option>"),
            "{form}"
        );

        // Bad input: French messages, 422, nothing stored.
        let r = post(&alice, &new, &idea("", "", "")).await?;
        assert_eq!(r.status(), 422);
        let text = html::text(&r.text().await?);
        for says in [
            "Donnez un titre à votre idée",
            "Décrivez votre idée en quelques phrases",
            "Choisissez un thème dans la liste.",
        ] {
            assert!(text.contains(says), "{says}: {text}");
        }
        let long = "t".repeat(121);
        let text_ok = "Des arceaux à vélos devant la mairie, une dizaine, sur le trottoir.";
        let r = post(&alice, &new, &idea(&long, text_ok, "mobilites")).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("Le titre est trop long"));
        let mut outside = idea("Des arceaux à vélos", text_ok, "mobilites");
        outside.extend([("lat", "45.7676"), ("lon", "4.8357")]);
        let r = post(&alice, &new, &outside).await?;
        assert_eq!(r.status(), 422);
        let text = html::text(&r.text().await?);
        assert!(
            text.contains("Ce lieu est en dehors du territoire de Paris."),
            "{text}"
        );
        let mut nowhere = idea("Des arceaux à vélos", text_ok, "mobilites");
        nowhere.push(("quartier", "atlantide"));
        let r = post(&alice, &new, &nowhere).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("Choisissez un quartier dans la liste."));
        let mut fields = idea("Des arceaux à vélos", text_ok, "mobilites");
        fields.extend([
            ("lat", "48.856600"),
            ("lon", "2.352200"),
            ("nom_public", "1"),
            ("photo_alt", "Les vélos accrochés aux barrières"),
        ]);
        let pdf = ("photo", b"%PDF-1.4 pas une image".to_vec(), "velos.jpg");
        let r = post_files(&alice, &new, &fields, &[pdf]).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("pas une image lisible"));
        let (_, page) = get(&visitor, &list).await?;
        assert!(
            page.contains("Aucune idée ne correspond"),
            "nothing stored: {page}"
        );

        // Alice's idea, placed by the Hôtel de Ville, with a photo from her phone.
        let photo = ("photo", phone_photo()?, "IMG_3001.jpg");
        let r = post_files(&alice, &new, &fields, &[photo]).await?;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), "/m/ideas/1");
        let first = app.url(Some(&paris), "/m/ideas/1");
        let (status, page) = get(&alice, &first).await?;
        assert_eq!(status, 200);
        let text = html::text(&page);
        assert!(
            text.contains(&format!("Votre idée n°{NBSP}1 est publiée")),
            "{text}"
        );
        assert!(text.contains("4e arrondissement"), "{text}");
        assert!(page.contains("data-spot="), "{page}");
        let src = html::attrs(
            &page,
            "img[alt=\"Les vélos accrochés aux barrières\"]",
            "src",
        )?;
        assert_eq!(src.len(), 1, "{page}");
        let r = visitor.get(app.url(Some(&paris), &src[0])).send().await?;
        assert_eq!(r.status(), 200);
        let bytes = r.bytes().await?;
        let hay = String::from_utf8_lossy(&bytes);
        assert!(
            !hay.contains("Exif") && !hay.contains("PARVIS-SECRET"),
            "metadata kept"
        );
        // A second idea, for the whole commune, in another theme.
        let r = post(
            &bruno,
            &new,
            &idea(
                "Une boîte à livres par quartier",
                "Des boîtes à livres en libre-service près des écoles, entretenues par des bénévoles.",
                "culture-et-patrimoine",
            ),
        )
        .await?;
        assert_eq!(location(&r), "/m/ideas/2");
        // The staff hear of each.
        wait_until(
            &admin,
            &app.url(Some(&paris), "/notifications"),
            "no notification to the staff",
            |page| html::text(page).contains(&format!("Nouvelle idée n°{NBSP}1")),
        )
        .await?;

        // The lists filter by theme, neighbourhood and status.
        let (_, page) = get(&visitor, &format!("{list}?theme=mobilites")).await?;
        assert!(page.contains("Des arceaux à vélos") && !page.contains("boîte à livres"));
        let (_, page) = get(&visitor, &format!("{list}?quartier=4e-arrondissement")).await?;
        assert!(page.contains("Des arceaux à vélos") && !page.contains("boîte à livres"));
        let (_, page) = get(&visitor, &format!("{list}?statut=proposee")).await?;
        assert!(page.contains("Des arceaux à vélos") && page.contains("boîte à livres"));
        // The map counts the placed idea only.
        let r = visitor
            .get(app.url(
                Some(&paris),
                "/m/ideas/carte.json?s=48.80&w=2.22&n=48.91&e=2.47&cols=8&rows=8",
            ))
            .send()
            .await?;
        let markers: Vec<Value> = r.json().await?;
        let placed: u64 = markers.iter().filter_map(|m| m["count"].as_u64()).sum();
        assert_eq!(placed, 1, "{markers:?}");

        // Bruno supports Alice's idea, once; Alice's own support changes nothing.
        let support = app.url(Some(&paris), "/m/ideas/1/soutenir");
        let r = post(&bruno, &support, &[]).await?;
        assert_eq!(r.status(), 303);
        let r = post(&bruno, &support, &[]).await?;
        assert_eq!(r.status(), 303);
        post(&alice, &support, &[]).await?;
        let (_, page) = get(&visitor, &first).await?;
        assert!(
            html::text(&page).contains("1 habitant soutient cette idée"),
            "{}",
            html::text(&page)
        );
        // Bruno comments; an empty comment is refused.
        let comments = app.url(Some(&paris), "/m/ideas/1/commentaires");
        let r = post(&bruno, &comments, &[("commentaire", "   ")]).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("Le commentaire est vide."));
        let r = post(
            &bruno,
            &comments,
            &[("commentaire", "Oui, et couverts si possible !")],
        )
        .await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&bruno, &first).await?;
        assert!(page.contains("Oui, et couverts si possible"), "{page}");
        let keys = html::attrs(&page, "input[name=\"cle\"]", "value")?;
        assert_eq!(keys.len(), 1, "Bruno may delete his own comment: {page}");
        // Alice may not delete it.
        let delete = app.url(Some(&paris), "/m/ideas/1/commentaires/supprimer");
        let token = parvis_tests::form_token(&alice, &first).await?;
        let r = alice
            .post(&delete)
            .form(&[("csrf_token", token.as_str()), ("cle", keys[0].as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 403);

        // The staff answer. « Non retenue » needs a reason; a link must stay on the site.
        let manage = app.url(Some(&paris), "/admin/m/ideas/1");
        let (status, page) = get(&admin, &manage).await?;
        assert_eq!(status, 200);
        assert!(page.contains("alice@example.org") || page.contains("Alice"));
        let answer = app.url(Some(&paris), "/admin/m/ideas/1/reponse");
        let token = parvis_tests::form_token(&admin, &manage).await?;
        let send = |fields: Vec<(&'static str, &'static str)>| {
            let mut body = vec![("csrf_token", token.clone())];
            body.extend(fields.into_iter().map(|(k, v)| (k, v.to_string())));
            admin.post(&answer).form(&body).send()
        };
        let r = send(vec![("statut", "non-retenue"), ("reponse", "")]).await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("Donnez la raison"));
        let r = send(vec![
            ("statut", "retenue"),
            ("engagement_titre", "Plan vélo"),
            ("engagement_lien", "https://ailleurs.example/plan"),
        ])
        .await?;
        assert_eq!(r.status(), 422);
        assert!(html::text(&r.text().await?).contains("adresse de ce site"));
        let r = send(vec![
            ("statut", "retenue"),
            ("reponse", "Douze arceaux seront posés au printemps."),
            ("engagement_titre", "Plan vélo 2027"),
            ("engagement_lien", "/m/commitments/3"),
        ])
        .await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&visitor, &first).await?;
        let text = html::text(&page);
        assert!(text.contains("Retenue par la mairie"), "{text}");
        assert!(
            text.contains("Douze arceaux seront posés au printemps."),
            "{text}"
        );
        assert!(page.contains("href=\"/m/commitments/3\""), "{page}");
        // Alice and Bruno are told, in the app and by e-mail.
        for who in [&alice, &bruno] {
            wait_until(
                who,
                &app.url(Some(&paris), "/notifications"),
                "no notification of the answer",
                |page| html::text(page).contains(&format!("Idée n°{NBSP}1{NBSP}: retenue")),
            )
            .await?;
        }
        app.smtp.wait_for("bruno@example.org", "Idée n°").await?;
        // The staff remove Bruno's comment.
        let token = parvis_tests::form_token(&admin, &manage).await?;
        let r = admin
            .post(app.url(Some(&paris), "/admin/m/ideas/1/commentaires/supprimer"))
            .form(&[("csrf_token", token.as_str()), ("cle", keys[0].as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 303);
        let (_, page) = get(&visitor, &first).await?;
        assert!(!page.contains("Oui, et couverts si possible"));
        // A final answer closes support and comments.
        let r = send(vec![("statut", "realisee"), ("reponse", "C'est fait.")]).await?;
        assert_eq!(r.status(), 303);
        app.account("chloe@example.org", PASSWORD).await?;
        let chloe = app
            .signed_in(Some(&paris), "chloe@example.org", PASSWORD)
            .await?;
        let token = parvis_tests::form_token(&chloe, &first).await?;
        let r = chloe
            .post(&support)
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(r.status(), 409);
        let r = chloe
            .post(&comments)
            .form(&[
                ("csrf_token", token.as_str()),
                ("commentaire", "Trop tard ?"),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 409);

        // Lyon sees none of Paris's ideas.
        let (_, page) = get(&visitor, &app.url(Some(&lyon), "/m/ideas/")).await?;
        assert!(!page.contains("Des arceaux à vélos"));
        let (status, _) = get(&visitor, &app.url(Some(&lyon), "/m/ideas/1")).await?;
        assert_eq!(status, 404);
        Ok(())
    }
);

both_backends!(
    supports_sent_at_the_same_moment_are_all_counted,
    |backend| async move {
        // Each support changes the idea's count in the same call: twelve at once must leave
        // twelve (on PostgreSQL a write at an expected version once overwrote another call's).
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        assert_eq!(app.install_module(PACKAGE).await?, ID);
        app.enable_module(&paris, ID).await?;
        app.account("alice@example.org", PASSWORD).await?;
        let alice = app
            .signed_in(Some(&paris), "alice@example.org", PASSWORD)
            .await?;
        let new = app.url(Some(&paris), "/m/ideas/nouvelle");
        let r = post(
            &alice,
            &new,
            &idea(
                "Des bancs le long du canal",
                "Des bancs tous les cent mètres le long du canal, à l'ombre des platanes.",
                "cadre-de-vie",
            ),
        )
        .await?;
        assert_eq!(location(&r), "/m/ideas/1");
        let page = app.url(Some(&paris), "/m/ideas/1");
        let support = app.url(Some(&paris), "/m/ideas/1/soutenir");
        let mut supporters = Vec::new();
        for i in 0..12 {
            let email = format!("voisin{i}@example.org");
            app.account(&email, PASSWORD).await?;
            let client = app.signed_in(Some(&paris), &email, PASSWORD).await?;
            let token = parvis_tests::form_token(&client, &page).await?;
            supporters.push((client, token));
        }
        let sent = supporters.iter().map(|(client, token)| {
            client
                .post(&support)
                .form(&[("csrf_token", token.as_str())])
                .send()
        });
        for r in futures_util::future::join_all(sent).await {
            assert_eq!(r?.status(), 303);
        }
        let (_, page) = get(&alice, &page).await?;
        assert!(
            html::text(&page).contains("12 habitants soutiennent cette idée."),
            "{}",
            html::text(&page)
        );
        Ok(())
    }
);

both_backends!(one_account_cannot_flood_the_box, |backend| async move {
    // Ten ideas waiting for an answer per account, thirty comments a day: a person with
    // more to say waits; nobody fills the box or a thread alone.
    let app = TestApp::start(backend).await?;
    let paris = app.commune("75056").await?;
    assert_eq!(app.install_module(PACKAGE).await?, ID);
    app.enable_module(&paris, ID).await?;
    let zoe = app.account("zoe@example.org", PASSWORD).await?;
    let zoe = app.session_client(&paris, &zoe).await?;
    let new = app.url(Some(&paris), "/m/ideas/nouvelle");
    let text = "Une idée de démonstration, décrite en quelques phrases suffisantes.";
    for i in 1..=10 {
        let title = format!("Idée numéro {i}");
        let r = post(&zoe, &new, &idea(&title, text, "mobilites")).await?;
        assert_eq!(r.status(), 303, "idea {i}");
    }
    let r = post(&zoe, &new, &idea("Idée numéro 11", text, "mobilites")).await?;
    assert_eq!(r.status(), 422);
    let said = html::text(&r.text().await?);
    assert!(
        said.contains("Vous avez déjà 10 idées qui attendent la réponse de la mairie"),
        "{said}"
    );
    let (_, list) = get(&zoe, &app.url(Some(&paris), "/m/ideas/11")).await?;
    assert!(!list.contains("Idée numéro 11"), "nothing stored");

    let comments = app.url(Some(&paris), "/m/ideas/1/commentaires");
    for i in 1..=30 {
        let text = format!("Commentaire {i}");
        let r = post(&zoe, &comments, &[("commentaire", text.as_str())]).await?;
        assert_eq!(r.status(), 303, "comment {i}");
    }
    let r = post(&zoe, &comments, &[("commentaire", "Un de trop")]).await?;
    assert_eq!(r.status(), 429);
    let said = html::text(&r.text().await?);
    assert!(said.contains("Revenez demain."), "{said}");
    let (_, page) = get(&zoe, &app.url(Some(&paris), "/m/ideas/1")).await?;
    assert!(!page.contains("Un de trop"), "{page}");
    Ok(())
});
