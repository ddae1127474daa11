//! The CRM worker: one task per daemon. Each step feeds the queue from the events table (a job
//! is committed before any call), logs the due jobs of each CRM oldest first, and reads the
//! stages of the leads still in a sequence; the loop only maps what a step returns to a wait.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use super::{Api, Client, Direction, Entry, Failure, hubspot::Hubspot, pipedrive::Pipedrive};
use crate::config::{Config, CrmSettings};
use crate::context::Context;
use crate::context::poll::Pacer;
use crate::store::{CrmAttempt, CrmJob, FeedEvent, LeadId, NewCrmJob, Store, StoreError};

/// Events read per feeding step.
const FEED_BATCH: i64 = 500;
/// Jobs looked at per CRM and step.
const SYNC_BATCH: i64 = 32;
/// Records whose stage is read per CRM and step.
const POLL_BATCH: i64 = 50;
/// How long a job is leased for one attempt.
const LEASE: i64 = 120;
/// The first wait after a failure; each further failure doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: i64 = 60;
/// The longest wait between two attempts.
const MAX_BACKOFF: i64 = 3600;
/// How often the loop looks for work when idle.
const POLL: Duration = Duration::from_secs(2);
/// How long a hole in event ids is waited for (see the webhooks' dispatcher).
const GAP_GRACE: Duration = Duration::from_secs(10);

/// The wait before the next attempt of a job that failed `attempts` times before this
/// failure: 1, 2, 4 … minutes, at most an hour; the same every time (the tests drive the clock).
pub fn backoff(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    (FIRST_BACKOFF << doublings).min(MAX_BACKOFF)
}

/// What one flush did (`run --once`).
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct SyncReport {
    /// Jobs queued.
    pub queued: u64,
    /// Emails logged in a CRM.
    pub logged: u64,
    /// Attempts that failed and will be retried.
    pub retrying: u64,
    /// Jobs given up on.
    pub failed: u64,
    /// Leads stopped because of their CRM stage.
    pub stopped: u64,
}

impl SyncReport {
    fn add(&mut self, o: SyncReport) {
        self.queued += o.queued;
        self.logged += o.logged;
        self.retrying += o.retrying;
        self.failed += o.failed;
        self.stopped += o.stopped;
    }

    fn busy(&self) -> bool {
        self.queued + self.logged + self.failed + self.stopped > 0
    }
}

/// One configured CRM.
struct Target {
    name: &'static str,
    settings: CrmSettings,
    /// The client, or why there is none (a token that cannot be read: tried again each step).
    client: Result<Client, String>,
    gap: Option<(i64, Instant)>,
}

/// Whether any CRM is configured.
pub fn is_configured(config: &Config) -> bool {
    config.crm.hubspot.is_some() || config.crm.pipedrive.is_some()
}

/// The configured CRMs by name.
fn configured(config: &Config) -> Vec<(&'static str, &CrmSettings)> {
    [
        ("hubspot", config.crm.hubspot.as_ref()),
        ("pipedrive", config.crm.pipedrive.as_ref()),
    ]
    .into_iter()
    .filter_map(|(n, s)| Some((n, s?)))
    .collect()
}

/// Gives every configured CRM a read position, at the newest event for a CRM seen for the
/// first time. Called at start, before anything records events.
pub async fn init_cursors(store: &Store, config: &Config, now: i64) -> Result<(), StoreError> {
    for (name, _) in configured(config) {
        store.crm_cursor(name, now).await?;
    }
    Ok(())
}

/// The client of a CRM, with its token read now.
fn client(name: &str, s: &CrmSettings, dir: &std::path::Path) -> Result<Client, String> {
    let api = Api::new(s, dir)?;
    Ok(match name {
        "hubspot" => Client::Hubspot(Hubspot::new(api, !s.stop_deal_stages.is_empty())),
        _ => Client::Pipedrive(Pipedrive::new(api)),
    })
}

