//! Reading leads from spreadsheet exports: CSV or tab-separated text in UTF-8, UTF-16 or a
//! legacy code page, as Excel, Google Sheets, LibreOffice and CRMs write them.
//!
//! [`SheetReader`] streams: it holds one record at a time, so memory stays flat whatever the
//! file size. Whole-file problems (cannot read, no email column) are a [`SheetError`] before
//! the first row; a bad row is a [`RowError`] with the row number a spreadsheet shows, and the
//! rows after it still import.

mod columns;
mod header;
mod input;
mod mapping;
mod row;
mod start;
#[cfg(test)]
mod tests;
mod timezone;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs::Encoding;
use serde::Serialize;

use super::email::{self, Email};
use header::{Header, HeaderError, column_letter};
use input::{Input, Next, Records, TooLarge, UnclosedQuote};
pub use mapping::{ColumnMap, MappingError};
use row::lead_from_columns;

/// How many distinct unknown time zones keep their did-you-mean answer cached.
const ZONE_CACHE_LIMIT: usize = 1024;
/// The advice for text that is not UTF-8: Excel's legacy CSV is the usual cause.
const ENCODING_HINT: &str =
    "if the file came from Excel, re-export as \"CSV UTF-8\" or pass --encoding windows-1252";

/// One lead as read from a row: standard fields normalized, other columns kept as custom fields.
///
/// Every `Option` is `None` when its cell is empty or the sheet has no such column; `custom`
/// holds the non-empty cells of the other columns under their snake_case keys (`Pain Point` →
/// `pain_point`), so templates can say `lead.pain_point`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadRecord {
    /// The lead's address, normalized (lowercase, no display name).
    pub email: Email,
    /// Given name, or the first word of a single name column.
    pub first_name: Option<String>,
    /// Family name, or all but the first word of a single name column.
    pub last_name: Option<String>,
    /// Company or account name.
    pub company: Option<String>,
    /// Job title or role.
    pub title: Option<String>,
    /// A canonical IANA zone name such as `Europe/Berlin`.
    pub timezone: Option<String>,
    /// Phone number as written (Excel's `="0049…"` unwrapped).
    pub phone: Option<String>,
    /// The rep who owns the lead, as the export names them.
    pub owner: Option<String>,
    /// Every other named column with a non-empty cell, keyed by its snake_case header.
    pub custom: BTreeMap<String, String>,
}

/// A lead and the row it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SheetRow {
    /// The row as a spreadsheet shows it: the header is row 1, and a record whose quoted cells
    /// span several lines is still one row.
    pub row: u64,
    /// The lead read from that row.
    pub lead: LeadRecord,
    /// The column (as written) that says this person opted out of email, if one does.
    pub opted_out: Option<String>,
}

/// A row that could not become a lead. The rows around it are unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{row}: {reason}")]
pub struct RowError {
    /// The file as the caller named it.
    pub path: String,
    /// The row as a spreadsheet shows it (header is row 1).
    pub row: u64,
    /// What is wrong, written for the person who will fix the sheet.
    pub reason: String,
}

