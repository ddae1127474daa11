//! Lead import: a spreadsheet file into the store, in batches, optionally enrolling the leads
//! into a sequence. Bad rows are reported with their row number and skipped; good rows always
//! land. Importing the same file twice changes nothing.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::catalog::Sequence;
use crate::config::{Config, parse_tz};
use crate::lead::{LeadRecord, RowError, SheetError, SheetReader, SheetRow};
use crate::routing::{RouteSummary, route_arrivals};
use crate::store::{
    EnrollInto, EnrollOutcome, EnrollRequest, LeadId, Store, StoreError, UpsertOutcome,
};

/// How to import.
pub struct ImportOptions<'a> {
    /// Enroll imported leads into this sequence.
    pub sequence: Option<&'a Sequence>,
    /// Set this owner (a mailbox name) on every lead.
    pub owner: Option<&'a str>,
    /// Read and check everything, report what would happen, change nothing.
    pub dry_run: bool,
    /// Encoding of a legacy (non-UTF-8) export.
    pub encoding: Option<&'static encoding_rs::Encoding>,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    /// Data rows read (blank rows not counted).
    pub rows: u64,
    /// Leads created.
    pub new: u64,
    /// Leads whose data changed.
    pub updated: u64,
    /// Leads already stored with the same data.
    pub unchanged: u64,
    /// Rows not imported (bad data, or a forgotten person).
    pub skipped: u64,
    /// Of those, rows with bad data (the file has problems to fix).
    pub invalid: u64,
    /// Leads enrolled into the sequence.
    pub enrolled: u64,
    /// Leads already in the sequence.
    pub already_enrolled: u64,
    /// Leads not enrolled because they are on the suppression list.
    pub suppressed: u64,
    /// Row problems, in file order.
    pub errors: Vec<RowProblem>,
    /// Owner values that name no mailbox in config.toml (kept as written).
    pub unknown_owners: BTreeSet<String>,
    /// What the routing rules did with leads that came without an owner (left out of the
    /// JSON when there are no rules).
    #[serde(skip_serializing_if = "RouteSummary::is_empty")]
    pub routing: RouteSummary,
    /// Whether nothing was written.
    pub dry_run: bool,
}

/// One skipped row.
#[derive(Debug, Clone, Serialize)]
pub struct RowProblem {
    /// The file.
    pub file: String,
    /// Row as a spreadsheet shows it (the header is row 1).
    pub row: u64,
    /// Why.
    pub reason: String,
}

impl From<RowError> for RowProblem {
    fn from(e: RowError) -> Self {
        RowProblem {
            file: e.path,
            row: e.row,
            reason: e.reason,
        }
    }
}