/// The job an event makes: a sent email or a reply of a lead that still has an address.
fn job_of(
    crm: &str,
    e: &FeedEvent,
    title: Option<String>,
    mailbox: Option<String>,
) -> Option<NewCrmJob> {
    let direction = match e.kind.as_str() {
        "sent" => Direction::Out,
        "replied" => Direction::In,
        _ => return None,
    };
    let (lead_id, email) = (e.lead_id?, e.email.clone()?);
    let place = [e.sequence_id.as_deref(), e.step_id.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" / ");
    let text = match direction {
        Direction::Out => format!("Sent by drumbeat ({place})"),
        Direction::In => e.data["snippet"]
            .as_str()
            .map_or_else(|| format!("Reply to drumbeat ({place})"), str::to_string),
    };
    let subject = match direction {
        Direction::In => e.subject.as_ref().map(|s| format!("Re: {s}")),
        Direction::Out => e.subject.clone(),
    };
    let entry = Entry {
        email,
        first_name: e.first_name.clone(),
        last_name: e.last_name.clone(),
        company: e.company.clone(),
        title,
        direction,
        at: e.at,
        subject,
        text,
        mailbox,
    };
    Some(NewCrmJob {
        crm: crm.to_string(),
        kind: match direction {
            Direction::Out => "email-out",
            Direction::In => "email-in",
        }
        .into(),
        lead_id,
        event_id: e.id,
        payload: serde_json::to_string(&entry).unwrap_or_default(),
    })
}

/// Feeds, logs and polls every configured CRM.
pub struct Syncer {
    targets: Vec<Target>,
    config_dir: std::path::PathBuf,
    /// The sending mailboxes' addresses, by name (the `from` of what we sent).
    from: HashMap<String, String>,
}

impl Syncer {
    /// A syncer for `config`'s CRMs.
    pub fn new(config: &Config) -> Syncer {
        let targets = configured(config)
            .into_iter()
            .map(|(name, s)| Target {
                name,
                settings: s.clone(),
                client: client(name, s, &config.dir),
                gap: None,
            })
            .collect();
        Syncer {
            targets,
            config_dir: config.dir.clone(),
            from: config
                .mailboxes
                .iter()
                .map(|m| (m.name.clone(), m.from.to_string()))
                .collect(),
        }
    }
}

impl Syncer {
    /// Copies new events into each CRM's queue and moves its read position, in one
    /// transaction per CRM. With `wait_for_gaps`, stops before a hole in event ids younger
    /// than [`GAP_GRACE`] (on PostgreSQL a transaction that took an id may commit later).
    pub async fn feed(
        &mut self,
        store: &Store,
        now: i64,
        wait_for_gaps: bool,
    ) -> Result<u64, StoreError> {
        let mut added = 0;
        for i in 0..self.targets.len() {
            let name = self.targets[i].name;
            let from = store.crm_cursor(name, now).await?;
            let events = store.events_after(from, FEED_BATCH).await?;
            let upto = self.readable(i, from, &events, wait_for_gaps);
            if upto == from {
                continue;
            }
            let read: Vec<&FeedEvent> = events.iter().take_while(|e| e.id <= upto).collect();
            let ids: Vec<LeadId> = read.iter().filter_map(|e| e.lead_id).map(LeadId).collect();
            let leads = store.leads_by_ids(&ids).await?;
            let jobs: Vec<NewCrmJob> = read
                .iter()
                .filter_map(|e| {
                    let title = e
                        .lead_id
                        .and_then(|id| leads.get(&LeadId(id)))
                        .and_then(|l| l.record.title.clone());
                    let from = e.mailbox.as_ref().and_then(|m| self.from.get(m)).cloned();
                    job_of(name, e, title, from)
                })
                .collect();
            added += store.enqueue_crm_jobs(name, &jobs, upto, now).await?;
        }
        Ok(added)
    }

