//! The officials registry (RNE): real file formats and their variants, idempotent re-imports,
//! rejected rows with their line, and the council on the commune page.

use parvis_core::db::TenantSql as _;
use parvis_tenants::Progress;
use parvis_tenants::officials::{FileKind, import_file};
use parvis_tests::{TestApp, both_backends};

const HEADER: &str = "Code du département;Libellé du département;Code de la collectivité à statut particulier;Libellé de la collectivité à statut particulier;Code de la commune;Libellé de la commune;Nom de l’élu;Prénom de l’élu;Code sexe;Date de naissance;Code de la catégorie socio-professionnelle;Libellé de la catégorie socio-professionnelle;Date de début du mandat;Libellé de la fonction;Date de début de la fonction;Code nationalité";

fn councillors(rows: &[&str]) -> String {
    let mut text = String::from("\u{FEFF}");
    text.push_str(HEADER);
    for r in rows {
        text.push('\n');
        text.push_str(r);
    }
    text.push('\n');
    text
}

const MAYOR: &str = "1;Ain;;;1001;L'Abergement-Clémenciat;EVALET TAPONAT;Line;F;22/07/1967;74;Anciens cadres;15/03/2026;Maire;23/03/2026;FR";
const DEPUTY: &str = "01;Ain;;;01001;L'Abergement-Clémenciat;MARTIN;Paul;M;1970-01-02;23;Chefs d'entreprise;2026-03-15;1er adjoint au maire;2026-03-23;FR";
const DEPUTY_ALSO_DELEGATE: &str = "01;Ain;;;01001;L'Abergement-Clémenciat;MARTIN;Paul;M;02/01/1970;23;Chefs d'entreprise;15/03/2026;Maire délégué;23/03/2026;FR";
const COUNCILLOR: &str =
    "01;Ain;;;01001;L'Abergement-Clémenciat;DUPONT;Claire;F;05/05/1980;37;Cadres;15/03/2026;;;FR";
const BAD_DATE: &str =
    "01;Ain;;;01001;L'Abergement-Clémenciat;FAUX;Jean;M;31/02/1990;37;Cadres;15/03/2026;;;FR";
const NOT_SERVED: &str = "75;Paris;;;75056;Paris;GRÉGOIRE;Emmanuel;M;01/01/1977;33;Cadres;15/03/2026;Maire;23/03/2026;FR";
const BAD_CODE: &str = "01;Ain;;;ABCDE;Nulle part;X;Y;M;01/01/1977;33;Cadres;15/03/2026;;;FR";

