//! The webhook dispatcher: one task per daemon. Each step feeds the queue from the events
//! table (a delivery row is committed before any attempt) and posts the deliveries that are
//! due; the loop only maps what a step returns to a wait. Several daemons on one PostgreSQL
//! share the work: feeding is idempotent and deliveries are leased.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::watch;

use super::{SigningKey, payload, signing_key, webhook_id};
use crate::config::{Config, Webhook};
use crate::context::Context;
use crate::context::poll::Pacer;
use crate::store::{Attempt, Delivery, NewDelivery, Store, StoreError};

/// Events read per feeding step.
const FEED_BATCH: i64 = 500;
/// Deliveries leased per sending step.
const SEND_BATCH: i64 = 32;
/// Posts in flight at once.
const PARALLEL: usize = 8;
/// How often the loop looks for new events when nothing is due sooner.
const POLL: Duration = Duration::from_secs(1);
/// The longest a stopping daemon waits for posts in flight before it gives them back.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long a hole in event ids is waited for (on PostgreSQL a transaction that took an id
/// may commit after a later one); a hole older than this is a rolled-back id and is skipped.
const GAP_GRACE: Duration = Duration::from_secs(10);

/// What one flush did (`run --once`).
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct FlushReport {
    /// Deliveries queued.
    pub queued: u64,
    /// Deliveries the endpoints accepted.
    pub delivered: u64,
    /// Attempts that failed and will be retried.
    pub retrying: u64,
    /// Deliveries given up on.
    pub failed: u64,
}

/// Feeds and posts the deliveries of the configured endpoints.
pub struct Dispatcher {
    endpoints: Vec<Webhook>,
    /// The reps' notification webhooks: posted like the others, never fed from events.
    reps: Vec<Webhook>,
    retry: Vec<i64>,
    timeout: i64,
    client: reqwest::Client,
    config_dir: std::path::PathBuf,
    keys: HashMap<String, Result<SigningKey, String>>,
    gap: Option<(i64, Instant)>,
}

impl Dispatcher {
    /// A dispatcher for `config`'s endpoints. The HTTP client follows no redirects (a 3xx is a
    /// failed attempt: the URL should be updated) and gives up after `[webhooks] timeout`.
    pub fn new(config: &Config) -> Result<Dispatcher, String> {
        // rustls needs one process-wide crypto provider when more than one is compiled in.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let timeout = Duration::from_secs(config.webhook_settings.timeout.unsigned_abs());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("drumbeat/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("webhooks: cannot make an HTTP client: {e}"))?;
        Ok(Dispatcher {
            endpoints: config.webhooks.clone(),
            reps: crate::config::rep_endpoints(config),
            retry: config.webhook_settings.retry.clone(),
            timeout: config.webhook_settings.timeout,
            client,
            config_dir: config.dir.clone(),
            keys: HashMap::new(),
            gap: None,
        })
    }

    /// Copies new events into the queue: one delivery per endpoint that wants the event, and
    /// each endpoint's read position moved past what was read, in one transaction. With
    /// `wait_for_gaps`, stops before a hole in event ids younger than [`GAP_GRACE`].
    pub async fn feed(
        &mut self,
        store: &Store,
        now: i64,
        wait_for_gaps: bool,
    ) -> Result<u64, StoreError> {
        if self.endpoints.is_empty() {
            return Ok(0);
        }
        let names: Vec<&str> = self.endpoints.iter().map(|e| e.name.as_str()).collect();
        let cursors = store.webhook_cursors(&names, now).await?;
        let from = cursors.iter().copied().min().unwrap_or(0);
        let events = store.events_after(from, FEED_BATCH).await?;
        let mut upto = from;
        for e in &events {
            if e.id != upto + 1 {
                match self.gap {
                    Some((after, since)) if after == upto && since.elapsed() >= GAP_GRACE => {}
                    Some((after, _)) if after == upto && wait_for_gaps => break,
                    _ if wait_for_gaps => {
                        self.gap = Some((upto, Instant::now()));
                        break;
                    }
                    _ => {}
                }
            }
            upto = e.id;
        }
        if self.gap.is_some_and(|(after, _)| after < upto) {
            self.gap = None;
        }
        let mut deliveries = Vec::new();
        for e in events.iter().take_while(|e| e.id <= upto) {
            for (w, at) in self.endpoints.iter().zip(&cursors) {
                if e.id > *at && w.wants(&e.kind) {
                    deliveries.push(NewDelivery {
                        endpoint: w.name.clone(),
                        event_id: e.id,
                        kind: e.kind.clone(),
                        payload: payload(e, w.format),
                    });
                }
            }
        }
        let moved: Vec<(&str, i64)> = names
            .iter()
            .zip(&cursors)
            .filter(|(_, at)| **at < upto)
            .map(|(n, _)| (*n, upto))
            .collect();
        if moved.is_empty() {
            return Ok(0);
        }
        store.enqueue_webhooks(&deliveries, &moved, now).await
    }