/// A problem with the whole file: nothing can be imported until it is fixed. Every message
/// starts with the file's name, and header problems with `{path}:1:`.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    /// The file could not be opened.
    #[error("{path}: cannot open: {source}")]
    Open {
        /// The file as the caller named it.
        path: String,
        /// Why the system refused.
        #[source]
        source: io::Error,
    },
    /// Reading failed before the header was complete.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file as the caller named it.
        path: String,
        /// The failed read.
        #[source]
        source: io::Error,
    },
    /// There is no header row at all.
    #[error("{path}: the file is empty; expected a header row with an \"email\" column")]
    Empty {
        /// The file as the caller named it.
        path: String,
    },
    /// The file cannot be read the way it was asked to be (too large, a mapping for a vCard).
    #[error("{path}: {reason}")]
    Refused {
        /// The file as the caller named it.
        path: String,
        /// Why.
        reason: String,
    },
    /// A vCard file holds no card.
    #[error("{path}: no vCard in the file (expected BEGIN:VCARD … END:VCARD)")]
    NoCards {
        /// The file as the caller named it.
        path: String,
    },
    /// No column maps to the email field.
    #[error("{path}:{row}: {}", header::no_email_message(columns, addresses))]
    NoEmailColumn {
        /// The file as the caller named it.
        path: String,
        /// The header's row.
        row: u64,
        /// The named header cells as written.
        columns: Vec<String>,
        /// The columns whose values look like email addresses.
        addresses: Vec<String>,
    },
    /// A column the mapping names is not in the header.
    #[error("{path}:{row}: {}", header::mapped_missing_message(mapped, columns))]
    MappedMissing {
        /// The file as the caller named it.
        path: String,
        /// The header's row.
        row: u64,
        /// The mapped columns the header lacks.
        mapped: Vec<String>,
        /// The named header cells as written.
        columns: Vec<String>,
    },
    /// Two columns map to the same field.
    #[error("{path}:{row}: {}", header::duplicate_message(first, second, field))]
    DuplicateColumn {
        /// The file as the caller named it.
        path: String,
        /// The header's row.
        row: u64,
        /// The earlier column's header as written.
        first: String,
        /// The later column's header as written.
        second: String,
        /// The field both feed, as a message says it (`email`, `the custom field "x"`).
        field: String,
    },
    /// The header holds bytes that are not UTF-8 and no encoding was given.
    #[error(
        "{path}:1: header is not valid UTF-8 (byte {byte:#04X} in column {column}); {ENCODING_HINT}"
    )]
    HeaderNotUtf8 {
        /// The file as the caller named it.
        path: String,
        /// The first byte that is not UTF-8.
        byte: u8,
        /// The column's spreadsheet letter.
        column: String,
    },
    /// The header row exceeds the size limit or opens a quote it never closes.
    #[error("{path}:1: {reason}")]
    HeaderTooLarge {
        /// The file as the caller named it.
        path: String,
        /// Which limit it broke.
        reason: String,
    },
}

fn unclosed_quote_reason(q: UnclosedQuote) -> String {
    let rest = match q.lines_after {
        0 => "the rest of its line".to_string(),
        1 => "the 1 line after it".to_string(),
        n => format!("the {n} lines after it"),
    };
    format!(
        "a quote (\") opens a cell at line {}, column {} and is never closed, so {rest}, to the \
         end of the file, became part of this row; close the quote or remove it",
        q.line, q.column
    )
}

fn too_large_reason(limit: TooLarge) -> String {
    match limit {
        TooLarge::Bytes => format!(
            "row is longer than {} MiB; is a quote (\") left open here or in an earlier row?",
            input::MAX_RECORD_BYTES / (1024 * 1024)
        ),
        TooLarge::Cells => format!("row has more than {} cells", input::MAX_CELLS),
    }
}

/// Streams [`SheetRow`]s out of a spreadsheet export. It is `Send`, so rows can be read on a
/// thread of their own while another writes the ones read before.
///
/// The header row is read when the reader is made; iterating yields one item per non-blank
/// row, in file order, each either a lead or the reason the row was rejected. Rows whose
/// cells are all empty (Excel's trailing `,,,,`) are skipped without a report.
///
/// Format detection: a UTF-8 BOM is stripped; a UTF-16 BOM (Excel's "Unicode Text") selects
/// UTF-16; `encoding` transcodes from a legacy code page such as windows-1252. Without either,
/// the text is taken as UTF-8 and a row that is not is reported on its own. The delimiter is
/// the most common of `,` `;` tab `|` on the header line, unless an Excel `sep=` line says.
pub struct SheetReader {
    path: String,
    records: Records,
    header: Header,
    /// For each cell of the header row, whether it names a column.
    named: Vec<bool>,
    /// The row number of the last record read.
    row: u64,
    done: bool,
    bytes_read: Arc<AtomicU64>,
    zone_suggestions: HashMap<String, Option<&'static str>>,
}

