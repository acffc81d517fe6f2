//! Output formats: `ndjson`, `table` and `csv`, written row by row (no buffering of the
//! result, so output starts at once and memory stays constant).
//!
//! For `query`:
//!
//! - `ndjson` prints each matching line exactly as stored (either envelope);
//! - `table` and `csv` print the columns `time`, `topic`, `msgType`, `user`, then one column
//!   per `--where` key (the value as compared: a string's text, else compact JSON), or, without
//!   `--where`, a `message` column with the event object's JSON as stored. `time` is the
//!   envelope's `timestamp` (`serverTimestamp` for Event Server lines) as written; `topic` comes
//!   from the logger or the Event Server's topic folder; `user` is `authUser`, else the MDC's
//!   `user`.
//!
//! `table` pads each column but the last to a fixed width (wide enough for the envelope's
//! timestamps, the topic names and the demo's msgTypes; longer values push the rest of their
//! row right) and prints `-` for a missing value. `csv` follows RFC 4180 (a header row; fields
//! with a comma, a quote or a line break quoted, quotes doubled; missing values empty).
//! Reports use the same three formats, with `ndjson` writing one object per row: camelCase
//! keys in column order, counts and measures as JSON numbers, flags as `true`/`false`, missing
//! values `null`. In `table` and `csv` a flag is `yes`/`no`.

use std::io::{self, Write};
use std::str::FromStr;

use super::filter::{value_text, WhereClause};
use super::reader::{Fields, Record};

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Format {
    /// One JSON object per line (for `query`, the stored lines unchanged).
    #[default]
    Ndjson,
    /// Aligned columns for people.
    Table,
    /// Comma-separated values with a header row.
    Csv,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "ndjson" => Ok(Format::Ndjson),
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            _ => Err(format!(
                "unknown format `{s}` (expected ndjson, table or csv)"
            )),
        }
    }
}

/// A column: its name and its width in `table` output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The header (and the key in `ndjson` rows).
    pub name: String,
    /// Padding width in `table` output (the last column is never padded).
    pub width: usize,
}

impl Column {
    /// A column.
    pub fn new(name: impl Into<String>, width: usize) -> Column {
        Column {
            name: name.into(),
            width,
        }
    }
}

/// One value of a report row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    /// No value (`-` in `table`, empty in `csv`, `null` in `ndjson`).
    Missing,
    /// Text.
    Text(&'a str),
    /// A count (a JSON integer in `ndjson`).
    Count(u64),
    /// A measure (a JSON number in `ndjson`; `null` when not finite).
    Number(f64),
    /// Yes or no (`true`/`false` in `ndjson`).
    Flag(bool),
}

impl<'a> From<Option<&'a str>> for Cell<'a> {
    fn from(text: Option<&'a str>) -> Cell<'a> {
        text.map_or(Cell::Missing, Cell::Text)
    }
}

/// Writes rows of cells in one of the formats.
pub struct RowWriter<W: Write> {
    out: W,
    format: Format,
    columns: Vec<Column>,
    header_written: bool,
}

impl<W: Write> RowWriter<W> {
    /// A writer of rows with these columns.
    pub fn new(out: W, format: Format, columns: Vec<Column>) -> Self {
        RowWriter {
            out,
            format,
            columns,
            header_written: false,
        }
    }

    /// The columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Writes the header now if it has not been (`table` and `csv`; a query with no match still
    /// shows its columns).
    pub fn header(&mut self) -> io::Result<()> {
        if self.header_written || self.format == Format::Ndjson {
            return Ok(());
        }
        self.header_written = true;
        let names: Vec<Cell<'_>> = self.columns.iter().map(|c| Cell::Text(&c.name)).collect();
        write_cells(&mut self.out, self.format, &self.columns, &names)
    }

    /// Writes one row of text (`None`: a missing value).
    pub fn row(&mut self, cells: &[Option<&str>]) -> io::Result<()> {
        let cells: Vec<Cell<'_>> = cells.iter().map(|c| Cell::from(*c)).collect();
        self.cells(&cells)
    }