/// Why an import could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is unusable (cannot open, no email column…).
    #[error(transparent)]
    Sheet(#[from] SheetError),
    /// The store failed; rows of batches before the failure are stored.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Leads per store transaction. Each commit writes every page it changed to SQLite's WAL, and
/// new leads land all over the email and domain indexes, so small transactions rewrite the same
/// index pages again and again: at 2,000 leads a 1,000,000-lead import wrote 6 GB for a
/// 290 MB store. 20,000 leads (a few MiB of records) write a quarter of that.
const BATCH: usize = 20_000;

/// Imports `path`. `progress` is called with the bytes read so far after each batch.
pub async fn import_file(
    store: &Store,
    config: &Config,
    path: &Path,
    opts: &ImportOptions<'_>,
    now: DateTime<Utc>,
    progress: &dyn Fn(u64),
) -> Result<ImportSummary, ImportError> {
    let reader = SheetReader::open(path, opts.encoding)?;
    import_sheet(store, config, reader, path, opts, now, progress).await
}

/// Imports the rows of `reader`, opened on `path` (with `opts.encoding`). Callers that must
/// not touch the store for an unusable file open the reader first.
pub async fn import_sheet(
    store: &Store,
    config: &Config,
    reader: SheetReader,
    path: &Path,
    opts: &ImportOptions<'_>,
    now: DateTime<Utc>,
    progress: &dyn Fn(u64),
) -> Result<ImportSummary, ImportError> {
    let source = format!(
        "csv:{}",
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned()
        )
    );
    let mut summary = ImportSummary {
        dry_run: opts.dry_run,
        ..Default::default()
    };
    // The rows are read and checked on a thread of their own, a batch ahead of the store:
    // reading the next batch overlaps writing this one.
    let (reading, mut chunks) = spawn_reader(reader, path)?;
    let mut batch: Vec<(u64, LeadRecord)> = Vec::with_capacity(BATCH);
    let mut bytes = 0;
    let mut last_bytes = 0;
    let mut finished = false;
    while let Some(chunk) = chunks.recv().await {
        for item in chunk.items {
            match item {
                Ok(row) => {
                    summary.rows += 1;
                    let mut lead = row.lead;
                    if let Some(owner) = opts.owner {
                        lead.owner = Some(owner.to_string());
                    } else if let Some(owner) = lead.owner.take() {
                        lead.owner =
                            Some(resolve_owner(config, &owner, &mut summary.unknown_owners));
                    }
                    batch.push((row.row, lead));
                }
                Err(e) => {
                    summary.rows += 1;
                    summary.skipped += 1;
                    summary.invalid += 1;
                    summary.errors.push(e.into());
                }
            }
        }
        last_bytes = chunk.bytes;
        // A batch is full exactly at the end of a chunk.
        if batch.len() >= BATCH || (chunk.last && !batch.is_empty()) {
            bytes = chunk.bytes;
            write_batch(
                store,
                config,
                &source,
                opts,
                &mut batch,
                &mut summary,
                now.timestamp(),
            )
            .await?;
            progress(bytes);
        }
        if chunk.last {
            finished = true;
            break;
        }
    }
    if !finished {
        // The reading thread stopped without its last chunk: it panicked; so does the import.
        if let Err(panic) = reading.join() {
            std::panic::resume_unwind(panic);
        }
    }
    progress(bytes.max(last_bytes));
    Ok(summary)
}

/// Rows read from the sheet, in file order. A chunk ends after at most [`CHUNK_ROWS`] rows,
/// after the row that fills a batch, or at the end of the file.
struct Chunk {
    items: Vec<Result<SheetRow, RowError>>,
    /// The reader's bytes read just after the chunk's last row.
    bytes: u64,
    /// Whether the file ends with this chunk.
    last: bool,
}

/// Rows per [`Chunk`]: small, so that the rows read ahead stay about one batch.
const CHUNK_ROWS: usize = 1_000;

/// Starts a thread that reads `reader` and hands its rows over in [`Chunk`]s, about one batch
/// ahead of the store. It stops at the end of the file, or as soon as the receiver is gone.
fn spawn_reader(
    mut reader: SheetReader,
    path: &Path,
) -> Result<(std::thread::JoinHandle<()>, mpsc::Receiver<Chunk>), ImportError> {
    let (tx, rx) = mpsc::channel(BATCH / CHUNK_ROWS);
    let handle = std::thread::Builder::new()
        .name("drumbeat-import-read".into())
        .spawn(move || {
            let mut items = Vec::with_capacity(CHUNK_ROWS);
            let mut leads = 0;
            loop {
                let item = reader.next();
                let last = item.is_none();
                let mut fills_batch = false;
                if let Some(item) = item {
                    if item.is_ok() {
                        leads += 1;
                        fills_batch = leads % BATCH == 0;
                    }
                    items.push(item);
                }
                if items.len() >= CHUNK_ROWS || fills_batch || last {
                    let chunk = Chunk {
                        items: std::mem::replace(&mut items, Vec::with_capacity(CHUNK_ROWS)),
                        bytes: reader.bytes_read(),
                        last,
                    };
                    if tx.blocking_send(chunk).is_err() || last {
                        break;
                    }
                }
            }
        })
        .map_err(|source| SheetError::Read {
            path: path.display().to_string(),
            source,
        })?;
    Ok((handle, rx))
}

/// A CSV owner value (a mailbox name, From address or display name) as a mailbox name; a
/// value that names no mailbox is kept as written and noted in `unknown`.
pub fn resolve_owner(config: &Config, owner: &str, unknown: &mut BTreeSet<String>) -> String {
    let found = config.mailboxes.iter().find(|m| {
        m.name.eq_ignore_ascii_case(owner)
            || m.from.as_str().eq_ignore_ascii_case(owner)
            || m.display_name
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(owner))
    });
    match found {
        Some(m) => m.name.clone(),
        None => {
            if unknown.len() < 100 {
                unknown.insert(owner.to_string());
            }
            owner.to_string()
        }
    }
}