both_backends!(
    rne_import_is_idempotent_and_reports_bad_rows,
    |backend| async move {
        let app = TestApp::start(backend).await?;
        app.commune("01001").await?;
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("elus-conseillers-municipaux-cm.csv");
        std::fs::write(
            &file,
            councillors(&[
                MAYOR,
                DEPUTY,
                DEPUTY_ALSO_DELEGATE,
                COUNCILLOR,
                BAD_DATE,
                NOT_SERVED,
                BAD_CODE,
            ]),
        )?;

        let report = import_file(&app.state.db, &file, Progress::Hidden).await?;
        assert_eq!(report.kind, Some(FileKind::Councillors));
        assert_eq!(report.rows, 4);
        assert_eq!(
            report.officials, 3,
            "the deputy who is also maire délégué is one person"
        );
        let lines: Vec<(u64, &str)> = report
            .rejected
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0].0, 6);
        assert!(lines[0].1.contains("31/02/1990"), "{lines:?}");
        assert_eq!(lines[1].0, 7);
        assert!(lines[1].1.contains("75056") && lines[1].1.contains("tenant create"));
        assert_eq!(lines[2].0, 8);
        assert!(lines[2].1.contains("ABCDE"));

        let slug = "l-abergement-clemenciat";
        let page = app.anonymous_page(app.url(Some(slug), "/")).await?;
        let mayor = page
            .find("Line EVALET TAPONAT</a> <small>Maire</small>")
            .ok_or_else(|| anyhow::anyhow!("mayor missing: {page}"))?;
        let deputy = page
            .find("Paul MARTIN</a> <small>1er adjoint au maire, Maire délégué</small>")
            .ok_or_else(|| anyhow::anyhow!("deputy missing"))?;
        let councillor = page
            .find("Claire DUPONT</a> <small>Conseillère municipale</small>")
            .ok_or_else(|| anyhow::anyhow!("councillor missing"))?;
        assert!(
            mayor < deputy && deputy < councillor,
            "mayor, then deputies, then councillors"
        );
        assert!(!page.contains("1967"), "birth dates are shown to nobody");

        // Re-import without the councillor: nothing created twice, her mandate ends.
        std::fs::write(&file, councillors(&[MAYOR, DEPUTY, DEPUTY_ALSO_DELEGATE]))?;
        let again = import_file(&app.state.db, &file, Progress::Hidden).await?;
        assert_eq!(again.ended, 1);
        let mut tx = app.state.db.tenant(tenant(&app).await?).begin().await?;
        let officials: i64 = tx
            .scoped_scalar("SELECT COUNT(*) FROM officials WHERE tenant_id = $1")
            .fetch_one(&mut tx)
            .await?;
        drop(tx);
        assert_eq!(
            officials, 3,
            "officials are kept (their history), nothing duplicated"
        );
        let mut tx = app.state.db.tenant(tenant(&app).await?).begin().await?;
        let current: i64 = tx
            .scoped_scalar(
                "SELECT COUNT(*) FROM mandates WHERE tenant_id = $1 AND ended_at IS NULL",
            )
            .fetch_one(&mut tx)
            .await?;
        assert_eq!(current, 3);
        drop(tx);
        // The home page is cached for anonymous visitors for a few seconds; signed-in views are fresh.
        app.account("voisin@example.org", "mot de passe solide")
            .await?;
        let client = app
            .signed_in(Some(slug), "voisin@example.org", "mot de passe solide")
            .await?;
        let page = client
            .get(app.url(Some(slug), "/"))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            !page.contains("Claire DUPONT"),
            "ended mandates leave the page"
        );

        // A mayors' file (tab-separated, ISO dates, no function column) is recognised as such.
        let mayors = dir.path().join("elus-maires-mai.csv");
        std::fs::write(
            &mayors,
            "Code du département\tLibellé du département\tCode de la collectivité à statut particulier\tLibellé de la collectivité à statut particulier\tCode de la commune\tLibellé de la commune\tNom de l'élu\tPrénom de l'élu\tCode sexe\tDate de naissance\tCode de la catégorie socio-professionnelle\tLibellé de la catégorie socio-professionnelle\tDate de début du mandat\tDate de début de la fonction\n\
         01\tAin\t\t\t01001\tL'Abergement-Clémenciat\tEVALET TAPONAT\tLine\tF\t1967-07-22\t74\tAnciens cadres\t2026-03-15\t2026-03-23\n",
        )?;
        let report = import_file(&app.state.db, &mayors, Progress::Hidden).await?;
        assert_eq!(report.kind, Some(FileKind::Mayors));
        assert_eq!((report.rows, report.officials, report.ended), (1, 1, 0));
        assert!(report.rejected.is_empty());
        app.stop().await;
        Ok(())
    }
);

// Issue 17: the registry writes « 2ème adjoint au maire » and « Maire délégué » whoever holds
// the function; pages say « 2e adjointe au maire », « Maire déléguée ».
const SECOND_DEPUTY: &str = "01;Ain;;;01001;L'Abergement-Clémenciat;BERNARD;Sophie;F;03/03/1975;23;Cadres;15/03/2026;2ème adjoint au maire;23/03/2026;FR";
const SECOND_DEPUTY_DELEGATE: &str = "01;Ain;;;01001;L'Abergement-Clémenciat;BERNARD;Sophie;F;03/03/1975;23;Cadres;15/03/2026;Maire délégué;23/03/2026;FR";

