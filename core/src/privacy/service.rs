//! Data export and account deletion, free of HTTP. Private messages follow the same rule as
//! posts: the deleted account's messages lose their text (the other side keeps the thread,
//! signed « Compte supprimé »), and the threads it started lose their subject. Comments keep
//! their text like posts, signed « Compte supprimé »; reactions and evaluations are removed.

use serde_json::{Value, json};
use sqlx::{Column as _, Row as _};

use crate::authz::Authz;
use crate::db::Db;
use crate::types::AccountId;
use crate::util::now;

/// Rows of `sql` (bound to the account) as JSON objects (text, integers and nulls).
async fn rows(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    account: &AccountId,
) -> Result<Vec<Value>, sqlx::Error> {
    let rows = sqlx::query(sql).bind(&account.0).fetch_all(conn).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let mut obj = serde_json::Map::new();
            for (i, col) in row.columns().iter().enumerate() {
                let v = row
                    .try_get::<Option<String>, _>(i)
                    .map(|v| v.map(Value::String).unwrap_or(Value::Null))
                    .or_else(|_| {
                        row.try_get::<Option<i64>, _>(i)
                            .map(|v| v.map(Value::from).unwrap_or(Value::Null))
                    })
                    .unwrap_or(Value::Null);
                obj.insert(col.name().to_string(), v);
            }
            Value::Object(obj)
        })
        .collect())
}