async fn write_batch(
    store: &Store,
    config: &Config,
    source: &str,
    opts: &ImportOptions<'_>,
    batch: &mut Vec<(u64, LeadRecord)>,
    summary: &mut ImportSummary,
    now: i64,
) -> Result<(), StoreError> {
    // A forgotten person is not stored again.
    let emails: Vec<&crate::lead::Email> = batch.iter().map(|(_, l)| &l.email).collect();
    let forgotten = store.forgotten_among(&emails).await?;
    let mut records = Vec::with_capacity(batch.len());
    for (row, lead) in batch.drain(..) {
        if forgotten.contains(&lead.email) {
            summary.skipped += 1;
            summary.errors.push(RowProblem {
                file: source.trim_start_matches("csv:").to_string(),
                row,
                reason: format!("{} asked to be forgotten; not imported", lead.email),
            });
        } else {
            records.push(lead);
        }
    }
    if records.is_empty() {
        return Ok(());
    }
    if opts.owner.is_none() {
        let routed = route_arrivals(
            store,
            config,
            &mut records,
            opts.sequence.is_some(),
            opts.dry_run,
            now,
        )
        .await?;
        summary.routing.add(routed);
    }
    // Upsert and enroll in one transaction, so that a dry run can enroll leads it only
    // pretends to create.
    let (outcomes, enrolled) = match opts.sequence {
        None => (
            store
                .upsert_leads(&records, source, now, opts.dry_run)
                .await?,
            Vec::new(),
        ),
        Some(seq) => {
            let due: Vec<i64> = records
                .iter()
                .map(|lead| first_due_at(config, seq, lead, now))
                .collect();
            let done = store
                .upsert_and_enroll(
                    &records,
                    source,
                    EnrollInto {
                        sequence: &seq.id,
                        first_step: &seq.steps[0].id,
                        due_at: &due,
                    },
                    now,
                    opts.dry_run,
                )
                .await?;
            (done.upserted, done.enrolled)
        }
    };
    for (_, o) in &outcomes {
        match o {
            UpsertOutcome::New => summary.new += 1,
            UpsertOutcome::Updated => summary.updated += 1,
            UpsertOutcome::Unchanged => summary.unchanged += 1,
        }
    }
    for o in enrolled {
        match o {
            EnrollOutcome::Enrolled(_) => summary.enrolled += 1,
            EnrollOutcome::AlreadyEnrolled => summary.already_enrolled += 1,
            EnrollOutcome::Suppressed => summary.suppressed += 1,
        }
    }
    Ok(())
}

/// The enrollment of a lead into `seq` now: its first step is due at the first moment the
/// step's wait has passed and the send window is open in the lead's time zone.
pub fn enroll_request<'a>(
    config: &Config,
    seq: &'a Sequence,
    lead: &'a LeadRecord,
    id: LeadId,
    now: i64,
) -> EnrollRequest<'a> {
    let first = &seq.steps[0];
    let due = first_due_at(config, seq, lead, now);
    EnrollRequest {
        lead: id,
        email: &lead.email,
        first_step: &first.id,
        due_at: due,
    }
}

/// When the first step of `seq` would go out for `lead` if enrolled at `now`.
pub fn first_due_at(config: &Config, seq: &Sequence, lead: &LeadRecord, now: i64) -> i64 {
    let tz = seq.window.zone_for(
        lead.timezone.as_deref().and_then(|t| parse_tz(t).ok()),
        config.timezone,
    );
    let now_dt = DateTime::<Utc>::from_timestamp(now, 0).unwrap_or_default();
    // A window that can never open leaves the step due "now"; the scheduler re-checks the
    // window before sending, and validate refuses such windows.
    let first = &seq.steps[0];
    let seed = crate::plan::jitter_seed(lead.email.as_str(), &seq.id, &first.id);
    crate::plan::due_after(
        &seq.window,
        tz,
        now_dt,
        first.wait,
        seed,
        config.sending.jitter,
    )
    .map_or(now, |d| d.timestamp())
}