both_backends!(functions_agree_with_the_official, |backend| async move {
    let app = TestApp::start(backend).await?;
    let slug = app.commune("01001").await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("elus-conseillers-municipaux-cm.csv");
    std::fs::write(
        &file,
        councillors(&[MAYOR, SECOND_DEPUTY, SECOND_DEPUTY_DELEGATE]),
    )?;
    import_file(&app.state.db, &file, Progress::Hidden).await?;
    let page = app.anonymous_page(app.url(Some(&slug), "/")).await?;
    let council = parvis_tests::html::texts(&page, "ul.people li > span:last-child")?;
    assert!(
        !page.contains("<details class=\"fold\""),
        "a small council shows whole: {page}"
    );
    assert!(
        council
            .iter()
            .any(|line| line == "Sophie BERNARD 2e adjointe au maire, Maire déléguée"),
        "{council:?}"
    );
    let profile = parvis_tests::html::attrs(&page, "a[href^='/elus/']", "href")?
        .into_iter()
        .find(|href| page.contains(&format!("<a href=\"{href}\">Sophie BERNARD")))
        .ok_or_else(|| anyhow::anyhow!("no link to her profile: {page}"))?;
    let profile = app.anonymous_page(app.url(Some(&slug), &profile)).await?;
    assert_eq!(
        parvis_tests::html::texts(&profile, ".facts")?
            .first()
            .map(|t| t.starts_with("2e adjointe au maire, Maire déléguée")),
        Some(true),
        "{profile}"
    );
    app.stop().await;
    Ok(())
});

both_backends!(
    a_large_council_folds_behind_its_mayor_and_deputies,
    |backend| async move {
        // Issue 17: Paris's 163 councillors made the commune's page a list without end.
        let app = TestApp::start(backend).await?;
        let slug = app.commune("01001").await?;
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("elus-conseillers-municipaux-cm.csv");
        let names = [
            "ARNAUD", "BLANC", "CARON", "DAVID", "ETIENNE", "FABRE", "GARNIER", "HUET", "IMBERT",
            "JOLY", "KLEIN", "LEROY", "MARCHAND", "NOEL", "OLIVIER", "PERRIN", "QUENTIN", "ROUX",
        ];
        let mut rows = vec![MAYOR.to_string(), DEPUTY.to_string()];
        rows.extend(names.iter().map(|n| COUNCILLOR.replace("DUPONT", n)));
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        std::fs::write(&file, councillors(&rows))?;
        import_file(&app.state.db, &file, Progress::Hidden).await?;
        let page = app.anonymous_page(app.url(Some(&slug), "/")).await?;
        let first = parvis_tests::html::texts(&page, "#equipe ~ ul.people > li > span:last-child")?;
        assert_eq!(
            first,
            [
                "Line EVALET TAPONAT Maire",
                "Paul MARTIN 1er adjoint au maire"
            ],
            "{page}"
        );
        assert_eq!(
            parvis_tests::html::texts(&page, "details.fold > summary")?,
            ["Voir les 18 autres membres du conseil municipal"]
        );
        let folded =
            parvis_tests::html::texts(&page, "details.fold ul.people > li > span:last-child")?;
        assert_eq!(folded.len(), 18, "{folded:?}");
        assert_eq!(folded[0], "Claire ARNAUD Conseillère municipale");
        assert_eq!(
            parvis_tests::html::attrs(&page, "details.fold a[href^='/elus/']", "href")?.len(),
            18,
            "each still leads to the official's page"
        );

        app.stop().await;
        Ok(())
    }
);