    /// Posts up to one batch of due deliveries and records each outcome; returns what happened.
    pub async fn send_due(
        &mut self,
        store: &Store,
        instance: &str,
        now: i64,
    ) -> Result<FlushReport, StoreError> {
        let lease = 2 * self.timeout + 30;
        let due = store
            .lease_webhook_deliveries(instance, now, lease, SEND_BATCH)
            .await?;
        let mut report = FlushReport::default();
        if due.is_empty() {
            return Ok(report);
        }
        for d in &due {
            if let Some(w) = self.endpoint(&d.endpoint)
                && let Some(src) = &w.secret
                && !matches!(self.keys.get(&w.name), Some(Ok(_)))
            {
                // Read once; a secret that could not be read is tried again next time.
                let key = signing_key(src, &self.config_dir);
                if let Err(e) = &key {
                    tracing::warn!(endpoint = %w.name, "webhook secret: {e}");
                }
                self.keys.insert(w.name.clone(), key);
            }
        }
        let this = &*self;
        let outcomes: Vec<(i64, Attempt)> = futures_util::stream::iter(due)
            .map(|d| async move {
                let attempt = this.attempt(&d, now).await;
                (d.id, attempt)
            })
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        for (id, attempt) in outcomes {
            match &attempt {
                Attempt::Delivered { .. } => report.delivered += 1,
                Attempt::Retry { .. } => report.retrying += 1,
                Attempt::Failed { .. } => report.failed += 1,
            }
            store
                .record_webhook_attempt(id, instance, &attempt, now)
                .await?;
        }
        Ok(report)
    }

    /// The endpoint named `name`: one of `[[webhook]]`, or a rep's notification webhook.
    fn endpoint(&self, name: &str) -> Option<&Webhook> {
        self.endpoints
            .iter()
            .chain(&self.reps)
            .find(|w| w.name == name)
    }

    /// One attempt of one delivery: what it came to, with the next attempt's time on failure.
    async fn attempt(&self, d: &Delivery, now: i64) -> Attempt {
        let Some(w) = self.endpoint(&d.endpoint) else {
            return Attempt::Failed {
                status: None,
                error: "the endpoint is no longer in config.toml".into(),
            };
        };
        let id = webhook_id(d.event_id);
        // The attempt's own time (the spec's replay protection), not the event's.
        let timestamp = Utc::now().timestamp();
        let url = match w.url.resolve(&self.config_dir) {
            Ok(url) => url,
            Err(e) => return self.failed(d, now, None, format!("url: {e}")),
        };
        let mut req = self
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string());
        match (w.secret.is_some(), self.keys.get(&w.name)) {
            (false, _) => {}
            (true, Some(Ok(key))) => {
                req = req.header("webhook-signature", key.sign(&id, timestamp, &d.payload));
            }
            (true, Some(Err(e))) => return self.failed(d, now, None, format!("secret: {e}")),
            (true, None) => return self.failed(d, now, None, "secret: not read".into()),
        }
        let result = req.body(d.payload.clone()).send().await;
        let (status, error) = match result {
            Ok(resp) => {
                let status = resp.status();
                // The body is neither read into logs nor stored: drop it.
                drop(resp);
                if status.is_success() {
                    tracing::info!(endpoint = %w.name, delivery = d.id, event = d.event_id, status = status.as_u16(), "webhook delivered");
                    return Attempt::Delivered {
                        status: status.as_u16(),
                    };
                }
                let why = if status.is_redirection() {
                    format!("HTTP {status}: redirects are not followed; update the url")
                } else {
                    format!("HTTP {status}")
                };
                if status == reqwest::StatusCode::GONE {
                    tracing::warn!(endpoint = %w.name, delivery = d.id, "webhook endpoint answered 410 Gone: not retried");
                    return Attempt::Failed {
                        status: Some(status.as_u16()),
                        error: format!("{why}: the endpoint wants no more deliveries"),
                    };
                }
                (Some(status.as_u16()), why)
            }
            Err(e) => (e.status().map(|s| s.as_u16()), describe(e)),
        };
        self.failed(d, now, status, error)
    }

    /// A failed attempt: retried after the next wait of the schedule (with up to 10 % of jitter,
    /// fixed per delivery), or failed for good when the schedule is used up.
    fn failed(&self, d: &Delivery, now: i64, status: Option<u16>, error: String) -> Attempt {
        let made = usize::try_from(d.attempts).unwrap_or(usize::MAX);
        match self.retry.get(made) {
            Some(wait) => {
                let jitter = (d.id.unsigned_abs().wrapping_mul(7919)
                    % (wait.unsigned_abs() / 10 + 1)) as i64;
                let at = now + wait + jitter;
                tracing::warn!(endpoint = %d.endpoint, delivery = d.id, attempt = made + 1, "webhook failed: {error}; next attempt in {}s", at - now);
                Attempt::Retry { status, error, at }
            }
            None => {
                tracing::warn!(endpoint = %d.endpoint, delivery = d.id, attempt = made + 1, "webhook failed for good: {error}");
                Attempt::Failed { status, error }
            }
        }
    }
}

