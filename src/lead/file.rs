//! A file of leads, whatever its format: a spreadsheet export (CSV or tab-separated) or a
//! vCard file (`.vcf`, `.vcard`, or any file that starts with `BEGIN:VCARD`).

use std::io::Read;
use std::path::Path;

use encoding_rs::Encoding;

use super::sheet::{ColumnMap, RowError, SheetError, SheetReader, SheetRow};
use super::vcard::CardReader;

/// The rows of a file of leads, one [`SheetRow`] per row or card.
pub enum LeadFile {
    /// A spreadsheet export.
    Sheet(Box<SheetReader>),
    /// A vCard file.
    Cards(CardReader),
}

impl LeadFile {
    /// Opens `path` as a vCard file when its name or its first line says so, else as a
    /// spreadsheet with the columns `map` names mapped as it says. A column mapping means
    /// nothing to a vCard file and is refused there.
    pub fn open(
        path: &Path,
        encoding: Option<&'static Encoding>,
        map: &ColumnMap,
    ) -> Result<LeadFile, SheetError> {
        if !is_vcard(path) {
            return SheetReader::open_mapped(path, encoding, map)
                .map(|s| LeadFile::Sheet(Box::new(s)));
        }
        if !map.is_empty() {
            return Err(SheetError::Refused {
                path: path.display().to_string(),
                reason: "--map and --mapping name spreadsheet columns; a vCard file has none"
                    .into(),
            });
        }
        CardReader::open(path).map(LeadFile::Cards)
    }

    /// How much of the file has been read, for a progress bar.
    pub fn bytes_read(&self) -> u64 {
        match self {
            LeadFile::Sheet(s) => s.bytes_read(),
            LeadFile::Cards(c) => c.bytes_read(),
        }
    }
}

impl From<SheetReader> for LeadFile {
    fn from(s: SheetReader) -> Self {
        LeadFile::Sheet(Box::new(s))
    }
}

impl Iterator for LeadFile {
    type Item = Result<SheetRow, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            LeadFile::Sheet(s) => s.next(),
            LeadFile::Cards(c) => c.next(),
        }
    }
}

/// A `.vcf` or `.vcard` name, or a first line (after a byte-order mark and blank lines) of
/// `BEGIN:VCARD`.
fn is_vcard(path: &Path) -> bool {
    let by_name = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("vcf") || e.eq_ignore_ascii_case("vcard"));
    if by_name {
        return true;
    }
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&head[..n]);
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .get(..11)
        .is_some_and(|s| s.eq_ignore_ascii_case("BEGIN:VCARD"))
}
