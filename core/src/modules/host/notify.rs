//! `parvis:module/notify`: notifications through the host's one path (the `notify.send` job:
//! in-app centre and e-mail), queued in the call's transaction so a rolled-back call notifies
//! nobody. Web push goes to every device the recipients subscribed, one job per device; text
//! messages go through the platform's SMS provider, one job per number; every notice has a
//! delivery report.

use crate::authz::Role;
use crate::db::TenantSql as _;
use crate::mail::Attachment;
use crate::modules::bindings::parvis::module::notify::{
    Audience, Channels, DeliveryReport, Host, Notification, Sent, Urgency,
};
use crate::modules::call::{CallState, Capability, ClientKey, Denied};
use crate::modules::quota::{self, MAX_NOTICE_BODY_CHARS, Volume};
use crate::notifications::deliveries::{self, Channel, NoticeRef};
use crate::notifications::push;
use crate::notifications::sms::{self, TextMessage};
use crate::notifications::{Notice, Recipients};

/// Accounts named in one notification.
const MAX_ACCOUNTS: usize = 1000;
/// Total size of the attachments.
const MAX_ATTACHMENTS: usize = 1 << 20;

/// The refusal of a notice naming accounts the commune does not know.
fn strangers_refused(strangers: usize, named: usize) -> String {
    let (verb, linked) = if strangers > 1 {
        ("ne sont pas liés", "abonnés, ni titulaires")
    } else {
        ("n'est pas lié", "abonné, ni titulaire")
    };
    format!(
        "notification refusée : {strangers} des {named} comptes destinataires {verb} à cette \
         commune (ni {linked} d'un de ses rôles, ni utilisateur{s} de ce module ici)",
        s = if strangers > 1 { "s" } else { "" }
    )
}

impl Host for CallState {
    async fn send(&mut self, to: Audience, n: Notification) -> Result<Sent, String> {
        let _leaving = self.leaving_database();
        let title = n.title.trim().to_string();
        if title.is_empty() || title.chars().count() > 200 {
            return Err("titre vide ou de plus de 200 caractères".into());
        }
        // One rule for every path a module names: the browser's reading of it, on this site.
        let Some(path) = crate::util::same_origin_path(&n.path) else {
            return Err("le lien doit être un chemin de ce site commençant par /".into());
        };
        // Bounded before anything is copied, stored or logged.
        if n.body.chars().count() > MAX_NOTICE_BODY_CHARS {
            return Err(format!(
                "texte de plus de {} caractères",
                crate::util::thousands(i64::try_from(MAX_NOTICE_BODY_CHARS).unwrap_or(i64::MAX))
            ));
        }
        if n.attachments.len() > quota::MAX_ATTACHMENTS {
            return Err(format!(
                "au plus {} pièces jointes par notification",
                quota::MAX_ATTACHMENTS
            ));
        }
        if n.attachments.iter().map(|a| a.data.len()).sum::<usize>() > MAX_ATTACHMENTS {
            return Err("pièces jointes de plus de 1 Mio".into());
        }
        let Some(tenant) = self.tenant() else {
            return Err("aucune commune".into());
        };
        let followers = matches!(to, Audience::Followers);
        self.volumes.check_notice(followers)?;
        // Who holds a role in the commune: linked to it whatever else they do.
        let assignments = self
            .services
            .authz()
            .assignments(&tenant.authz_domain())
            .await;
        // Named accounts are checked against the commune (a role's holders are in it).
        let mut named = false;
        let recipients = match to {
            Audience::Accounts(ids) if ids.len() > MAX_ACCOUNTS => {
                return Err(format!("au plus {MAX_ACCOUNTS} comptes par notification"));
            }
            Audience::Accounts(mut ids) => {
                ids.sort();
                ids.dedup();
                named = true;
                Recipients::Accounts(ids)
            }
            Audience::Followers => Recipients::Followers,
            Audience::Role(name) => {
                let Some(role) = Role::parse(&name) else {
                    return Err(format!("rôle inconnu : {name}"));
                };
                let mut ids: Vec<String> = assignments
                    .iter()
                    .filter(|(_, r)| *r == role)
                    .map(|(a, _)| a.0.clone())
                    .collect();
                ids.sort();
                ids.dedup();
                Recipients::Accounts(ids)
            }
        };
        let reach = match &recipients {
            Recipients::Accounts(ids) => u32::try_from(ids.len()).unwrap_or(u32::MAX),
            Recipients::Followers => {
                crate::feed::store::followers_of_commune(self.services.db(), tenant)
                    .await
                    .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
                    .map_err(|e| self.fail(&e))?
            }
        };
        let notice_id = crate::util::new_id();
        let notice = Notice {
            tenant_id: tenant,
            id: notice_id.clone(),
            recipients,
            title,
            body: n.body,
            link: format!("{}{}{path}", self.origin, self.mount),
            in_app: n.channels.contains(Channels::IN_APP),
            email: n.channels.contains(Channels::EMAIL),
            push: n.channels.contains(Channels::PUSH),
            urgency: match n.urgency {
                Urgency::VeryLow => push::Urgency::VeryLow,
                Urgency::Low => push::Urgency::Low,
                Urgency::Normal => push::Urgency::Normal,
                Urgency::High => push::Urgency::High,
            },
            attachments: n
                .attachments
                .iter()
                .map(|a| Attachment::new(&a.filename, &a.content_type, &a.data))
                .collect(),
        };
        let backend = self.services.db().backend();
        let module = self.module.to_string();
        let caller = self.client.clone();
        let tx = match self.write_tx(Capability::Notify).await {
            Ok(tx) => tx,
            Err(Denied::Capability(c)) => {
                return Err(format!(
                    "le module n'a pas déclaré la capacité « {c} » dans son manifeste"
                ));
            }
            Err(Denied::Unavailable(why)) => return Err(why),
        };
        // Linked whatever else they do: the commune's role holders, and whoever is acting in
        // the module right now (a booking confirmed to the one who books).
        let mut known: std::collections::HashSet<String> =
            assignments.into_iter().map(|(a, _)| a.0).collect();
        if let (Some(client), Recipients::Accounts(ids)) = (&caller, &notice.recipients) {
            known.extend(
                ids.iter()
                    .filter(|id| *client == ClientKey::account(id))
                    .cloned(),
            );
        }
        let queued: Result<Result<(), String>, sqlx::Error> = async {
            if let Recipients::Accounts(ids) = &notice.recipients {
                if named {
                    let strangers = quota::unlinked(tx, &module, ids, &known).await?;
                    if strangers > 0 {
                        return Ok(Err(strangers_refused(strangers, ids.len())));
                    }
                }
                if let Err(why) = quota::check_recipients(tx, backend, &module, ids).await? {
                    return Ok(Err(why));
                }
                let amount = i64::try_from(ids.len()).unwrap_or(i64::MAX);
                if let Err(why) =
                    quota::charge(tx, backend, &module, Volume::NoticeRecipients, amount).await?
                {
                    return Ok(Err(why));
                }
                quota::record_recipients(tx, &module, ids).await?;
            } else if let Err(why) =
                quota::charge(tx, backend, &module, Volume::FollowerNotices, 1).await?
            {
                return Ok(Err(why));
            }
            crate::jobs::push(tx.platform(), &notice).await?;
            Ok(Ok(()))
        }
        .await;
        match queued {
            Ok(Ok(())) => {}
            Ok(Err(why)) => return Err(why),
            Err(e) => return Err(self.fail(&e)),
        }
        self.volumes.add_notice(followers);
        self.after_commit.wake_jobs = true;
        Ok(Sent {
            notice: notice_id,
            reach,
        })
    }