both_backends!(unusable_files_are_refused_whole, |backend| async move {
    let app = TestApp::start(backend).await?;
    app.commune("01001").await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("autre.csv");
    std::fs::write(&file, "a;b;c\n1;2;3\n")?;
    let err = import_file(&app.state.db, &file, Progress::Hidden)
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("should fail"))?;
    assert!(err.to_string().contains("colonnes absentes"), "{err}");
    std::fs::write(&file, councillors(&[BAD_DATE, BAD_CODE]))?;
    let err = import_file(&app.state.db, &file, Progress::Hidden)
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("should fail"))?;
    assert!(err.to_string().contains("aucune ligne importable"), "{err}");
    let missing = import_file(
        &app.state.db,
        &dir.path().join("absent.csv"),
        Progress::Hidden,
    )
    .await;
    assert!(missing.is_err());
    let mut tx = app.state.db.tenant(tenant(&app).await?).begin().await?;
    let n: i64 = tx
        .scoped_scalar("SELECT COUNT(*) FROM officials WHERE tenant_id = $1")
        .fetch_one(&mut tx)
        .await?;
    assert_eq!(n, 0, "nothing half-written");
    drop(tx);
    app.stop().await;
    Ok(())
});

async fn tenant(app: &TestApp) -> anyhow::Result<parvis_core::types::TenantId> {
    let t = parvis_tenants::provision::find_by_insee(
        &app.state.db,
        &parvis_core::types::InseeCode::parse("01001")?,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("tenant"))?;
    Ok(t.id)
}

/// The link to an official's profile on the commune page.
fn profile_link(page: &str, name: &str) -> anyhow::Result<String> {
    let at = page
        .find(name)
        .ok_or_else(|| anyhow::anyhow!("{name} not on the page"))?;
    let start = page[..at]
        .rfind("/elus/")
        .ok_or_else(|| anyhow::anyhow!("no profile link"))?;
    Ok(page[start..].chars().take_while(|c| *c != '"').collect())
}

