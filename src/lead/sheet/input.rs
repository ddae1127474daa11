//! From the file's bytes to CSV records: decoding, delimiter sniffing, and splitting records
//! while counting the rows a spreadsheet would show.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use encoding_rs::Encoding;
use encoding_rs_io::DecodeReaderBytesBuilder;

/// How much of the decoded file is buffered at once; also how far the header sniffing looks.
const BUFFER_SIZE: usize = 64 * 1024;
/// A record larger than this is reported and skipped instead of held in memory: no real lead
/// row comes close, but a quote left open swallows the rest of the file into one cell.
pub(super) const MAX_RECORD_BYTES: usize = 4 * 1024 * 1024;
/// Most cells one record may have (Excel's limit is 16,384 columns).
pub(super) const MAX_CELLS: usize = 65_536;
/// Delimiters the header sniffing chooses from, in order of preference on a tie.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Counts the bytes taken from the underlying file, for progress reporting.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Wraps `reader` so it yields UTF-8 (or, without a BOM or explicit encoding, the raw bytes,
/// which the caller checks per row).
///
/// A BOM wins over everything: UTF-8's is stripped, UTF-16's selects transcoding. Otherwise an
/// explicit `encoding` transcodes; otherwise a file whose first characters look like UTF-16
/// without BOM (ASCII with every other byte zero) is transcoded from UTF-16.
pub(super) fn decode<R: Read + Send + 'static>(
    reader: R,
    encoding: Option<&'static Encoding>,
    count: Arc<AtomicU64>,
) -> io::Result<Box<dyn Read + Send>> {
    let mut counting = Counting {
        inner: reader,
        count,
    };
    let mut head = [0u8; 4];
    let n = read_up_to(&mut counting, &mut head)?;
    let encoding = encoding.or_else(|| bomless_utf16(&head[..n]));
    let reader = io::Cursor::new(head[..n].to_vec()).chain(counting);
    Ok(Box::new(
        DecodeReaderBytesBuilder::new()
            .encoding(encoding)
            .bom_override(true)
            .utf8_passthru(true)
            .strip_bom(true)
            .build(reader),
    ))
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

fn bomless_utf16(head: &[u8]) -> Option<&'static Encoding> {
    match head {
        [a, 0, b, 0] if *a != 0 && *b != 0 => Some(encoding_rs::UTF_16LE),
        [0, a, 0, b] if *a != 0 && *b != 0 => Some(encoding_rs::UTF_16BE),
        _ => None,
    }
}

/// A refillable window over the decoded stream.
pub(super) struct Input {
    inner: Box<dyn Read + Send>,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
}