impl SheetReader {
    /// Opens the file at `path` and reads its header. Messages name the file as `path` is
    /// written.
    pub fn open(path: &Path, encoding: Option<&'static Encoding>) -> Result<Self, SheetError> {
        Self::open_mapped(path, encoding, &ColumnMap::default())
    }

    /// [`SheetReader::open`] with the columns `map` names mapped as it says.
    pub fn open_mapped(
        path: &Path,
        encoding: Option<&'static Encoding>,
        map: &ColumnMap,
    ) -> Result<Self, SheetError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| SheetError::Open {
            path: name.clone(),
            source,
        })?;
        Self::from_reader_mapped(&name, file, encoding, map)
    }

    /// Reads the header from `reader`; `name` stands for the file in messages.
    pub fn from_reader<R: Read + Send + 'static>(
        name: &str,
        reader: R,
        encoding: Option<&'static Encoding>,
    ) -> Result<Self, SheetError> {
        Self::from_reader_mapped(name, reader, encoding, &ColumnMap::default())
    }

    /// [`SheetReader::from_reader`] with the columns `map` names mapped as it says.
    pub fn from_reader_mapped<R: Read + Send + 'static>(
        name: &str,
        reader: R,
        encoding: Option<&'static Encoding>,
        map: &ColumnMap,
    ) -> Result<Self, SheetError> {
        let path = name.to_owned();
        let read_error = |source| SheetError::Read {
            path: path.clone(),
            source,
        };
        let bytes_read = Arc::new(AtomicU64::new(0));
        let decoded = input::decode(reader, encoding, bytes_read.clone()).map_err(read_error)?;
        let mut input = Input::new(decoded);
        let delimiter = input::sniff_delimiter(&mut input).map_err(read_error)?;
        let mut records = Records::new(input, delimiter);
        let (header, row) = start::read_header(&mut records, &path, map)?;
        let mut named = vec![false; header.len];
        for column in &header.columns {
            named[column.index] = true;
        }
        Ok(SheetReader {
            path,
            records,
            header,
            named,
            row,
            done: false,
            bytes_read,
            zone_suggestions: HashMap::new(),
        })
    }

    /// Each named column as written in the header and the field it feeds: `email`,
    /// `first_name`, …, `first_name+last_name` for a split name column, or `custom:<key>`.
    /// Columns with an empty header are left out: their cells are ignored.
    pub fn columns(&self) -> Vec<(String, String)> {
        self.header
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.field.to_string()))
            .collect()
    }

    /// Bytes taken from the underlying file so far, for a progress bar. It runs ahead of the
    /// rows yielded by up to the read buffer (about 64 KiB).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    fn row_error(&self, row: u64, reason: String) -> RowError {
        RowError {
            path: self.path.clone(),
            row,
            reason,
        }
    }

    /// Turns the current record into a lead; `Ok(None)` for a blank row.
    fn read_lead(&mut self) -> Result<Option<row::RowLead>, String> {
        let SheetReader {
            records,
            header,
            named,
            zone_suggestions,
            ..
        } = self;
        let (width, most) = (header.width, header.len);
        let n = records.len();
        let mut cells: Vec<Cow<'_, str>> = Vec::with_capacity(n);
        for i in 0..n {
            if named.get(i) == Some(&false) {
                cells.push(Cow::Borrowed(""));
                continue;
            }
            let raw = records.cell(i);
            let text = std::str::from_utf8(raw).map_err(|err| {
                let column = match header.columns.iter().find(|c| c.index == i) {
                    Some(c) => format!("\"{}\"", c.name),
                    None => column_letter(i),
                };
                format!(
                    "not valid UTF-8 (byte {:#04X} in column {column}); {ENCODING_HINT}",
                    raw[err.valid_up_to()]
                )
            })?;
            cells.push(clean_cell(text));
        }
        let used = cells
            .iter()
            .rposition(|c| !c.is_empty())
            .map_or(0, |i| i + 1);
        if used == 0 {
            return Ok(None);
        }
        if n < width {
            return Err(format!("row has {n} cells but the header has {width}"));
        }
        if used > most {
            return Err(format!("row has {used} cells but the header has {most}"));
        }

        let values = header
            .columns
            .iter()
            .map(|column| (column, cells[column.index].as_ref()));
        lead_from_columns(values, zone_suggestions)
            .map(Some)
            .map_err(|problems| {
                problems
                    .into_iter()
                    .map(|(_, reason)| reason)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
    }
}

/// A lead from its named values (a JSON object of the HTTP API): the names are read as a
/// sheet's header row and the values as one row under it, so the same names are understood
/// (`email`, `first_name`, `Company`, `name`, any other name a custom field) and the same
/// rules and messages apply as in a CSV import. A problem names the value at fault.
/// With the lead comes the name that says the person opted out (`unsubscribed: true`,
/// `Do Not Email`, `subscribed_to_emails: false`), if one does.
pub fn lead_from_named(
    values: &[(String, String)],
) -> Result<(LeadRecord, Option<String>), FieldProblem> {
    let names: Vec<String> = values
        .iter()
        .map(|(name, _)| clean_cell(name).into_owned())
        .collect();
    let header = header::map_header(&names, &ColumnMap::default()).map_err(|err| match err {
        HeaderError::NoEmail { .. } | HeaderError::MappedMissing { .. } => FieldProblem {
            field: "email".to_owned(),
            reason: "email is missing".to_owned(),
        },
        HeaderError::Duplicate { ref second, .. } => FieldProblem {
            field: second.clone(),
            reason: err.to_string().replace("columns", "fields"),
        },
    })?;
    let cells: Vec<Cow<'_, str>> = values.iter().map(|(_, v)| clean_cell(v)).collect();
    let columns = header
        .columns
        .iter()
        .map(|column| (column, cells[column.index].as_ref()));
    lead_from_columns(columns, &mut HashMap::new()).map_err(|mut problems| {
        let (field, reason) = problems.remove(0);
        FieldProblem { field, reason }
    })
}

/// A named value that cannot become part of a lead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldProblem {
    /// The value's name as the caller wrote it.
    pub field: String,
    /// What is wrong, written for the person who sent it.
    pub reason: String,
}