both_backends!(officials_claim_their_profiles, |backend| async move {
    use parvis_core::authz::{Role, perms};
    let app = TestApp::start(backend).await?;
    app.commune("01001").await?;
    let slug = "l-abergement-clemenciat";
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("cm.csv");
    std::fs::write(&file, councillors(&[MAYOR, DEPUTY, COUNCILLOR]))?;
    import_file(&app.state.db, &file, Progress::Hidden).await?;
    let page = app.anonymous_page(app.url(Some(slug), "/")).await?;
    let claire = profile_link(&page, "Claire DUPONT")?;
    let line = profile_link(&page, "Line EVALET TAPONAT")?;

    let public = app
        .client()?
        .get(app.url(Some(slug), &claire))
        .send()
        .await?;
    assert_eq!(public.status(), 200);
    let html = public.text().await?;
    assert!(html.contains("Claire DUPONT") && html.contains("Connectez-vous"));
    assert!(!html.contains("1980"), "no birth date on a public profile");

    let claimant = app
        .account("claire@example.org", "mot de passe solide")
        .await?;
    let client = app
        .signed_in(Some(slug), "claire@example.org", "mot de passe solide")
        .await?;
    let token = parvis_tests::form_token(&client, &app.url(Some(slug), &claire)).await?;
    let claim = |path: String, date: &'static str| {
        let client = client.clone();
        let token = token.clone();
        let url = app.url(Some(slug), &format!("{path}/revendiquer"));
        async move {
            client
                .post(url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("birth_date", date),
                    ("message", "C'est moi"),
                ])
                .send()
                .await
        }
    };
    assert_eq!(claim(claire.clone(), "31/02/1980").await?.status(), 400);
    let sent = claim(claire.clone(), "1980-05-05").await?;
    assert_eq!(sent.status(), 200);
    assert!(sent.text().await?.contains("Votre demande est envoyée"));
    assert_eq!(
        claim(claire.clone(), "1980-05-05").await?.status(),
        409,
        "one pending claim at a time"
    );

    // The commune's admin sees the claim with the birth-date check, and approves it.
    let admin = app
        .account("admin@abergement.test", "mot de passe solide")
        .await?;
    app.grant(&admin, Role::TenantAdmin, Some(slug)).await?;
    let admin_client = app
        .signed_in(Some(slug), "admin@abergement.test", "mot de passe solide")
        .await?;
    let list = admin_client
        .get(app.url(Some(slug), "/admin/revendications"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        list.contains("Claire DUPONT") && list.contains("conforme au répertoire"),
        "{list}"
    );
    let approve = |list: &str| -> anyhow::Result<String> {
        let at = list
            .find("/admin/revendications/")
            .ok_or_else(|| anyhow::anyhow!("no claim"))?;
        Ok(list[at..].chars().take_while(|c| *c != '"').collect())
    };
    let admin_token = parvis_tests::csrf(&list).ok_or_else(|| anyhow::anyhow!("csrf"))?;
    let approved = admin_client
        .post(app.url(Some(slug), &approve(&list)?))
        .form(&[("csrf_token", admin_token.as_str())])
        .send()
        .await?;
    assert_eq!(approved.status(), 303);
    let mail = app.smtp.wait_for("claire@example.org", "acceptée").await?;
    assert!(mail.text.contains(&claire));
    // It came through the notification path: unsubscribe link, and in the centre too.
    assert!(mail.text.contains("/desabonnement?"), "{}", mail.text);
    let centre = client
        .get(app.url(Some(slug), "/notifications"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        centre.contains("Votre demande de profil d&#x27;élu : acceptée"),
        "{centre}"
    );
    let domain = parvis_tenants::provision::find_by_insee(
        &app.state.db,
        &parvis_core::types::InseeCode::parse("01001")?,
    )
    .await?
    .ok_or_else(|| anyhow::anyhow!("tenant"))?
    .id
    .authz_domain();
    assert!(
        app.state
            .authz
            .can(Some(&claimant), &domain, perms::PUBLISH_POST)
            .await,
        "the official may publish"
    );
    let html = client
        .get(app.url(Some(slug), &claire))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        html.contains("c&#x27;est le vôtre") || html.contains("c'est le vôtre"),
        "{html}"
    );

    // A mayor's profile: the commune's admin cannot hand it over; a platform admin can.
    let mayor = app
        .account("line@example.org", "mot de passe solide")
        .await?;
    let mayor_client = app
        .signed_in(Some(slug), "line@example.org", "mot de passe solide")
        .await?;
    let token = parvis_tests::form_token(&mayor_client, &app.url(Some(slug), &line)).await?;
    let sent = mayor_client
        .post(app.url(Some(slug), &format!("{line}/revendiquer")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("birth_date", "22/07/1967"),
            ("message", ""),
        ])
        .send()
        .await?;
    assert_eq!(sent.status(), 200);
    let list = admin_client
        .get(app.url(Some(slug), "/admin/revendications"))
        .send()
        .await?
        .text()
        .await?;
    let refused = admin_client
        .post(app.url(Some(slug), &approve(&list)?))
        .form(&[("csrf_token", admin_token.as_str())])
        .send()
        .await?;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await?.contains("plateforme"));
    let root = app
        .account("root@parvis.test", "mot de passe solide")
        .await?;
    app.grant(&root, Role::PlatformAdmin, None).await?;
    let root_client = app
        .signed_in(Some(slug), "root@parvis.test", "mot de passe solide")
        .await?;
    let list = root_client
        .get(app.url(Some(slug), "/admin/revendications"))
        .send()
        .await?
        .text()
        .await?;
    let root_token = parvis_tests::csrf(&list).ok_or_else(|| anyhow::anyhow!("csrf"))?;
    let ok = root_client
        .post(app.url(Some(slug), &approve(&list)?))
        .form(&[("csrf_token", root_token.as_str())])
        .send()
        .await?;
    assert_eq!(ok.status(), 303);
    assert!(
        app.state
            .authz
            .can(Some(&mayor), &domain, perms::PUBLISH_POST)
            .await
    );
    // Claiming an owned profile is refused.
    let other = app
        .signed_in(Some(slug), "admin@abergement.test", "mot de passe solide")
        .await?;
    let token = parvis_tests::form_token(&other, &app.url(Some(slug), &claire)).await?;
    let taken = other
        .post(app.url(Some(slug), &format!("{claire}/revendiquer")))
        .form(&[
            ("csrf_token", token.as_str()),
            ("birth_date", "1980-05-05"),
            ("message", ""),
        ])
        .send()
        .await;
    assert_eq!(taken?.status(), 409);
    app.stop().await;
    Ok(())
});

