//! Lead import: a spreadsheet file into the store, in batches, optionally enrolling the leads
//! into a sequence. Bad rows are reported with their row number and skipped; good rows always
//! land. Importing the same file twice changes nothing.
//!
//! Each batch goes through the lead intake ([`intake`]) that the API's `POST /api/leads`
//! shares: the forgotten check, routing, then upsert and enroll.

pub mod intake;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::catalog::Sequence;
use crate::config::Config;
use crate::lead::{ColumnMap, Email, LeadFile, LeadRecord, RowError, SheetError, SheetRow};
use crate::routing::RouteSummary;
use crate::store::{Admission, EnrollOutcome, Store, StoreError, UpsertOutcome};

use intake::{Arrival, Intake, TRIES, assign_owner};
pub use intake::{enroll_request, first_due_at, resolve_owner};

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
    /// The rules enrolling follows, and whether `--force` overrides them.
    pub admission: Admission<'a>,
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
    /// Leads a rule of `[enrollment]` kept out, by rule (`already-active`,
    /// `recently-contacted`, `account-cap`); left out of the JSON when none.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub refused: BTreeMap<&'static str, u64>,
    /// Those rows, in file order (left out of the JSON when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refusals: Vec<RefusedRow>,
    /// Leads enrolled over a rule with `--force` (counted in `enrolled` too; left out of the
    /// JSON when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub forced: u64,
    /// Row problems, in file order.
    pub errors: Vec<RowProblem>,
    /// Owner values that name no mailbox in config.toml (kept as written).
    pub unknown_owners: BTreeSet<String>,
    /// What the routing rules did with leads that came without an owner (left out of the
    /// JSON when there are no rules).
    #[serde(skip_serializing_if = "RouteSummary::is_empty")]
    pub routing: RouteSummary,
    /// Rows imported as suppressed because a column says the person opted out, by that
    /// column (left out of the JSON when none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub opted_out: BTreeMap<String, u64>,
    /// Addresses on more than one row of the file, with those rows (left out of the JSON
    /// when none). The later rows update the lead the first one made.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<DuplicateRows>,
    /// Whether nothing was written.
    pub dry_run: bool,
}

/// An address found on several rows of one file.
#[derive(Debug, Clone, Serialize)]
pub struct DuplicateRows {
    /// The address.
    pub email: String,
    /// Its rows as a spreadsheet shows them, in file order.
    pub rows: Vec<u64>,
}

/// The rows seen so far, to find an address repeated in the file. Addresses are kept as
/// 64-bit hashes, so a million-row file costs a few tens of MiB.
#[derive(Default)]
struct SeenRows {
    first: std::collections::HashMap<u64, u64>,
    repeated: std::collections::HashMap<u64, usize>,
}