/// Everything Parvis holds about an account, as one JSON document. Cross-tenant rows are read
/// in a platform transaction, always filtered by this account.
pub async fn export(db: &Db, authz: &Authz, account: &AccountId) -> Result<Value, sqlx::Error> {
    let mut tx = db.platform_tx().await?;
    let conn: &mut sqlx::AnyConnection = &mut tx;
    let profile = rows(
        conn,
        "SELECT id, email, display_name, email_verified_at, created_at FROM accounts WHERE id = $1",
        account,
    )
    .await?;
    let sessions = rows(
        conn,
        "SELECT created_at, expires_at FROM sessions WHERE account_id = $1",
        account,
    )
    .await?;
    let follows = rows(
        conn,
        "SELECT t.slug AS commune, f.target_kind, f.target_id, f.created_at FROM follows f JOIN tenants t ON t.id = f.tenant_id \
         WHERE f.account_id = $1",
        account,
    )
    .await?;
    let push_devices = rows(
        conn,
        "SELECT user_agent AS device, endpoint, created_at, last_success_at FROM push_subscriptions \
         WHERE account_id = $1",
        account,
    )
    .await?;
    let posts = rows(
        conn,
        "SELECT t.slug AS commune, p.id, p.author_kind, p.author_name, p.body, p.theme, p.created_at, p.hidden_at \
         FROM posts p JOIN tenants t ON t.id = p.tenant_id WHERE p.author_account_id = $1",
        account,
    )
    .await?;
    let claims = rows(
        conn,
        "SELECT t.slug AS commune, c.official_id, c.message, c.status, c.decision_reason, c.created_at \
         FROM official_claims c JOIN tenants t ON t.id = c.tenant_id WHERE c.account_id = $1",
        account,
    )
    .await?;
    let owned = rows(
        conn,
        "SELECT t.slug AS commune, o.id, o.first_name, o.last_name, o.birth_date FROM officials o \
         JOIN tenants t ON t.id = o.tenant_id WHERE o.account_id = $1",
        account,
    )
    .await?;
    let flags = rows(
        conn,
        "SELECT t.slug AS commune, f.post_id, f.comment_id, f.reason, f.created_at FROM flags f JOIN tenants t ON t.id = f.tenant_id \
         WHERE f.account_id = $1",
        account,
    )
    .await?;
    let requests = rows(
        conn,
        "SELECT insee, requester_name, requester_role, phone, message, status, created_at FROM subscription_requests \
         WHERE account_id = $1",
        account,
    )
    .await?;
    // Which modules of which communes the account used (a signed-in form that wrote): the
    // modules may notify it there (`modules::quota`).
    let modules_used = rows(
        conn,
        "SELECT t.slug AS commune, c.module_id AS module, c.seen_at FROM module_contacts c \
         JOIN tenants t ON t.id = c.tenant_id WHERE c.account_id = $1",
        account,
    )
    .await?;
    // Every message of the threads the account takes part in (as citizen or official), and
    // those it sent for a commune; a message deleted with its author's account has no text.
    let message_threads = rows(
        conn,
        "SELECT t.slug AS commune, th.id, th.subject, th.recipient_kind, th.recipient_name, th.created_at \
         FROM message_threads th JOIN tenants t ON t.id = th.tenant_id \
         WHERE th.citizen_account_id = $1 OR th.official_account_id = $1 \
         OR EXISTS (SELECT 1 FROM messages m WHERE m.tenant_id = th.tenant_id AND m.thread_id = th.id AND m.sender_account_id = $1)",
        account,
    )
    .await?;
    let messages = rows(
        conn,
        "SELECT t.slug AS commune, m.thread_id, m.id, m.sender_side, \
         CASE WHEN m.sender_account_id = $1 THEN 'moi' ELSE 'interlocuteur' END AS sender, m.body, m.created_at \
         FROM messages m JOIN message_threads th ON th.tenant_id = m.tenant_id AND th.id = m.thread_id \
         JOIN tenants t ON t.id = m.tenant_id \
         WHERE th.citizen_account_id = $1 OR th.official_account_id = $1 OR m.sender_account_id = $1 \
         ORDER BY m.id",
        account,
    )
    .await?;
    let comments = rows(
        conn,
        "SELECT t.slug AS commune, c.post_id, c.id, c.body, c.created_at, c.hidden_at FROM post_comments c \
         JOIN tenants t ON t.id = c.tenant_id WHERE c.author_account_id = $1 ORDER BY c.id",
        account,
    )
    .await?;
    let reactions = rows(
        conn,
        "SELECT t.slug AS commune, r.post_id, r.reaction, r.created_at FROM post_reactions r \
         JOIN tenants t ON t.id = r.tenant_id WHERE r.account_id = $1",
        account,
    )
    .await?;
    let evaluations = rows(
        conn,
        "SELECT t.slug AS commune, r.post_id, r.value, r.created_at, r.updated_at FROM post_ratings r \
         JOIN tenants t ON t.id = r.tenant_id WHERE r.account_id = $1",
        account,
    )
    .await?;
    let blocks = rows(
        conn,
        "SELECT a.display_name AS blocked, b.created_at FROM account_blocks b JOIN accounts a ON a.id = b.blocked_account_id \
         WHERE b.blocker_account_id = $1",
        account,
    )
    .await?;
    let citizen_profile = rows(
        conn,
        "SELECT bio, visibility, show_follows, avatar_id, avatar_small_id, updated_at FROM account_profiles \
         WHERE account_id = $1",
        account,
    )
    .await?;
    let media = rows(
        conn,
        "SELECT '' AS commune, id, purpose, content_type, byte_size, created_at FROM account_media WHERE account_id = $1 \
         UNION ALL SELECT t.slug AS commune, m.id, m.purpose, m.content_type, m.byte_size, m.created_at \
         FROM media m JOIN tenants t ON t.id = m.tenant_id WHERE m.account_id = $1",
        account,
    )
    .await?;
    let citizen_follows = rows(
        conn,
        "SELECT f.followed_account_id AS account, a.display_name, f.created_at FROM citizen_follows f \
         JOIN accounts a ON a.id = f.followed_account_id WHERE f.follower_account_id = $1",
        account,
    )
    .await?;
    let candidate_profiles = rows(
        conn,
        "SELECT t.slug AS commune, c.id, c.election_kind, c.election_date, c.display_name, c.list_name, c.programme, \
         c.photo_id, c.status, c.withdrawn_reason, c.created_at FROM candidates c JOIN tenants t ON t.id = c.tenant_id \
         WHERE c.account_id = $1",
        account,
    )
    .await?;
    let notification_preferences = rows(
        conn,
        "SELECT email_rhythm, push, updated_at FROM notification_preferences WHERE account_id = $1",
        account,
    )
    .await?;
    let pending_digest = rows(
        conn,
        "SELECT t.slug AS commune, d.title, d.link, d.created_at FROM digest_items d \
         JOIN tenants t ON t.id = d.tenant_id WHERE d.account_id = $1 ORDER BY d.created_at",
        account,
    )
    .await?;
    tx.commit().await?;
    let roles: Vec<Value> = authz
        .all_roles_of(account)
        .await
        .into_iter()
        .map(|(role, domain)| json!({"role": role.as_str(), "domain": domain}))
        .collect();
    Ok(json!({
        "generated_at": now(),
        "account": profile.into_iter().next(),
        "sessions": sessions,
        "roles": roles,
        "follows": follows,
        "push_devices": push_devices,
        "posts": posts,
        "official_profiles": owned,
        "official_claims": claims,
        "flags": flags,
        "subscription_requests": requests,
        "modules_used": modules_used,
        "message_threads": message_threads,
        "messages": messages,
        "blocks": blocks,
        "citizen_profile": citizen_profile.into_iter().next(),
        "media": media,
        "citizen_follows": citizen_follows,
        "candidate_profiles": candidate_profiles,
        "comments": comments,
        "reactions": reactions,
        "evaluations": evaluations,
        // No row: the defaults (see /notifications/preferences).
        "notification_preferences": notification_preferences.into_iter().next().unwrap_or_else(
            || json!({"email_rhythm": "defaut", "push": 1, "updated_at": null})
        ),
        "pending_digest_items": pending_digest,
    }))
}

