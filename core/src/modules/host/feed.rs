//! `parvis:module/feed`: publishing in the commune's feed, in the commune's name, through the
//! same path as posts written by people (sanitised markdown, followers notified).

use crate::db::{TenantSql as _, sql};
use crate::feed::markdown;
use crate::feed::store::{self as posts, Author};
use crate::modules::bindings::parvis::module::feed::{Host, Item};
use crate::modules::call::{CallState, Capability, Denied};
use crate::modules::quota::{self, Volume};
use crate::notifications::PostPublished;
use crate::types::AccountId;

/// The account modules publish as (created by migration 0009; cannot sign in).
pub const MODULES_ACCOUNT: &str = "parvis-modules";
/// Longest post body, in bytes.
const MAX_BODY: usize = 20_000;

impl Host for CallState {
    async fn publish(&mut self, item: Item) -> Result<String, String> {
        let _leaving = self.leaving_database();
        let body = item.body_markdown.trim().to_string();
        if body.is_empty() || body.len() > MAX_BODY {
            return Err(format!("texte vide ou de plus de {MAX_BODY} octets"));
        }
        self.volumes.check_post()?;
        // One rule for every path a module names: the browser's reading of it, on this site.
        let path = match item.path.as_deref().map(crate::util::same_origin_path) {
            None => None,
            Some(Some(path)) => Some(path),
            Some(None) => {
                return Err("le lien doit être un chemin de ce site commençant par /".into());
            }
        };
        let theme = item
            .theme
            .map(|t| t.trim().chars().take(40).collect::<String>())
            .filter(|t| !t.is_empty());
        let link = path
            .as_ref()
            .map(|p| format!("{}{}{p}", self.origin, self.mount));
        // `<…>`: the normalised link has `<`, `>` and spaces percent-encoded, so a `)` in it
        // cannot end the destination and start a link of the module's making.
        let full = match &link {
            Some(link) => format!("{body}\n\n[Voir le détail](<{link}>)"),
            None => body.clone(),
        };
        let html = markdown::render(&full);
        let Some(tenant) = self.tenant() else {
            return Err("aucune commune".into());
        };
        let origin = self.origin.clone();
        let backend = self.services.db().backend();
        let module = self.module.to_string();
        let tx = match self.write_tx(Capability::Feed).await {
            Ok(tx) => tx,
            Err(Denied::Capability(c)) => {
                return Err(format!(
                    "le module n'a pas déclaré la capacité « {c} » dans son manifeste"
                ));
            }
            Err(Denied::Unavailable(why)) => return Err(why),
        };
        let account = AccountId(MODULES_ACCOUNT.to_string());
        // The notification's title is plain text: the first line without its markdown
        // (« **Résultats** » was shown with its stars).
        let first_line =
            crate::feed::markdown::excerpt(body.lines().next().unwrap_or_default(), 120);
        let written: Result<Result<String, String>, sqlx::Error> = async {
            let name = sql::query_scalar::<String>(
                "SELECT c.name FROM tenants t JOIN communes c ON c.insee = t.insee WHERE t.id = $1",
            )
            .bind(tx.tenant_id())
            .fetch_one(tx.platform())
            .await?;
            if let Err(why) = quota::charge(tx, backend, &module, Volume::Posts, 1).await? {
                return Ok(Err(why));
            }
            let id = posts::insert(
                tx,
                &account,
                &Author::Commune,
                &name,
                &full,
                &html,
                theme.as_deref(),
            )
            .await?;
            let event = PostPublished {
                tenant_id: tenant,
                post_id: id.clone(),
                official_id: None,
                author_account_id: MODULES_ACCOUNT.to_string(),
                title: format!("{name} : {first_line}"),
                link: format!("{origin}/#post-{id}"),
            };
            crate::jobs::push(tx.platform(), &event).await?;
            Ok(Ok(id))
        }
        .await;
        let id = match written {
            Ok(Ok(id)) => id,
            Ok(Err(why)) => return Err(why),
            Err(e) => return Err(self.fail(&e)),
        };
        self.volumes.add_post();
        self.after_commit.wake_jobs = true;
        self.after_commit.published = true;
        Ok(id)
    }
}