/// While the server's writer holds SQLite's write lock (a request writing), an import on the
/// same file waits for it. A deferred transaction that reads, then writes, would be refused at
/// its first write, at once, with « database is locked »: the busy timeout does not apply to a
/// read transaction that upgrades. That is how a CLI import beside a running server failed.
#[tokio::test]
async fn an_import_waits_for_the_writer_instead_of_failing() -> anyhow::Result<()> {
    let app = TestApp::start(parvis_tests::Backend::Sqlite).await?;
    app.commune("75056").await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("elus-conseillers-municipaux-cm.csv");
    std::fs::write(
        &file,
        councillors(&[
            "75;Paris;;;75056;Paris;LAMBERT;Alice;F;01/02/1975;37;Cadres;15/03/2026;;;FR",
        ]),
    )?;
    let tenant: parvis_core::types::TenantId =
        sqlx::query_scalar("SELECT id FROM tenants WHERE insee = '75056'")
            .fetch_one(app.state.db.platform())
            .await?;
    let held = (app.state.db).tenant(tenant).begin_write().await?;
    let release = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        held.commit().await
    };
    let (report, released) =
        tokio::join!(import_file(&app.state.db, &file, Progress::Hidden), release);
    released?;
    let report = report?;
    assert!(report.rejected.is_empty(), "{report}");
    let imported: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM officials WHERE last_name = 'LAMBERT'")
            .fetch_one(app.state.db.platform())
            .await?;
    assert_eq!(imported, 1);
    app.stop().await;
    Ok(())
}

// Issue 13, defect 6: taking the official role away used to leave the profile attached, and
// the account kept receiving what citizens wrote to the official. Now the profile is detached
// with the role (claimable again), the admin is told which one, and the audit log says so.
both_backends!(
    revoking_the_official_role_detaches_the_profile,
    |backend| async move {
        use parvis_core::authz::Role;
        const PW: &str = "mot de passe solide";
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        parvis_tests::rne::import(&app, &[parvis_tests::rne::ALICE_LAMBERT]).await?;
        let alice = app.account("alice@paris.test", PW).await?;
        let elu = parvis_tests::rne::give_profile(&app, "LAMBERT", &alice).await?;
        app.grant(&alice, Role::Official, Some(&paris)).await?;
        let mayor = app.account("maire@paris.test", PW).await?;
        app.grant(&mayor, Role::TenantAdmin, Some(&paris)).await?;
        let admin = app.signed_in(Some(&paris), "maire@paris.test", PW).await?;
        app.account("cyril@example.org", PW).await?;
        let cyril = app.signed_in(Some(&paris), "cyril@example.org", PW).await?;
        let alice_client = app.signed_in(Some(&paris), "alice@paris.test", PW).await?;
        let write = |subject: &'static str| {
            let cyril = cyril.clone();
            let elu = elu.clone();
            let form = app.url(Some(&paris), "/messages");
            let post = app.url(Some(&paris), "/messages/nouveau");
            async move {
                let token = parvis_tests::form_token(&cyril, &form).await?;
                let r = cyril
                    .post(post)
                    .form(&[
                        ("csrf_token", token.as_str()),
                        ("elu", elu.as_str()),
                        ("subject", subject),
                        ("body", "Bonjour, une question sur la voirie."),
                    ])
                    .send()
                    .await?;
                parvis_tests::outcome(r).await
            }
        };
        let (status, _) = write("Avant le retrait").await?;
        assert_eq!(
            status, 303,
            "the official receives messages while she holds the role"
        );

        let token =
            parvis_tests::form_token(&admin, &app.url(Some(&paris), "/admin/roles")).await?;
        let r = admin
            .post(app.url(Some(&paris), "/admin/roles/retirer"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("account_id", alice.0.as_str()),
                ("role", "official"),
            ])
            .send()
            .await?;
        let (status, location) = parvis_tests::outcome(r).await?;
        assert_eq!(status, 303, "{location}");
        let page = admin
            .get(app.url(Some(&paris), &location))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            page.contains("le profil de Alice LAMBERT a été détaché de ce compte"),
            "{page}"
        );
        let journal = admin
            .get(app.url(Some(&paris), "/admin/moderation"))
            .send()
            .await?
            .text()
            .await?;
        assert!(
            journal.contains("official.detach")
                && journal.contains("Alice LAMBERT détaché du compte"),
            "{journal}"
        );

        // A citizen writing to the official now reaches no one: the old account gets nothing.
        let r = cyril
            .get(app.url(Some(&paris), &format!("/messages/nouveau?elu={elu}")))
            .send()
            .await?;
        assert_eq!(r.status(), 404);
        assert!(r.text().await?.contains("pas encore de compte"));
        let (status, body) = write("Après le retrait").await?;
        assert_eq!(status, 404, "{body}");
        assert!(body.contains("pas encore de compte"), "{body}");
        let inbox = alice_client
            .get(app.url(Some(&paris), "/messages"))
            .send()
            .await?
            .text()
            .await?;
        assert!(inbox.contains("Avant le retrait"), "{inbox}");
        assert!(!inbox.contains("Après le retrait"), "{inbox}");

        // The profile is unclaimed again, and its holder can claim it anew.
        let profile = app.url(Some(&paris), &format!("/elus/{elu}"));
        let token = parvis_tests::form_token(&alice_client, &profile).await?;
        let r = alice_client
            .post(format!("{profile}/revendiquer"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("birth_date", "01/02/1975"),
                ("message", "C'est toujours moi"),
            ])
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        assert!(r.text().await?.contains("Votre demande est envoyée"));
        app.stop().await;
        Ok(())
    }
);