impl SeenRows {
    fn note(&mut self, email: &str, row: u64, duplicates: &mut Vec<DuplicateRows>) {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(email);
        let Some(&first) = self.first.get(&hash) else {
            self.first.insert(hash, row);
            return;
        };
        match self.repeated.get(&hash) {
            Some(&i) => duplicates[i].rows.push(row),
            None => {
                self.repeated.insert(hash, duplicates.len());
                duplicates.push(DuplicateRows {
                    email: email.to_owned(),
                    rows: vec![first, row],
                });
            }
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A row whose lead a rule kept out of the sequence.
#[derive(Debug, Clone, Serialize)]
pub struct RefusedRow {
    /// The file.
    pub file: String,
    /// Row as a spreadsheet shows it.
    pub row: u64,
    /// The lead.
    pub email: String,
    /// Which rule (`result`) and its detail (`active_in`, `possible_from`, `account`, `cap`).
    #[serde(flatten)]
    pub refusal: serde_json::Value,
    /// The same for a person.
    pub reason: String,
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
    let reader = LeadFile::open(path, opts.encoding, &ColumnMap::default())?;
    import_sheet(store, config, reader, path, opts, now, progress).await
}

/// Imports the rows of `reader`, opened on `path` (with `opts.encoding`). Callers that must
/// not touch the store for an unusable file open the reader first.
pub async fn import_sheet(
    store: &Store,
    config: &Config,
    reader: LeadFile,
    path: &Path,
    opts: &ImportOptions<'_>,
    now: DateTime<Utc>,
    progress: &dyn Fn(u64),
) -> Result<ImportSummary, ImportError> {
    let file = file_name(path);
    let source = source_of(&reader, &file);
    let intake = Intake {
        store,
        config,
        source: &source,
        sequence: opts.sequence,
        admission: opts.admission,
        dry_run: opts.dry_run,
        tries: TRIES,
        now: now.timestamp(),
    };
    let mut summary = ImportSummary {
        dry_run: opts.dry_run,
        ..Default::default()
    };
    // The rows are read and checked on a thread of their own, a batch ahead of the store:
    // reading the next batch overlaps writing this one.
    let (reading, mut chunks) = spawn_reader(reader, path)?;
    let mut batch: Vec<(u64, LeadRecord)> = Vec::with_capacity(BATCH);
    let mut seen = SeenRows::default();
    let mut opted_out: Vec<(Email, String)> = Vec::new();
    let mut bytes = 0;
    let mut last_bytes = 0;
    let mut finished = false;
    while let Some(chunk) = chunks.recv().await {
        for item in chunk.items {
            match item {
                Ok(row) => {
                    summary.rows += 1;
                    seen.note(row.lead.email.as_str(), row.row, &mut summary.duplicates);
                    if let Some(column) = row.opted_out {
                        opted_out.push((row.lead.email.clone(), column));
                    }
                    let mut lead = row.lead;
                    assign_owner(config, &mut lead, opts.owner, &mut summary.unknown_owners);
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
            suppress_opted_out(&intake, &file, &mut opted_out, &mut summary).await?;
            write_batch(&intake, &file, &mut batch, &mut summary).await?;
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
/// The file's name, as row messages give it.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Where the leads came from, as their `source` says: `csv:FILE` or `vcard:FILE`.
fn source_of(reader: &LeadFile, file: &str) -> String {
    let kind = match reader {
        LeadFile::Sheet(_) => "csv",
        LeadFile::Cards(_) => "vcard",
    };
    format!("{kind}:{file}")
}

fn spawn_reader(
    mut reader: LeadFile,
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

/// Suppresses the rows whose opt-out column says so before their batch is taken in, and
/// counts them by column.
async fn suppress_opted_out(
    intake: &Intake<'_>,
    file: &str,
    rows: &mut Vec<(Email, String)>,
    summary: &mut ImportSummary,
) -> Result<(), StoreError> {
    for column in intake
        .suppress_opted_out(std::mem::take(rows), ("column", file))
        .await?
    {
        *summary.opted_out.entry(column).or_default() += 1;
    }
    Ok(())
}

/// Takes in one batch through the lead intake and counts what it did into `summary`: a
/// forgotten person is a skipped row of `file`.
async fn write_batch(
    intake: &Intake<'_>,
    file: &str,
    batch: &mut Vec<(u64, LeadRecord)>,
    summary: &mut ImportSummary,
) -> Result<(), StoreError> {
    let (rows, leads): (Vec<u64>, Vec<LeadRecord>) = batch.drain(..).unzip();
    // A refused row names its lead: keep the addresses when a rule could refuse.
    let emails: Vec<String> = if intake.sequence.is_some() && intake.admission.rules.any() {
        leads.iter().map(|l| l.email.to_string()).collect()
    } else {
        Vec::new()
    };
    let taken = intake.take(leads).await?;
    summary.routing.add(taken.routing);
    for (i, (row, arrival)) in rows.into_iter().zip(taken.leads).enumerate() {
        let stored = match arrival {
            Arrival::Forgotten(email) => {
                summary.skipped += 1;
                summary.errors.push(RowProblem {
                    file: file.to_string(),
                    row,
                    reason: format!("{email} asked to be forgotten; not imported"),
                });
                continue;
            }
            Arrival::Stored(stored) => stored,
        };
        match stored.lead {
            UpsertOutcome::New => summary.new += 1,
            UpsertOutcome::Updated => summary.updated += 1,
            UpsertOutcome::Unchanged => summary.unchanged += 1,
        }
        match stored.enrollment {
            None => {}
            Some((EnrollOutcome::Enrolled(_), _)) => summary.enrolled += 1,
            Some((EnrollOutcome::Forced(..), _)) => {
                summary.enrolled += 1;
                summary.forced += 1;
            }
            Some((EnrollOutcome::AlreadyEnrolled, _)) => summary.already_enrolled += 1,
            Some((EnrollOutcome::Suppressed, _)) => summary.suppressed += 1,
            Some((EnrollOutcome::Refused(why), _)) => {
                *summary.refused.entry(why.name()).or_default() += 1;
                summary.refusals.push(RefusedRow {
                    file: file.to_string(),
                    row,
                    email: emails.get(i).cloned().unwrap_or_default(),
                    refusal: why.to_json(),
                    reason: why.to_string(),
                });
            }
        }
    }
    Ok(())
}