impl Input {
    pub(super) fn new(inner: Box<dyn Read + Send>) -> Self {
        Input {
            inner,
            buf: vec![0; BUFFER_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// The unread buffered bytes, reading more when none are left; empty only at end of input.
    fn fill(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end && !self.eof {
            self.start = 0;
            self.end = 0;
            self.read_more()?;
        }
        Ok(&self.buf[self.start..self.end])
    }

    /// Buffers as much as fits (or the whole rest of the input) and returns it unconsumed.
    fn fill_all(&mut self) -> io::Result<&[u8]> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        while self.end < self.buf.len() && !self.eof {
            self.read_more()?;
        }
        Ok(&self.buf[..self.end])
    }

    fn read_more(&mut self) -> io::Result<()> {
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
    }

    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }
}

/// Decides the delimiter from the start of the file and consumes an Excel `sep=X` line.
pub(super) fn sniff_delimiter(input: &mut Input) -> io::Result<u8> {
    let head = input.fill_all()?;
    if let Some((delimiter, len)) = sep_line(head) {
        input.consume(len);
        return Ok(delimiter);
    }
    Ok(count_delimiters(head))
}

/// Excel's `sep=;` first line (sometimes quoted by tools that re-save it; anything after the
/// delimiter is ignored): the delimiter and the length of the line with its terminator.
fn sep_line(head: &[u8]) -> Option<(u8, usize)> {
    let line_len = head
        .iter()
        .position(|b| matches!(b, b'\r' | b'\n'))
        .unwrap_or(head.len());
    let terminator_len = match head.get(line_len..line_len + 2) {
        Some(b"\r\n") => 2,
        _ if line_len < head.len() => 1,
        _ => 0,
    };
    let line = head[..line_len].trim_ascii_start();
    let line = line.strip_prefix(b"\"").unwrap_or(line);
    match line {
        [s, e, p, b'=', delimiter, ..]
            if [*s, *e, *p].eq_ignore_ascii_case(b"sep")
                && delimiter.is_ascii()
                && !matches!(delimiter, b'"' | b'\r' | b'\n') =>
        {
            Some((*delimiter, line_len + terminator_len))
        }
        _ => None,
    }
}

/// The most frequent candidate delimiter on the first line, outside quotes; `,` when none.
fn count_delimiters(head: &[u8]) -> u8 {
    let mut counts = [0usize; DELIMITERS.len()];
    let mut quoted = false;
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\r' | b'\n' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = DELIMITERS.iter().position(|d| *d == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for i in 1..DELIMITERS.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    DELIMITERS[best]
}

/// What [`Records::read`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// A record is ready. `blank_lines` empty lines came before it (a spreadsheet shows each as a
    /// row); `too_large` says the record was dropped for exceeding a limit.
    Record {
        blank_lines: u64,
        too_large: Option<TooLarge>,
        /// The record ran to the end of the file inside a quoted cell: where that quote opened,
        /// and how many lines it swallowed.
        unclosed_quote: Option<UnclosedQuote>,
    },
    /// The input is exhausted.
    End,
}

/// A quote that opened a cell and was never closed: everything after it, to the end of the
/// file, became that one cell.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(super) struct UnclosedQuote {
    /// The line of the file (1-based, counting every line end) where the quote is.
    pub line: u64,
    /// Its column on that line (1-based, in characters).
    pub column: u64,
    /// How many lines of the file followed it.
    pub lines_after: u64,
}

/// Where the bytes consumed so far leave a CSV cell, as csv-core reads it: a quote opens a
/// quoted cell only at the start of a cell; inside one, `""` is a literal quote and `"`
/// followed by anything else closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cell {
    Start,
    Plain,
    Quoted,
    QuoteInQuoted,
}

/// Follows the file's lines and quotes alongside csv-core, only to say where a quote left
/// open began.
#[derive(Debug)]
struct QuoteTracker {
    delimiter: u8,
    cell: Cell,
    line: u64,
    column: u64,
    opened: (u64, u64),
}

impl QuoteTracker {
    fn new(delimiter: u8) -> Self {
        QuoteTracker {
            delimiter,
            cell: Cell::Start,
            line: 1,
            column: 0,
            opened: (1, 1),
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            let line_end = b == b'\n' || b == b'\r';
            self.cell = match (self.cell, b) {
                (Cell::Start, b'"') => {
                    self.opened = (self.line, self.column + 1);
                    Cell::Quoted
                }
                (Cell::Quoted, b'"') => Cell::QuoteInQuoted,
                (Cell::Quoted, _) => Cell::Quoted,
                (Cell::QuoteInQuoted, b'"') => Cell::Quoted,
                (_, d) if d == self.delimiter || line_end => Cell::Start,
                _ => Cell::Plain,
            };
            if b == b'\n' {
                self.line += 1;
                self.column = 0;
            } else if b & 0xC0 != 0x80 {
                self.column += 1;
            }
        }
    }

    /// At the end of a record: the quote still open, if any.
    fn unclosed(&self) -> Option<UnclosedQuote> {
        (self.cell == Cell::Quoted).then(|| UnclosedQuote {
            line: self.opened.0,
            column: self.opened.1,
            // A file that ends with a line end has no line after it.
            lines_after: self.line - self.opened.0 - u64::from(self.column == 0),
        })
    }
}

