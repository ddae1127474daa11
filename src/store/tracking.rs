//! What the HTTP side records about an email it sent: a one-click unsubscribe, clicks and
//! opens. Each is found by the email's Message-ID (what the link's token carries).

use serde_json::json;
use sqlx::pool::PoolConnection;

use super::effects::{self, Subject};
use super::events;
use super::statements::{self, Stmt, Val};
use super::touches::{TouchInfo, event_for, touch_info_from};
use super::{Backend, Store, StoreError};
use crate::policy::{self, Seen, Signal, StopRules};

impl Store {
    /// The email with this Message-ID (`<id@domain>`).
    pub async fn touch_by_message_id(
        &self,
        message_id: &str,
    ) -> Result<Option<TouchInfo>, StoreError> {
        let row = sqlx::query(include_str!("sql/tracking/touch_by_message_id.sql"))
            .bind(message_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(touch_info_from).transpose()
    }

    /// The lead asked to be removed through the email's unsubscribe link: the address is
    /// suppressed and every open enrollment of the lead ends, in one transaction. Returns
    /// false when the address was suppressed already (nothing changes, no second event).
    pub async fn unsubscribe_touch(
        &self,
        t: &TouchInfo,
        how: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let already: i64 = sqlx::query_scalar(include_str!("sql/tracking/already_suppressed.sql"))
            .bind(t.lead)
            .fetch_one(&mut *tx)
            .await?;
        let decision = policy::decide(
            Signal::UnsubscribeLink,
            StopRules::DEFAULT,
            Seen {
                lead: true,
                soft_bounces: 0,
            },
            now,
        );
        let subject = Subject {
            lead: Some(t.lead),
            enrollment: Some(t.enrollment),
            address: None,
            note: how,
        };
        effects::apply(&mut tx, decision.effect, subject, now).await?;
        if let (0, Some(kind)) = (already, decision.event) {
            let mut ev = event_for(t, kind);
            ev.data = json!({ "via": how });
            events::insert(&mut tx, &ev, now).await?;
        }
        tx.commit().await?;
        Ok(already == 0)
    }

    /// Records clicks and opens, many in one statement (the HTTP side group-commits the hits
    /// that arrive together). Each is matched to its email by Message-ID in SQL; a hit on
    /// an unknown email records nothing. A click that comes within seconds of delivery, or
    /// after another click of the same email within a minute of delivery, is a scanner's.
    pub async fn record_hits(&self, hits: &[Hit]) -> Result<(), StoreError> {
        HitWriter {
            store: self.clone(),
            conn: None,
            checkpoints_apart: false,
        }
        .record(hits)
        .await
    }

    /// Copies what the WAL holds into the database file (SQLite; nothing on PostgreSQL), on
    /// a connection other than the writer's, so that the copy and its fsync do not hold up
    /// the hits that commit meanwhile. It waits for nobody: what readers still use stays for
    /// the next time.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Sqlite {
            sqlx::query(include_str!("sql/tracking/checkpoint.sqlite.sql"))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// A writer of hits that keeps its connection from one batch to the next and leaves the
    /// WAL's checkpoints to [`Store::checkpoint`], which its owner calls on the side.
    pub fn hit_writer(&self) -> HitWriter {
        HitWriter {
            store: self.clone(),
            conn: None,
            checkpoints_apart: true,
        }
    }
}

/// Records hits as [`Store::record_hits`] does, on a connection of its own that it keeps
/// between batches. On SQLite that keeps the connection's page cache warm: a connection that
/// finds the database changed by another since its last statement drops its cache and reads
/// every page again, and the pool hands out its connections in turn.
pub struct HitWriter {
    store: Store,
    conn: Option<PoolConnection<sqlx::Any>>,
    /// Whether its connection checkpoints only past a large WAL (see `checkpoint`).
    checkpoints_apart: bool,
}

impl HitWriter {
    /// Records `hits` (see [`Store::record_hits`]); after a failure the next call starts on
    /// a fresh connection.
    pub async fn record(&mut self, hits: &[Hit]) -> Result<(), StoreError> {
        let backend = self.store.backend;
        let mut stmts = Vec::new();
        for (kind, clicks) in [("clicked", true), ("opened", false)] {
            let rows: Vec<Vec<Val>> = hits
                .iter()
                .filter(|h| h.link.is_some() == clicks)
                .map(|h| {
                    vec![
                        Val::from(h.message_id.as_str()),
                        Val::from(h.link.map(i64::from)),
                        Val::from(h.url.as_deref()),
                        Val::from(h.why),
                        Val::from(h.at),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                stmts.push(hit_statement(backend, kind, rows));
            }
        }
        if stmts.is_empty() {
            return Ok(());
        }
        let conn = match &mut self.conn {
            Some(c) => c,
            None => {
                let mut c = self.store.pool.acquire().await?;
                if backend == Backend::Sqlite && self.checkpoints_apart {
                    // Checkpoints past a large WAL only (see the file for why).
                    sqlx::query(include_str!("sql/tracking/autocheckpoint.sqlite.sql"))
                        .execute(&mut *c)
                        .await?;
                }
                self.conn.insert(c)
            }
        };
        // No transaction around them: each insert is atomic by itself (and takes the write
        // lock before it reads), and a batch of hits is one round trip instead of three.
        let result = statements::run(conn, backend, stmts).await;
        if result.is_err() {
            self.release();
        }
        result.map(|_| ())
    }

    /// Lets its connection go: closed rather than returned to the pool when it checkpoints
    /// differently from the pool's others.
    fn release(&mut self) {
        if let Some(c) = self.conn.take()
            && self.checkpoints_apart
        {
            drop(c.detach());
        }
    }
}

impl Drop for HitWriter {
    fn drop(&mut self) {
        self.release();
    }
}

/// A click on a tracked link (`link` and `url` set) or an open of the pixel.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The email's Message-ID (`<id@domain>`).
    pub message_id: String,
    /// The link's index, for a click.
    pub link: Option<u16>,
    /// The link's URL, for a click.
    pub url: Option<String>,
    /// Why it is not a person's, when the request already tells (a HEAD, a scanner's user
    /// agent, an image proxy).
    pub why: Option<&'static str>,
    /// When (unix seconds).
    pub at: i64,
}

/// The insert of the `kind` events of `rows` (`message_id, link, url, why, at`).
fn hit_statement<'a>(backend: Backend, kind: &str, rows: Vec<Vec<Val<'a>>>) -> Stmt<'a> {
    let soon = if kind == "clicked" {
        "clicked within seconds of delivery"
    } else {
        "prefetched on delivery"
    };
    // Several links of one email within a minute of delivery: a scanner clicking everything.
    let burst = if kind == "clicked" {
        "WHEN v.at - t.sent_at BETWEEN 0 AND 59 AND EXISTS (SELECT 1 FROM events e \
           WHERE e.touch_id = t.id AND e.kind = 'clicked' AND e.at >= t.sent_at) \
         THEN 'several links clicked within seconds of delivery'"
    } else {
        ""
    };
    let data = match (backend, kind) {
        (Backend::Sqlite, "clicked") => {
            "json_object('link', w.link, 'url', w.url, 'human', json(CASE WHEN w.why IS NULL THEN 'true' ELSE 'false' END), 'scanner', w.why)"
        }
        (Backend::Sqlite, _) => {
            "json_object('human', json(CASE WHEN w.why IS NULL THEN 'true' ELSE 'false' END), 'proxy', w.why)"
        }
        (Backend::Postgres, "clicked") => {
            "json_build_object('link', w.link, 'url', w.url, 'human', w.why IS NULL, 'scanner', w.why)::text"
        }
        (Backend::Postgres, _) => "json_build_object('human', w.why IS NULL, 'proxy', w.why)::text",
    };
    let mut s = Stmt::new(backend);
    s.values(&["message_id", "link", "url", "why", "at"], rows)
        .sql(&format!(
            "INSERT INTO events (at, kind, lead_id, enrollment_id, touch_id, sequence_id, step_id, mailbox, data) \
             SELECT w.at, '{kind}', w.lead_id, w.enrollment_id, w.id, w.sequence_id, w.step_id, w.mailbox, {data} \
             FROM (SELECT v.at, v.link, v.url, t.lead_id, t.enrollment_id, t.id, t.sequence_id, t.step_id, t.mailbox, \
                     COALESCE(v.why, CASE WHEN t.sent_at IS NULL THEN NULL \
                       WHEN v.at - t.sent_at BETWEEN 0 AND 4 THEN '{soon}' {burst} END) AS why \
                   FROM v JOIN touches t ON t.message_id = v.message_id) AS w"
        ));
    s
}