impl Iterator for SheetReader {
    type Item = Result<SheetRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            let next = match self.records.read() {
                Ok(next) => next,
                Err(err) => {
                    self.done = true;
                    let reason = format!("cannot read the rest of the file: {err}");
                    return Some(Err(self.row_error(self.row + 1, reason)));
                }
            };
            let Next::Record {
                blank_lines,
                too_large,
                unclosed_quote,
            } = next
            else {
                self.done = true;
                return None;
            };
            self.row += 1 + blank_lines;
            if let Some(q) = unclosed_quote {
                return Some(Err(self.row_error(self.row, unclosed_quote_reason(q))));
            }
            if let Some(limit) = too_large {
                return Some(Err(self.row_error(self.row, too_large_reason(limit))));
            }
            match self.read_lead() {
                Ok(None) => continue,
                Ok(Some((lead, opted_out))) => {
                    return Some(Ok(SheetRow {
                        row: self.row,
                        lead,
                        opted_out,
                    }));
                }
                Err(reason) => return Some(Err(self.row_error(self.row, reason))),
            }
        }
    }
}

impl std::iter::FusedIterator for SheetReader {}

/// A cell as a spreadsheet shows it: surrounding whitespace (including no-break spaces)
/// trimmed, and Excel's text-forcing formula `="00123"` reduced to `00123`. A leading
/// apostrophe is kept: in a CSV file it is data.
fn clean_cell(text: &str) -> Cow<'_, str> {
    let text = email::trim(text);
    match text
        .strip_prefix("=\"")
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(inner) if inner.contains('"') => {
            Cow::Owned(email::trim(&inner.replace("\"\"", "\"")).to_owned())
        }
        Some(inner) => Cow::Borrowed(email::trim(inner)),
        None => Cow::Borrowed(text),
    }
}