/// Which limit an oversized record broke.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(super) enum TooLarge {
    Bytes,
    Cells,
}

/// Splits the decoded stream into records with bounded memory, reusing one buffer.
pub(super) struct Records {
    input: Input,
    core: csv_core::Reader,
    data: Vec<u8>,
    ends: Vec<usize>,
    len: usize,
    /// The last byte the parser consumed, to tell the `\n` of a `\r\n` from a blank line.
    last: Option<u8>,
    done: bool,
    quotes: QuoteTracker,
}

impl Records {
    pub(super) fn new(input: Input, delimiter: u8) -> Self {
        let core = csv_core::ReaderBuilder::new()
            .delimiter(delimiter)
            .quote(b'"')
            .double_quote(true)
            .escape(None)
            .comment(None)
            .terminator(csv_core::Terminator::CRLF)
            .build();
        Records {
            input,
            core,
            data: vec![0; 4096],
            ends: vec![0; 64],
            len: 0,
            last: None,
            done: false,
            quotes: QuoteTracker::new(delimiter),
        }
    }

    /// Reads the next record into the reused buffer.
    pub(super) fn read(&mut self) -> io::Result<Next> {
        use csv_core::ReadRecordResult as R;
        self.len = 0;
        if self.done {
            return Ok(Next::End);
        }
        let blank_lines = self.skip_line_ends()?;
        let (mut out, mut nends) = (0, 0);
        let mut too_large = None;
        loop {
            let chunk = self.input.fill()?;
            let (result, nin, nout, nend) =
                self.core
                    .read_record(chunk, &mut self.data[out..], &mut self.ends[nends..]);
            if let Some(last) = nin.checked_sub(1).map(|i| chunk[i]) {
                self.last = Some(last);
            }
            self.quotes.feed(&chunk[..nin]);
            self.input.consume(nin);
            out += nout;
            nends += nend;
            match result {
                R::InputEmpty => {}
                R::OutputFull if self.data.len() < MAX_RECORD_BYTES => {
                    let len = (self.data.len() * 2).min(MAX_RECORD_BYTES);
                    self.data.resize(len, 0);
                }
                R::OutputFull => {
                    too_large.get_or_insert(TooLarge::Bytes);
                    out = 0;
                }
                R::OutputEndsFull if self.ends.len() < MAX_CELLS => {
                    let len = (self.ends.len() * 2).min(MAX_CELLS);
                    self.ends.resize(len, 0);
                }
                R::OutputEndsFull => {
                    too_large.get_or_insert(TooLarge::Cells);
                    nends = 0;
                }
                R::Record => {
                    self.len = if too_large.is_some() { 0 } else { nends };
                    return Ok(Next::Record {
                        blank_lines,
                        too_large,
                        unclosed_quote: self.quotes.unclosed(),
                    });
                }
                R::End => {
                    self.done = true;
                    return Ok(Next::End);
                }
            }
        }
    }

    /// Consumes line terminators before a record, counting the empty lines among them.
    fn skip_line_ends(&mut self) -> io::Result<u64> {
        let mut blank = 0;
        loop {
            let chunk = self.input.fill()?;
            let mut n = 0;
            while let Some(&b @ (b'\r' | b'\n')) = chunk.get(n) {
                if !(b == b'\n' && self.last == Some(b'\r')) {
                    blank += 1;
                }
                self.last = Some(b);
                n += 1;
            }
            self.quotes.feed(&chunk[..n]);
            let rest = chunk.len() - n;
            self.input.consume(n);
            if rest > 0 || n == 0 {
                return Ok(blank);
            }
        }
    }

