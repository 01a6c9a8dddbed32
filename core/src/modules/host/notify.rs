//! `parvis:module/notify`: notifications through the host's one path (the `notify.send` job:
//! in-app centre and e-mail), queued in the call's transaction so a rolled-back call notifies
//! nobody. Web push joins this path when push subscriptions exist (social network issue).

use crate::authz::Role;
use crate::mail::Attachment;
use crate::modules::bindings::parvis::module::notify::{Audience, Channels, Host, Notification};
use crate::modules::call::{CallState, Capability, Denied};
use crate::notifications::{Notice, Recipients, SEND_NOTICE};

/// Accounts named in one notification.
const MAX_ACCOUNTS: usize = 1000;
/// Total size of the attachments.
const MAX_ATTACHMENTS: usize = 1 << 20;

impl Host for CallState {
    async fn send(&mut self, to: Audience, n: Notification) -> Result<u32, String> {
        let title = n.title.trim().to_string();
        if title.is_empty() || title.chars().count() > 200 {
            return Err("titre vide ou de plus de 200 caractères".into());
        }
        if !n.path.starts_with('/') || n.path.starts_with("//") {
            return Err("le lien doit être un chemin commençant par /".into());
        }
        if n.attachments.iter().map(|a| a.data.len()).sum::<usize>() > MAX_ATTACHMENTS {
            return Err("pièces jointes de plus de 1 Mio".into());
        }
        let Some(tenant) = self.tenant else {
            return Err("aucune commune".into());
        };
        let recipients = match to {
            Audience::Accounts(ids) if ids.len() > MAX_ACCOUNTS => {
                return Err(format!("au plus {MAX_ACCOUNTS} comptes par notification"));
            }
            Audience::Accounts(ids) => Recipients::Accounts(ids),
            Audience::Followers => Recipients::Followers,
            Audience::Role(name) => {
                let Some(role) = Role::parse(&name) else {
                    return Err(format!("rôle inconnu : {name}"));
                };
                let ids = self
                    .app
                    .authz
                    .assignments(&tenant.authz_domain())
                    .await
                    .into_iter()
                    .filter(|(_, r)| *r == role)
                    .map(|(a, _)| a.0)
                    .collect();
                Recipients::Accounts(ids)
            }
        };
        let reach = match &recipients {
            Recipients::Accounts(ids) => u32::try_from(ids.len()).unwrap_or(u32::MAX),
            Recipients::Followers => crate::feed::store::followers_of_commune(&self.app.db, tenant)
                .await
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                .map_err(|e| self.fail(&e))?,
        };
        let notice = Notice {
            tenant_id: tenant.0,
            id: crate::util::new_id(),
            recipients,
            title,
            body: n.body,
            link: format!("{}{}{}", self.origin, self.mount, n.path),
            in_app: n.channels.contains(Channels::IN_APP),
            email: n.channels.contains(Channels::EMAIL),
            attachments: n
                .attachments
                .iter()
                .map(|a| Attachment::new(&a.filename, &a.content_type, &a.data))
                .collect(),
        };
        let tx = match self.tx(Capability::Notify).await {
            Ok(tx) => tx,
            Err(Denied::Capability(c)) => {
                return Err(format!(
                    "le module n'a pas déclaré la capacité « {c} » dans son manifeste"
                ));
            }
            Err(Denied::Unavailable(why)) => return Err(why),
        };
        if let Err(e) = crate::jobs::insert(&mut **tx, SEND_NOTICE, &notice).await {
            return Err(self.fail(&e));
        }
        self.after_commit.wake_jobs = true;
        Ok(reach)
    }
}