    /// Writes one row of typed cells.
    pub fn cells(&mut self, cells: &[Cell<'_>]) -> io::Result<()> {
        self.header()?;
        write_cells(&mut self.out, self.format, &self.columns, cells)
    }

    /// Writes a line as it is (`query --format ndjson`).
    pub fn raw_line(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The output back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A measure for people: whole numbers as integers, others to three decimals (trailing zeros
/// dropped); `ndjson` keeps every digit.
fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let text = format!("{x:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A cell's text in `table` and `csv` (`None`: missing).
fn cell_text<'a>(cell: &Cell<'a>) -> Option<std::borrow::Cow<'a, str>> {
    match *cell {
        Cell::Missing => None,
        Cell::Text(t) => Some(t.into()),
        Cell::Count(n) => Some(n.to_string().into()),
        Cell::Number(x) if x.is_finite() => Some(number_text(x).into()),
        Cell::Number(_) => None,
        Cell::Flag(b) => Some(if b { "yes" } else { "no" }.into()),
    }
}

/// Writes one row of cells (or the header) in `format`.
fn write_cells(
    out: &mut impl Write,
    format: Format,
    columns: &[Column],
    cells: &[Cell<'_>],
) -> io::Result<()> {
    match format {
        Format::Ndjson => {
            // Keys in column order (serde_json's map would sort them).
            out.write_all(b"{")?;
            for (i, (column, cell)) in columns.iter().zip(cells).enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, &column.name)?;
                out.write_all(b":")?;
                match *cell {
                    Cell::Missing => out.write_all(b"null")?,
                    Cell::Text(t) => serde_json::to_writer(&mut *out, t)?,
                    Cell::Count(n) => out.write_all(itoa::Buffer::new().format(n).as_bytes())?,
                    Cell::Number(x) => serde_json::to_writer(&mut *out, &x)?,
                    Cell::Flag(b) => out.write_all(if b { b"true" } else { b"false" })?,
                }
            }
            out.write_all(b"}")?;
        }
        Format::Table => {
            let last = cells.len().saturating_sub(1);
            for (i, (column, cell)) in columns.iter().zip(cells).enumerate() {
                let text = cell_text(cell);
                let text = text.as_deref().unwrap_or("-");
                if i == last {
                    out.write_all(text.as_bytes())?;
                } else {
                    write!(out, "{text:<width$}  ", width = column.width)?;
                }
            }
        }
        Format::Csv => {
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    out.write_all(b",")?;
                }
                write_csv_field(out, cell_text(cell).as_deref().unwrap_or(""))?;
            }
        }
    }
    out.write_all(b"\n")
}

fn write_csv_field(out: &mut impl Write, text: &str) -> io::Result<()> {
    if text.contains([',', '"', '\n', '\r']) {
        out.write_all(b"\"")?;
        out.write_all(text.replace('"', "\"\"").as_bytes())?;
        out.write_all(b"\"")
    } else {
        out.write_all(text.as_bytes())
    }
}

/// Width of the `time` column: an envelope timestamp.
pub const TIME_WIDTH: usize = 28;
/// Width of the `topic` column: the longest topic name.
pub const TOPIC_WIDTH: usize = 22;
/// Width of the `msgType` column: the demo's longest msgType.
pub const MSG_TYPE_WIDTH: usize = 31;
/// Width of the `user` column.
pub const USER_WIDTH: usize = 10;
/// Width of a `--where` value column.
pub const VALUE_WIDTH: usize = 16;

/// Writes the records of a query in a format (see the module docs for the columns).
///
/// ```
/// use log4rs_audit::query::files::Location;
/// use log4rs_audit::query::format::{Format, QueryWriter};
/// use log4rs_audit::query::reader::parse_line;
///
/// let here = Location::default();
/// let line = r#"{"severity":"INFO","logger":"dku.audit.generic","message":{"msgType":"login","authUser":"bob"},"mdc":{},"timestamp":"2020-02-19T16:05:02.441+0100"}"#;
/// let record = parse_line(line, &here)?;
/// let mut out = QueryWriter::new(Vec::new(), Format::Csv, &[]);
/// out.write(&record, &record.fields()).unwrap();
/// assert_eq!(
///     String::from_utf8(out.into_inner()).unwrap(),
///     "time,topic,msgType,user,message\n\
///      2020-02-19T16:05:02.441+0100,generic,login,bob,\"{\"\"msgType\"\":\"\"login\"\",\"\"authUser\"\":\"\"bob\"\"}\"\n"
/// );
/// # Ok::<(), String>(())
/// ```
pub struct QueryWriter<W: Write> {
    rows: RowWriter<W>,
    wheres: Vec<WhereClause>,
}