/// A request error in words, without the URL (it may hold a token, an id or a query) and with
/// its causes, at most 300 characters: for outgoing webhooks and CRM calls alike.
pub(crate) fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_decode() {
        "bad JSON"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut parts = vec![kind.to_string()];
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !parts.iter().any(|p| p.contains(&s_text)) {
            parts.push(s_text);
        }
        source = s.source();
    }
    let text = parts.join(": ");
    text.chars().take(300).collect()
}

/// Whether anything is posted: `[[webhook]]` endpoints, or reps' notification webhooks.
pub fn has_endpoints(config: &Config) -> bool {
    !config.webhooks.is_empty() || !crate::config::rep_endpoints(config).is_empty()
}

/// Gives every endpoint a read position, at the newest event for an endpoint seen for the first
/// time. Called at daemon start, before anything records events, so an endpoint hears about
/// everything after the first start of a daemon that knows it.
pub async fn init_cursors(store: &Store, config: &Config, now: i64) -> Result<(), StoreError> {
    let names: Vec<&str> = config.webhooks.iter().map(|e| e.name.as_str()).collect();
    if !names.is_empty() {
        store.webhook_cursors(&names, now).await?;
    }
    Ok(())
}

impl Dispatcher {
    /// `run --once`: queues the new events, then posts what is due, batch after batch, until
    /// nothing is due now (a failed attempt waits for its next time, so this ends).
    pub async fn flush(&mut self, daemon: &Context) -> Result<FlushReport, StoreError> {
        let mut report = FlushReport::default();
        let now = daemon.now().timestamp();
        loop {
            let queued = self.feed(daemon.store(), now, false).await?;
            report.queued += queued;
            if queued == 0 {
                break;
            }
        }
        loop {
            let r = self
                .send_due(daemon.store(), daemon.instance(), now)
                .await?;
            report.delivered += r.delivered;
            report.retrying += r.retrying;
            report.failed += r.failed;
            if r.delivered + r.retrying + r.failed == 0 {
                break;
            }
        }
        Ok(report)
    }
}

/// The dispatcher task of `drumbeat run`: feeds and posts until `shutdown` turns true. A stop
/// lets in-flight posts finish for up to 5 seconds (or the webhook timeout, when shorter),
/// then gives their leases back
/// (they are posted again, with the same `webhook-id`, by the next daemon to run).
pub async fn run(daemon: Arc<Context>, mut shutdown: watch::Receiver<bool>) {
    if !has_endpoints(daemon.config()) {
        return;
    }
    let mut d = match Dispatcher::new(daemon.config()) {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("{e}; outgoing webhooks are not sent");
            return;
        }
    };
    let grace = STOP_GRACE.min(Duration::from_secs(d.timeout.unsigned_abs() + 1));
    let mut pacer = Pacer::new("webhooks", POLL);
    tracing::info!(
        endpoints = d.endpoints.len(),
        reps = d.reps.len(),
        "webhook dispatcher started"
    );
    loop {
        if *shutdown.borrow() {
            break;
        }
        let step = async {
            let now = daemon.now().timestamp();
            d.feed(daemon.store(), now, true).await?;
            d.send_due(daemon.store(), daemon.instance(), now).await
        };
        let mut step = std::pin::pin!(step);
        let outcome = tokio::select! {
            o = &mut step => o,
            _ = shutdown.changed() => {
                // Stopping: in-flight posts get a bounded moment, then are abandoned.
                match tokio::time::timeout(grace, &mut step).await {
                    Ok(o) => o,
                    Err(_) => {
                        tracing::warn!("stopping: abandoned in-flight webhook posts; they are retried with the same webhook-id");
                        break;
                    }
                }
            }
        };
        // Busy: go on at once. Idle: look again after POLL (new events, retries coming due).
        let wait = pacer.wait_after(outcome.map(|r| r.delivered + r.retrying + r.failed > 0));
        Pacer::pause(wait, &mut shutdown).await;
    }
    match daemon
        .store()
        .release_webhook_leases(daemon.instance())
        .await
    {
        Ok(n) if n > 0 => tracing::info!(released = n, "webhook leases given back"),
        Ok(_) => {}
        Err(e) => tracing::warn!("webhooks: cannot give leases back: {e}"),
    }
    tracing::info!("webhook dispatcher stopped");
}