    /// How far the events read after `from` may be taken: up to the first young hole.
    fn readable(&mut self, i: usize, from: i64, events: &[FeedEvent], wait_for_gaps: bool) -> i64 {
        let t = &mut self.targets[i];
        let mut upto = from;
        for e in events {
            if e.id != upto + 1 && wait_for_gaps {
                match t.gap {
                    Some((after, since)) if after == upto && since.elapsed() >= GAP_GRACE => {}
                    Some((after, _)) if after == upto => break,
                    _ => {
                        t.gap = Some((upto, Instant::now()));
                        break;
                    }
                }
            }
            upto = e.id;
        }
        if t.gap.is_some_and(|(after, _)| after < upto) {
            t.gap = None;
        }
        upto
    }

    /// Logs the due jobs of every CRM, oldest first; a CRM's failed attempt holds the jobs
    /// behind it until its next attempt, so the CRM's timeline keeps the order.
    pub async fn sync_due(
        &mut self,
        store: &Store,
        instance: &str,
        now: i64,
    ) -> Result<SyncReport, StoreError> {
        let mut report = SyncReport::default();
        for i in 0..self.targets.len() {
            self.refresh_client(i);
            let t = &self.targets[i];
            'jobs: loop {
                let jobs = store.crm_pending(t.name, SYNC_BATCH).await?;
                if jobs.is_empty() {
                    break;
                }
                for job in &jobs {
                    if job.next_attempt_at > now
                        || !store
                            .lease_crm_job(job.id, instance, now, now + LEASE)
                            .await?
                    {
                        break 'jobs;
                    }
                    let attempt = attempt(t, store, job, now).await?;
                    match &attempt {
                        CrmAttempt::Done(_) => report.logged += 1,
                        CrmAttempt::Retry { error, at } => {
                            report.retrying += 1;
                            tracing::warn!(
                                crm = t.name,
                                job = job.id,
                                attempt = job.attempts + 1,
                                "CRM sync failed: {error}; next attempt in {}s",
                                at - now
                            );
                        }
                        CrmAttempt::Failed(error) => {
                            report.failed += 1;
                            tracing::warn!(
                                crm = t.name,
                                job = job.id,
                                "CRM sync failed for good: {error}"
                            );
                        }
                    }
                    let recorded = store
                        .record_crm_attempt(job.id, instance, &attempt, now)
                        .await?;
                    if !recorded || matches!(attempt, CrmAttempt::Retry { .. }) {
                        break 'jobs;
                    }
                }
            }
        }
        Ok(report)
    }

    /// A client whose token could not be read is made again (the file may be there now).
    fn refresh_client(&mut self, i: usize) {
        let t = &mut self.targets[i];
        if t.client.is_err() {
            t.client = client(t.name, &t.settings, &self.config_dir);
        }
    }

    /// Reads the stage of each lead still in a sequence whose record was not read for
    /// `poll_every`; a stage config.toml names stops the lead (the policy decides what that
    /// does). A CRM that fails is asked again at the next step.
    pub async fn poll_stages(&mut self, store: &Store, now: i64) -> Result<u64, StoreError> {
        let mut stopped = 0;
        for t in &self.targets {
            let Ok(client) = &t.client else { continue };
            if !t.settings.polls() {
                continue;
            }
            let due = store
                .crm_records_due(t.name, now - t.settings.poll_every, POLL_BATCH)
                .await?;
            for r in due {
                let stages = match client.stages(&r.remote_id).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(crm = t.name, lead = r.lead_id, "CRM stage not read: {e}");
                        break;
                    }
                };
                let hit = crate::policy::crm_stop_stage(
                    stages.own.as_deref(),
                    &stages.deals,
                    &t.settings.stop_stages,
                    &t.settings.stop_deal_stages,
                );
                let shown = hit
                    .or(stages.own.as_deref())
                    .or(stages.deals.first().map(String::as_str));
                store.crm_checked(t.name, r.lead_id, shown, now).await?;
                if let Some(stage) = hit {
                    let n = store
                        .record_crm_stage(LeadId(r.lead_id), t.name, stage, now)
                        .await?;
                    if n > 0 {
                        tracing::info!(
                            crm = t.name,
                            lead = r.lead_id,
                            stage,
                            "the CRM stage stops the lead"
                        );
                        stopped += 1;
                    }
                }
            }
        }
        Ok(stopped)
    }

    /// One step: feed, log what is due, read the stages due.
    pub async fn step(
        &mut self,
        store: &Store,
        instance: &str,
        now: i64,
        wait_for_gaps: bool,
    ) -> Result<SyncReport, StoreError> {
        let mut report = SyncReport::default();
        loop {
            let queued = self.feed(store, now, wait_for_gaps).await?;
            report.queued += queued;
            if queued == 0 || wait_for_gaps {
                break;
            }
        }
        report.add(self.sync_due(store, instance, now).await?);
        report.stopped += self.poll_stages(store, now).await?;
        Ok(report)
    }

    /// `run --once`: everything queued, logged and read that is due now.
    pub async fn flush(&mut self, daemon: &Context) -> Result<SyncReport, StoreError> {
        let now = daemon.now().timestamp();
        self.step(daemon.store(), daemon.instance(), now, false)
            .await
    }
}