/// [`export`], with what each module keeps about the account (`modules`).
pub async fn export_with_modules(
    app: &crate::web::AppState,
    account: &AccountId,
) -> Result<Value, sqlx::Error> {
    let mut data = export(&app.db, &app.authz, account).await?;
    data["modules"] = crate::modules::personal::export(app, account).await?;
    Ok(data)
}

/// Deletes an account: personal data erased, publications anonymised, roles removed; modules
/// are told by jobs queued in the same transaction (wake the queue after).
pub async fn delete(db: &Db, authz: &Authz, account: &AccountId) -> Result<(), sqlx::Error> {
    let mut tx = db.platform_tx().await?;
    for sql in [
        "DELETE FROM sessions WHERE account_id = $1",
        "DELETE FROM email_tokens WHERE account_id = $1",
        "DELETE FROM follows WHERE account_id = $1",
        "DELETE FROM push_subscriptions WHERE account_id = $1",
        "DELETE FROM notification_preferences WHERE account_id = $1",
        "DELETE FROM digest_items WHERE account_id = $1",
        "DELETE FROM official_claims WHERE account_id = $1",
        "DELETE FROM flags WHERE account_id = $1",
        "DELETE FROM subscription_requests WHERE account_id = $1 AND status = 'pending'",
        "UPDATE officials SET account_id = NULL WHERE account_id = $1",
        "UPDATE posts SET author_name = 'Compte supprimé' WHERE author_account_id = $1 AND author_kind = 'candidate'",
        "DELETE FROM citizen_follows WHERE follower_account_id = $1 OR followed_account_id = $1",
        "DELETE FROM account_profiles WHERE account_id = $1",
        "DELETE FROM account_media WHERE account_id = $1",
        "DELETE FROM module_contacts WHERE account_id = $1",
        "DELETE FROM module_notice_recipients WHERE account_id = $1",
    ] {
        sqlx::query(sql).bind(&account.0).execute(&mut *tx).await?;
    }
    crate::messages::store::forget_account(&mut tx, account).await?;
    crate::candidates::service::forget_account(&mut tx, account).await?;
    crate::feed::engagement::store::forget_account(&mut tx, account).await?;
    // Modules erase what they keep from a durable job each, queued with the deletion.
    crate::modules::personal::queue_account_deleted(&mut tx, account).await?;
    sqlx::query(
        "UPDATE accounts SET email = $1, display_name = 'Compte supprimé', password_hash = '!', email_verified_at = NULL, \
         deleted_at = $2 WHERE id = $3",
    )
    .bind(format!("supprime-{}@invalid", account.0))
    .bind(now())
    .bind(&account.0)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    for (role, domain) in authz.all_roles_of(account).await {
        if let Err(e) = authz.revoke(account, role, &domain).await {
            tracing::error!(error = %e, "role of a deleted account not revoked");
        }
    }
    Ok(())
}