// Issue 13, « also seen »: claims had no limit; each one is an admin's identity check.
both_backends!(
    claims_are_limited_per_account_and_address,
    |backend| async move {
        const PW: &str = "mot de passe solide";
        let app = TestApp::start(backend).await?;
        let paris = app.commune("75056").await?;
        let rows: Vec<String> = (0..14)
            .map(|n| {
                format!(
                    "75;Paris;;;75056;Paris;NOM{n:02};Prénom;F;01/02/1975;37;Cadres;15/03/2026;;;FR"
                )
            })
            .collect();
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        parvis_tests::rne::import(&app, &rows).await?;
        let page = app.anonymous_page(app.url(Some(&paris), "/")).await?;
        let mut profiles = Vec::new();
        for n in 0..14 {
            profiles.push(profile_link(&page, &format!("Prénom NOM{n:02}"))?);
        }
        let claim = |client: reqwest::Client, path: String| {
            let url = app.url(Some(&paris), &path);
            async move {
                let token = parvis_tests::form_token(&client, &url).await?;
                let r = client
                    .post(format!("{url}/revendiquer"))
                    .form(&[
                        ("csrf_token", token.as_str()),
                        ("birth_date", "01/01/1990"),
                        ("message", "C'est moi"),
                    ])
                    .send()
                    .await?;
                anyhow::Ok((r.status().as_u16(), r.text().await?))
            }
        };
        // One account: three claims a day, then a clear refusal.
        app.account("zoe@example.org", PW).await?;
        let zoe = app.signed_in(Some(&paris), "zoe@example.org", PW).await?;
        for path in &profiles[0..3] {
            let (status, body) = claim(zoe.clone(), path.clone()).await?;
            assert_eq!(status, 200, "{body}");
        }
        let (status, body) = claim(zoe.clone(), profiles[3].clone()).await?;
        assert_eq!(status, 429);
        assert!(body.contains("trop de demandes de profil"), "{body}");

        // One address: ten a day whatever the accounts (3 used above, 7 more by fresh accounts).
        let mut filed = 3;
        let mut n = 3;
        let mut account = 0;
        while filed < 10 {
            let email = format!("voisin{account}@example.org");
            account += 1;
            app.account(&email, PW).await?;
            let client = app.signed_in(Some(&paris), &email, PW).await?;
            for _ in 0..3 {
                if filed == 10 {
                    break;
                }
                let (status, body) = claim(client.clone(), profiles[n].clone()).await?;
                assert_eq!(status, 200, "{body}");
                filed += 1;
                n += 1;
            }
        }
        app.account("nouveau@example.org", PW).await?;
        let fresh = app
            .signed_in(Some(&paris), "nouveau@example.org", PW)
            .await?;
        let (status, _) = claim(fresh, profiles[n].clone()).await?;
        assert_eq!(status, 429, "the address is over its limit");
        let mut tx = app.state.db.platform_tx().await?;
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM official_claims")
            .fetch_one(&mut *tx)
            .await?;
        drop(tx);
        assert_eq!(pending, 10);
        app.stop().await;
        Ok(())
    }
);