/// One attempt of one job: the lead's record (remembered once found or made), then the email
/// logged on it.
async fn attempt(
    t: &Target,
    store: &Store,
    job: &CrmJob,
    now: i64,
) -> Result<CrmAttempt, StoreError> {
    let entry: Entry = match serde_json::from_str(&job.payload) {
        Ok(e) => e,
        Err(e) => return Ok(CrmAttempt::Failed(format!("bad job payload: {e}"))),
    };
    let failed = |f: Failure| match f {
        Failure::Retry(error) => CrmAttempt::Retry {
            error,
            at: now + backoff(job.attempts),
        },
        Failure::Permanent(error) => CrmAttempt::Failed(error),
    };
    let client = match &t.client {
        Ok(c) => c,
        Err(e) => return Ok(failed(Failure::Retry(e.clone()))),
    };
    let remote = match store.crm_record(t.name, job.lead_id).await? {
        Some(r) => r,
        None => match client.find_or_create(&entry).await {
            Ok(r) => {
                store.save_crm_record(t.name, job.lead_id, &r, now).await?;
                r
            }
            Err(f) => return Ok(failed(f)),
        },
    };
    Ok(match client.log(&remote, &entry).await {
        Ok(id) => CrmAttempt::Done(id),
        Err(f) => failed(f),
    })
}

/// The CRM task of `drumbeat run`: feeds, logs and polls until `shutdown` turns true.
pub async fn run(daemon: Arc<Context>, mut shutdown: watch::Receiver<bool>) {
    if !is_configured(daemon.config()) {
        return;
    }
    let mut s = Syncer::new(daemon.config());
    for t in &s.targets {
        if let Err(e) = &t.client {
            tracing::warn!(crm = t.name, "{e}; the sync waits until it can be read");
        }
    }
    let mut pacer = Pacer::new("crm sync", POLL);
    tracing::info!(crms = s.targets.len(), "CRM sync started");
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = daemon.now().timestamp();
        let outcome = tokio::select! {
            o = s.step(daemon.store(), daemon.instance(), now, true) => o,
            _ = shutdown.changed() => break,
        };
        let wait = pacer.wait_after(outcome.map(|r| r.busy()));
        Pacer::pause(wait, &mut shutdown).await;
    }
    tracing::info!("CRM sync stopped");
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn backoff_doubles_from_a_minute_up_to_an_hour() {
        let waits: Vec<i64> = (0..9).map(backoff).collect();
        assert_eq!(waits, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(backoff(-1), 60);
        assert_eq!(backoff(1_000), 3600);
    }
}