    /// Number of cells in the current record.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The raw bytes of cell `i` of the current record.
    pub(super) fn cell(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &[u8]) -> (u8, Vec<(u64, Vec<String>)>) {
        let count = Arc::new(AtomicU64::new(0));
        let reader = decode(io::Cursor::new(text.to_vec()), None, count).unwrap();
        let mut input = Input::new(reader);
        let delimiter = sniff_delimiter(&mut input).unwrap();
        let mut records = Records::new(input, delimiter);
        let mut out = Vec::new();
        while let Next::Record { blank_lines, .. } = records.read().unwrap() {
            let cells = (0..records.len())
                .map(|i| String::from_utf8_lossy(records.cell(i)).into_owned())
                .collect();
            out.push((blank_lines, cells));
        }
        (delimiter, out)
    }

    #[test]
    fn delimiter_is_the_most_frequent_outside_quotes() {
        assert_eq!(count_delimiters(b"a;b;c,d\n1,2,3,4"), b';');
        assert_eq!(count_delimiters(b"\"a,b,c\";d;e\n"), b';');
        assert_eq!(count_delimiters(b"a\tb\tc"), b'\t');
        assert_eq!(count_delimiters(b"a|b"), b'|');
        assert_eq!(count_delimiters(b"email"), b',');
    }

    #[test]
    fn sep_line_sets_delimiter_and_is_consumed() {
        assert_eq!(sep_line(b"sep=;\r\nemail;name"), Some((b';', 7)));
        assert_eq!(sep_line(b"\"sep=|\"\nemail|name"), Some((b'|', 8)));
        assert_eq!(sep_line(b"SEP=\t"), Some((b'\t', 5)));
        assert_eq!(sep_line(b"sep=\nx"), None);
        assert_eq!(sep_line(b"separator,email"), None);
    }

    #[test]
    fn blank_lines_are_counted_for_lf_crlf_and_cr() {
        for (text, expected) in [
            (&b"h\na\n\n\nb\n"[..], vec![0, 0, 2]),
            (&b"h\r\na\r\n\r\n\r\nb"[..], vec![0, 0, 2]),
            (&b"h\ra\r\rb\r"[..], vec![0, 0, 1]),
            (&b"h\n\"x\ny\"\n\nb"[..], vec![0, 0, 1]),
        ] {
            let (_, got) = records(text);
            let blanks: Vec<u64> = got.iter().map(|(b, _)| *b).collect();
            assert_eq!(blanks, expected, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn quoted_cells_keep_newlines_and_doubled_quotes() {
        let (_, got) = records(b"a,b\r\n\"line1\r\nline2\",\"say \"\"hi\"\"\"\r\n");
        assert_eq!(got[1].1, ["line1\r\nline2", "say \"hi\""]);
    }

    #[test]
    fn oversized_record_is_flagged_and_reading_continues() {
        let mut text = b"email\n\"".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 10));
        text.extend(b"\"\nok@acme.com\n");
        let count = Arc::new(AtomicU64::new(0));
        let reader = decode(io::Cursor::new(text), None, count.clone()).unwrap();
        let mut records = Records::new(Input::new(reader), b',');
        assert!(matches!(
            records.read().unwrap(),
            Next::Record {
                too_large: None,
                ..
            }
        ));
        assert_eq!(
            records.read().unwrap(),
            Next::Record {
                blank_lines: 0,
                too_large: Some(TooLarge::Bytes),
                unclosed_quote: None,
            }
        );
        assert_eq!(records.len(), 0);
        assert!(matches!(
            records.read().unwrap(),
            Next::Record {
                too_large: None,
                ..
            }
        ));
        assert_eq!(records.cell(0), b"ok@acme.com");
        assert_eq!(records.read().unwrap(), Next::End);
        assert!(count.load(Ordering::Relaxed) > MAX_RECORD_BYTES as u64);
    }

    #[test]
    fn bomless_utf16_is_detected_from_zero_bytes() {
        let text: Vec<u8> = "email\tname\r\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let (delimiter, got) = records(&text);
        assert_eq!(delimiter, b'\t');
        assert_eq!(got[0].1, ["email", "name"]);
    }
}
