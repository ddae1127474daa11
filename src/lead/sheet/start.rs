//! Finding the header row. Most exports start with it; LinkedIn's connections export starts
//! with a few lines of notes, so lines of one or two cells that name no email column are
//! skipped while the header is looked for. When no row names an email column, a look at the
//! rows under the header finds the columns whose values are addresses, for the `--map` hint.

use super::email::Email;
use super::header::{self, Header, HeaderError, column_letter};
use super::input::{Next, Records};
use super::mapping::ColumnMap;
use super::{SheetError, clean_cell, too_large_reason, unclosed_quote_reason};

/// Lines before the header that may be skipped as notes.
const MAX_NOTE_LINES: u64 = 10;
/// Rows under a header without an email column looked at for address-like values.
const SAMPLE_ROWS: usize = 200;

/// Reads up to and including the header row: the header and its row number.
pub(super) fn read_header(
    records: &mut Records,
    path: &str,
    map: &ColumnMap,
) -> Result<(Header, u64), SheetError> {
    let mut row = 0;
    // A first line of one cell with no email column: LinkedIn's notes, or a one-column sheet.
    let mut first: Option<(HeaderError, String)> = None;
    let mut addresses = (0usize, 0usize);
    loop {
        let cells = next_cells(records, path, &mut row)?;
        let Some(cells) = cells.filter(|_| row <= MAX_NOTE_LINES || first.is_none()) else {
            let Some((err, name)) = first else {
                return Err(SheetError::Empty {
                    path: path.to_owned(),
                });
            };
            // Only one-cell lines: the first is the header the file meant.
            let (valid, seen) = addresses;
            let hint = (valid > 0 && valid * 2 >= seen).then_some(name);
            return Err(header_error(err, path, 1, hint.into_iter().collect()));
        };
        let err = match header::map_header(&cells, map) {
            Ok(header) => return Ok((header, row)),
            Err(err) => err,
        };
        let named: Vec<&String> = cells.iter().filter(|c| !c.is_empty()).collect();
        if matches!(err, HeaderError::NoEmail { .. }) && named.len() <= 1 && map.is_empty() {
            match &first {
                None => {
                    first = Some((
                        err,
                        named.first().map_or_else(String::new, |n| (*n).clone()),
                    ))
                }
                Some(_) => {
                    let cell = named.first().map_or("", |n| n.as_str());
                    addresses.1 += usize::from(!cell.is_empty());
                    addresses.0 += usize::from(cell.contains('@') && Email::parse(cell).is_ok());
                }
            }
            continue;
        }
        let addresses = match err {
            HeaderError::NoEmail { .. } => address_columns(records, &cells),
            _ => Vec::new(),
        };
        return Err(header_error(err, path, row, addresses));
    }
}

/// The cells of the next record, cleaned; `None` at the end of the file. `row` moves to the
/// record's row number.
fn next_cells(
    records: &mut Records,
    path: &str,
    row: &mut u64,
) -> Result<Option<Vec<String>>, SheetError> {
    let read_error = |source| SheetError::Read {
        path: path.to_owned(),
        source,
    };
    let reason = match records.read().map_err(read_error)? {
        Next::End => return Ok(None),
        Next::Record {
            unclosed_quote: Some(q),
            ..
        } => unclosed_quote_reason(q),
        Next::Record {
            too_large: Some(limit),
            ..
        } => too_large_reason(limit),
        Next::Record { blank_lines, .. } => {
            *row += 1 + blank_lines;
            return header_cells(records, path).map(Some);
        }
    };
    Err(SheetError::HeaderTooLarge {
        path: path.to_owned(),
        reason,
    })
}

fn header_cells(records: &Records, path: &str) -> Result<Vec<String>, SheetError> {
    let mut cells = Vec::with_capacity(records.len());
    for i in 0..records.len() {
        let raw = records.cell(i);
        let text = std::str::from_utf8(raw).map_err(|err| SheetError::HeaderNotUtf8 {
            path: path.to_owned(),
            byte: raw[err.valid_up_to()],
            column: column_letter(i),
        })?;
        cells.push(clean_cell(text).into_owned());
    }
    Ok(cells)
}

fn header_error(err: HeaderError, path: &str, row: u64, addresses: Vec<String>) -> SheetError {
    let path = path.to_owned();
    match err {
        HeaderError::NoEmail { names } => SheetError::NoEmailColumn {
            path,
            row,
            columns: names,
            addresses,
        },
        HeaderError::MappedMissing { mapped, names } => SheetError::MappedMissing {
            path,
            row,
            mapped,
            columns: names,
        },
        HeaderError::Duplicate {
            first,
            second,
            field,
        } => SheetError::DuplicateColumn {
            path,
            row,
            first,
            second,
            field,
        },
    }
}

/// The named columns (as written) where most of the non-empty cells of the next rows are
/// email addresses, in column order.
fn address_columns(records: &mut Records, cells: &[String]) -> Vec<String> {
    let mut counts = vec![(0usize, 0usize); cells.len()];
    for _ in 0..SAMPLE_ROWS {
        match records.read() {
            Ok(Next::Record {
                too_large: None,
                unclosed_quote: None,
                ..
            }) => {}
            Ok(Next::Record { .. }) => continue,
            Ok(Next::End) | Err(_) => break,
        }
        for (i, count) in counts.iter_mut().enumerate().take(records.len()) {
            let Ok(text) = std::str::from_utf8(records.cell(i)) else {
                continue;
            };
            let text = clean_cell(text);
            if text.is_empty() {
                continue;
            }
            count.1 += 1;
            if text.contains('@') && Email::parse(&text).is_ok() {
                count.0 += 1;
            }
        }
    }
    cells
        .iter()
        .zip(counts)
        .filter(|(name, (valid, seen))| !name.is_empty() && *valid > 0 && valid * 2 >= *seen)
        .map(|(name, _)| name.clone())
        .collect()
}