impl<W: Write> QueryWriter<W> {
    /// A writer; `wheres` are the query's `--where` clauses (their keys become columns).
    pub fn new(out: W, format: Format, wheres: &[WhereClause]) -> Self {
        let mut columns = vec![
            Column::new("time", TIME_WIDTH),
            Column::new("topic", TOPIC_WIDTH),
            Column::new("msgType", MSG_TYPE_WIDTH),
            Column::new("user", USER_WIDTH),
        ];
        let mut keys: Vec<WhereClause> = Vec::new();
        for w in wheres {
            if !keys.iter().any(|k| k.path == w.path) {
                keys.push(w.clone());
            }
        }
        if keys.is_empty() {
            columns.push(Column::new("message", 0));
        }
        columns.extend(keys.iter().map(|k| Column::new(k.key(), VALUE_WIDTH)));
        QueryWriter {
            rows: RowWriter::new(out, format, columns),
            wheres: keys,
        }
    }

    /// Whether [`QueryWriter::write`] needs the record's fields.
    pub fn needs_fields(&self) -> bool {
        self.rows.format != Format::Ndjson
    }

    /// Writes the header (table, csv) if not yet written.
    pub fn header(&mut self) -> io::Result<()> {
        self.rows.header()
    }

    /// Writes one record.
    pub fn write(&mut self, record: &Record<'_>, fields: &Fields<'_>) -> io::Result<()> {
        if self.rows.format == Format::Ndjson {
            return self.rows.raw_line(record.line);
        }
        let user = record.user_with(fields);
        let mut extra: Vec<Option<String>> = Vec::new();
        if self.wheres.is_empty() {
            extra.push(Some(record.event.get().to_owned()));
        } else {
            for w in &self.wheres {
                extra.push(record.lookup(&w.path).and_then(value_text));
            }
        }
        let mut cells: Vec<Option<&str>> = vec![
            record.timestamp.as_deref(),
            record.topic(),
            fields.msg_type.as_deref(),
            user.as_deref(),
        ];
        cells.extend(extra.iter().map(Option::as_deref));
        self.rows.row(&cells)
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.rows.flush()
    }

    /// The output back.
    pub fn into_inner(self) -> W {
        self.rows.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(format: Format, cells: &[&[Option<&str>]]) -> String {
        let mut w = RowWriter::new(
            Vec::new(),
            format,
            vec![
                Column::new("a", 4),
                Column::new("b", 3),
                Column::new("c", 2),
            ],
        );
        for row in cells {
            w.row(row).unwrap();
        }
        String::from_utf8(w.into_inner()).unwrap()
    }

    #[test]
    fn three_formats() {
        let data: &[&[Option<&str>]] = &[
            &[Some("x"), None, Some("long value")],
            &[Some("a,b"), Some("q\"t"), Some("l1\nl2")],
        ];
        assert_eq!(
            rows(Format::Table, data),
            "a     b    c\nx     -    long value\na,b   q\"t  l1\nl2\n"
        );
        assert_eq!(
            rows(Format::Csv, data),
            "a,b,c\nx,,long value\n\"a,b\",\"q\"\"t\",\"l1\nl2\"\n"
        );
        assert_eq!(
            rows(Format::Ndjson, data),
            "{\"a\":\"x\",\"b\":null,\"c\":\"long value\"}\n{\"a\":\"a,b\",\"b\":\"q\\\"t\",\"c\":\"l1\\nl2\"}\n"
        );
    }

    #[test]
    fn typed_cells_are_json_numbers_and_bools_in_ndjson_only() {
        let write = |format| {
            let mut w = RowWriter::new(
                Vec::new(),
                format,
                vec![
                    Column::new("n", 3),
                    Column::new("x", 4),
                    Column::new("ok", 0),
                ],
            );
            w.cells(&[Cell::Count(30), Cell::Number(2.5), Cell::Flag(true)])
                .unwrap();
            w.cells(&[Cell::Missing, Cell::Number(f64::NAN), Cell::Flag(false)])
                .unwrap();
            String::from_utf8(w.into_inner()).unwrap()
        };
        assert_eq!(
            write(Format::Ndjson),
            "{\"n\":30,\"x\":2.5,\"ok\":true}\n{\"n\":null,\"x\":null,\"ok\":false}\n"
        );
        assert_eq!(write(Format::Csv), "n,x,ok\n30,2.5,yes\n,,no\n");
        assert_eq!(
            write(Format::Table),
            "n    x     ok\n30   2.5   yes\n-    -     no\n"
        );
    }

    #[test]
    fn header_without_rows() {
        let mut w = RowWriter::new(Vec::new(), Format::Csv, vec![Column::new("a", 1)]);
        w.header().unwrap();
        w.header().unwrap();
        assert_eq!(w.into_inner(), b"a\n");
    }
}