// An approved claim is committed, then the official role is granted (casbin's rules are
// written apart): a server stopped in between left the profile held without its role. The
// server mends it when it starts (`mend_official_roles`), in the profile's commune only, and
// never gives the role back to someone whose profile a revocation took.
both_backends!(
    a_profile_held_without_its_role_gets_it_at_start,
    |backend| async move {
        use parvis_core::authz::{Role, perms};
        use parvis_core::officials::service::mend_official_roles;
        let app = TestApp::start(backend).await?;
        app.commune("01001").await?;
        let elsewhere = app.commune("75056").await?;
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("cm.csv");
        std::fs::write(&file, councillors(&[MAYOR, DEPUTY, COUNCILLOR]))?;
        import_file(&app.state.db, &file, Progress::Hidden).await?;
        let here = tenant(&app).await?;
        let claire = app
            .account("claire@example.org", "mot de passe solide")
            .await?;
        let paul = app
            .account("paul@example.org", "mot de passe solide")
            .await?;
        let (domain, other) = (
            here.authz_domain(),
            app.tenant_id(&elsewhere).await?.authz_domain(),
        );
        let authz = &app.state.authz;
        // What a stop between the claim's commit and the grant leaves: Claire holds her profile,
        // not the role. Paul held his, and a revocation took it back as it does: the profile
        // detached first, then the role revoked.
        hold(&app, here, Some(&claire), "Claire").await?;
        hold(&app, here, Some(&paul), "Paul").await?;
        authz.grant(&paul, Role::Official, &domain).await?;
        hold(&app, here, None, "Paul").await?;
        authz.revoke(&paul, Role::Official, &domain).await?;
        assert!(!authz.can(Some(&claire), &domain, perms::PUBLISH_POST).await);

        assert_eq!(mend_official_roles(&app.state.db, authz).await?, 1);
        assert!(authz.holds(&claire, Role::Official, &domain).await);
        assert!(
            authz.can(Some(&claire), &domain, perms::PUBLISH_POST).await,
            "the official may publish"
        );
        assert!(
            !authz.holds(&claire, Role::Official, &other).await,
            "in her commune only"
        );
        assert!(!authz.holds(&paul, Role::Official, &domain).await);
        assert_eq!(
            mend_official_roles(&app.state.db, authz).await?,
            0,
            "nothing left to mend"
        );
        app.stop().await;
        Ok(())
    }
);

/// Sets who holds the profile of first name `first_name` in commune `tenant`, as a decided
/// claim (or a revocation) writes it.
async fn hold(
    app: &TestApp,
    tenant: parvis_core::types::TenantId,
    account: Option<&parvis_core::types::AccountId>,
    first_name: &str,
) -> anyhow::Result<()> {
    let mut tx = app.state.db.tenant(tenant).begin_write().await?;
    tx.scoped("UPDATE officials SET account_id = $2 WHERE tenant_id = $1 AND first_name = $3")
        .bind(account.map(|a| a.0.clone()))
        .bind(first_name)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
