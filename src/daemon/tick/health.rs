//! Each tick, before anything is claimed: a mailbox struck lately (hard bounces, complaints,
//! refusals of the sender) is judged by the policy, and paused past its limits; a paused
//! mailbox's emails wait.

use chrono::{DateTime, Utc};

use crate::daemon::Daemon;
use crate::notify;
use crate::policy;
use crate::schedule::pacing::Pacer;
use crate::store::StoreError;

impl Daemon {
    /// Pauses what the policy says must pause (every tick, due work or not, so a pause is
    /// announced when the strike that causes it is recorded).
    pub(super) async fn judge_health(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let store = self.store();
        let limits = &self.config().health;
        let t = now.timestamp();
        for mailbox in store.struck_since(t - 86_400).await? {
            let figures = store
                .mailbox_figures(&mailbox, limits.bounce_window, limits.complaint_window, t)
                .await?;
            let Some(why) = policy::mailbox_health(figures, limits) else {
                continue;
            };
            let notice = self
                .config()
                .mailbox(&mailbox)
                .and_then(|m| notify::paused_notice(m, &why, now));
            if store
                .pause_mailbox(&mailbox, &why, notice.as_ref(), t)
                .await?
            {
                tracing::warn!(
                    mailbox,
                    "mailbox paused: {why}; its leads wait. Resume with `drumbeat mailbox resume {mailbox}`"
                );
            }
        }
        Ok(())
    }

    /// Pauses `mailbox` when its provider refused its OAuth2 refresh token (see
    /// `send::oauth::needs_auth`): its emails wait for `drumbeat auth`, instead of failing one
    /// retry after another.
    pub(super) async fn pause_if_signed_out(
        &self,
        mailbox: &str,
        t: i64,
    ) -> Result<(), StoreError> {
        let Some(refused) = crate::send::oauth::needs_auth(mailbox) else {
            return Ok(());
        };
        let why = policy::signed_out(&refused);
        let at = DateTime::from_timestamp(t, 0).unwrap_or_default();
        let notice = self
            .config()
            .mailbox(mailbox)
            .and_then(|m| notify::paused_notice(m, &why, at));
        if self
            .store()
            .pause_mailbox(mailbox, &why, notice.as_ref(), t)
            .await?
        {
            tracing::warn!(mailbox, "mailbox paused: {why}");
        }
        Ok(())
    }

    /// Holds every paused mailbox in `pacer`: its emails wait.
    pub(super) async fn hold_paused(&self, pacer: &mut Pacer) -> Result<(), StoreError> {
        for p in self.store().mailbox_pauses().await? {
            pacer.hold(&p.mailbox);
        }
        Ok(())
    }
}