    async fn send_sms(&mut self, numbers: Vec<String>, text: String) -> Result<Sent, String> {
        let _leaving = self.leaving_database();
        if !self.declared(Capability::Notify) {
            return Err(
                "le module n'a pas déclaré la capacité « notify » dans son manifeste".into(),
            );
        }
        if !self.services.sms_configured() {
            return Err("Les SMS ne sont pas configurés sur cette plateforme.".into());
        }
        let text = text.trim().to_string();
        if text.is_empty() || text.chars().count() > sms::MAX_TEXT {
            return Err(format!(
                "message vide ou de plus de {} caractères",
                sms::MAX_TEXT
            ));
        }
        if numbers.len() > MAX_ACCOUNTS {
            return Err(format!("au plus {MAX_ACCOUNTS} numéros par envoi"));
        }
        let mut to = Vec::with_capacity(numbers.len());
        for raw in &numbers {
            match sms::normalize_fr_mobile(raw) {
                Some(n) => to.push(n),
                None => return Err(format!("numéro de mobile invalide : {raw}")),
            }
        }
        to.sort();
        to.dedup();
        let Some(tenant) = self.tenant() else {
            return Err("aucune commune".into());
        };
        let notice_id = crate::util::new_id();
        let backend = self.services.db().backend();
        let module = self.module.to_string();
        let tx = match self.write_tx(Capability::Notify).await {
            Ok(tx) => tx,
            Err(Denied::Capability(c)) => {
                return Err(format!(
                    "le module n'a pas déclaré la capacité « {c} » dans son manifeste"
                ));
            }
            Err(Denied::Unavailable(why)) => return Err(why),
        };
        let amount = i64::try_from(to.len()).unwrap_or(i64::MAX);
        let written: Result<Result<(), String>, sqlx::Error> = async {
            if let Err(why) = quota::charge(tx, backend, &module, Volume::Sms, amount).await? {
                return Ok(Err(why));
            }
            for number in &to {
                let message = TextMessage {
                    notice: NoticeRef {
                        tenant_id: tenant,
                        notice_id: notice_id.clone(),
                    },
                    to: number.clone(),
                    text: text.clone(),
                };
                crate::jobs::push(tx.platform(), &message).await?;
            }
            deliveries::add(tx, &notice_id, Channel::Sms, amount, 0, 0).await?;
            Ok(Ok(()))
        }
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(why)) => return Err(why),
            Err(e) => return Err(self.fail(&e)),
        }
        self.after_commit.wake_jobs = true;
        Ok(Sent {
            notice: notice_id,
            reach: u32::try_from(to.len()).unwrap_or(u32::MAX),
        })
    }

    async fn report(&mut self, notice: String) -> Result<DeliveryReport, String> {
        let _leaving = self.leaving_database();
        if notice.is_empty() || notice.len() > 64 {
            return Err("identifiant d'envoi invalide".into());
        }
        let tx = match self.tx(Capability::Notify).await {
            Ok(tx) => tx,
            Err(Denied::Capability(c)) => {
                return Err(format!(
                    "le module n'a pas déclaré la capacité « {c} » dans son manifeste"
                ));
            }
            Err(Denied::Unavailable(why)) => return Err(why),
        };
        let report = match deliveries::report(tx, &notice).await {
            Ok(r) => r,
            Err(e) => return Err(self.fail(&e)),
        };
        let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
        Ok(DeliveryReport {
            in_app: count(report.in_app),
            email_sent: count(report.email_sent),
            email_failed: count(report.email_failed),
            sms_sent: count(report.sms_sent),
            sms_failed: count(report.sms_failed),
            pending: count(report.pending),
            push_sent: count(report.push_sent),
            push_failed: count(report.push_failed),
            push_pending: count(report.push_pending),
        })
    }
}
