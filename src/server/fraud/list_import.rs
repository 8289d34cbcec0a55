//! A list's CSV file: reading an import line by line (every line's error with its number, nothing
//! taken on trust), and writing an export that an import reads back.
//!
//! The file: an optional header naming the columns (`value`, `reason`, `expires_at`,
//! `merchant_id`; others, such as an export's `added_by`, are ignored); without one, the columns
//! are value, reason, expires_at in that order. A line without a reason takes the import's. An
//! expiry is RFC 3339 or a date (the entry expires at the end of that day, UTC).
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use super::lists::{ListEntry, ListKind, Lists};
use crate::app::dto::ImportLineError;

/// The largest file taken (the server function's body bound leaves room for JSON's escaping).
pub const MAX_IMPORT_BYTES: usize = crate::app::dto::MAX_LIST_IMPORT_BYTES;
/// Entries in one file: a bound, not a business cap (another product's 10,000 drew complaints).
pub const MAX_IMPORT_LINES: u64 = 200_000;
/// A reason's length, as the column holds it.
pub const MAX_REASON_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the file is {0} bytes; at most {MAX_IMPORT_BYTES} bytes are taken in one import — split it")]
    TooLarge(usize),
    #[error("the file has more than {MAX_IMPORT_LINES} entries — split it")]
    TooManyLines,
    #[error("the file has no entries")]
    Empty,
    #[error("the header has no value column (expected value,reason,expires_at,merchant_id)")]
    NoValueColumn,
    #[error("the import's reason is longer than {MAX_REASON_CHARS} characters")]
    ReasonTooLong,
}

/// One line that can be taken: its value normalised for the list's kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportLine {
    pub line: u64,
    pub value: String,
    pub reason: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub merchant_id: Option<i32>,
}

impl ImportLine {
    /// The entry's identity in its list: value and scope (0: every merchant).
    pub fn key(&self) -> (String, i32) {
        (self.value.clone(), self.merchant_id.unwrap_or(0))
    }
}

#[derive(Debug, Default)]
pub struct ParsedImport {
    pub lines: Vec<ImportLine>,
    pub errors: Vec<ImportLineError>,
}

struct Columns {
    value: usize,
    reason: Option<usize>,
    expires_at: Option<usize>,
    merchant_id: Option<usize>,
}

const POSITIONAL: Columns = Columns { value: 0, reason: Some(1), expires_at: Some(2), merchant_id: None };

/// Reads an import for a list of `kind`. Whole-file problems (size, no entries) are an `Err`;
/// each line's problem is in `errors`, in file order. Merchants are not looked up here.
pub fn parse(kind: ListKind, csv: &str, default_reason: &str, now: DateTime<Utc>) -> Result<ParsedImport, ImportError> {
    if csv.len() > MAX_IMPORT_BYTES {
        return Err(ImportError::TooLarge(csv.len()));
    }
    if default_reason.trim().chars().count() > MAX_REASON_CHARS {
        return Err(ImportError::ReasonTooLong);
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(csv.as_bytes());
    let mut parsed = ParsedImport::default();
    let mut columns: Option<Columns> = None;
    let mut seen: HashMap<(String, i32), u64> = HashMap::new();
    let mut entries = 0u64;
    // Line numbers from byte offsets: the reader's own skip blank lines without counting them.
    let (mut counted_to, mut line) = (0usize, 1u64);
    for (index, record) in reader.records().enumerate() {
        let at = match &record {
            Ok(r) => r.position().map(|p| p.byte() as usize),
            Err(e) => e.position().map(|p| p.byte() as usize),
        };
        // A record's position may be where the blank lines before it start.
        let at = at.map(|at| at + csv.as_bytes().get(at..).map_or(0, |rest| rest.iter().take_while(|b| matches!(b, b'\n' | b'\r')).count()));
        if let Some(at) = at.filter(|at| *at >= counted_to && *at <= csv.len()) {
            line += csv.as_bytes()[counted_to..at].iter().filter(|b| **b == b'\n').count() as u64;
            counted_to = at;
        }
        let record = match record {
            Ok(record) => record,
            Err(_) => {
                parsed.errors.push(ImportLineError { line, value: String::new(), message: "not readable as CSV (a quote left open, or not UTF-8)".into() });
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        if columns.is_none() {
            if record.get(0).is_some_and(|first| first.eq_ignore_ascii_case("value")) || index == 0 && looks_like_header(&record) {
                columns = Some(header(&record)?);
                continue;
            }
            columns = Some(POSITIONAL);
        }
        let columns = columns.as_ref().unwrap_or(&POSITIONAL);
        entries += 1;
        if entries > MAX_IMPORT_LINES {
            return Err(ImportError::TooManyLines);
        }
        let field = |at: Option<usize>| at.and_then(|i| record.get(i)).map(unescape_formula).unwrap_or_default();
        let raw_value = field(Some(columns.value));
        match line_of(kind, &raw_value, &field(columns.reason), &field(columns.expires_at), &field(columns.merchant_id), default_reason, now) {
            Ok(mut import) => {
                import.line = line;
                match seen.get(&import.key()) {
                    Some(first) => parsed.errors.push(ImportLineError { line, value: import.value, message: format!("repeats line {first}") }),
                    None => {
                        seen.insert(import.key(), line);
                        parsed.lines.push(import);
                    }
                }
            }
            Err(message) => parsed.errors.push(ImportLineError { line, value: raw_value.chars().take(255).collect(), message }),
        }
    }
    if entries == 0 && parsed.errors.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(parsed)
}

/// A first line none of whose fields could be a value but which names columns we know.
fn looks_like_header(record: &csv::StringRecord) -> bool {
    record.iter().any(|f| ["reason", "expires_at", "merchant_id"].contains(&f.to_ascii_lowercase().as_str()))
}

fn header(record: &csv::StringRecord) -> Result<Columns, ImportError> {
    let find = |name: &str| record.iter().position(|f| f.eq_ignore_ascii_case(name));
    Ok(Columns {
        value: find("value").ok_or(ImportError::NoValueColumn)?,
        reason: find("reason"),
        expires_at: find("expires_at"),
        merchant_id: find("merchant_id"),
    })
}

fn line_of(
    kind: ListKind,
    raw_value: &str,
    reason: &str,
    expires_at: &str,
    merchant_id: &str,
    default_reason: &str,
    now: DateTime<Utc>,
) -> Result<ImportLine, String> {
    if raw_value.is_empty() {
        return Err("the value is empty".into());
    }
    let reason = if reason.is_empty() { default_reason.trim() } else { reason };
    if reason.is_empty() {
        return Err("no reason: give one in the file's reason column or as the import's reason".into());
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(format!("the reason is longer than {MAX_REASON_CHARS} characters"));
    }
    let expires_at = match expires_at {
        "" => None,
        text => Some(expiry(text).ok_or_else(|| format!("{text:?} is not a date (2027-01-31) or a time (2027-01-31T12:00:00Z)"))?),
    };
    let merchant_id = match merchant_id {
        "" => None,
        text => Some(text.parse::<i32>().ok().filter(|id| *id > 0).ok_or_else(|| format!("{text:?} is not a merchant id"))?),
    };
    // The in-memory list's own checks: one list of one.
    let mut probe = Lists::default();
    probe.create("import", kind).map_err(|e| e.to_string())?;
    let entry = ListEntry { value: String::new(), reason: reason.to_string(), expires_at, added_by: String::new(), source: String::new(), merchant_id };
    let value = probe.add("import", raw_value, entry, now).map_err(|e| e.to_string())?;
    Ok(ImportLine { line: 0, value, reason: reason.to_string(), expires_at, merchant_id })
}

/// RFC 3339, or a date: the end of that day, UTC.
fn expiry(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(day.succ_opt()?.and_hms_opt(0, 0, 0)?.and_utc())
}

/// Spreadsheets run a cell that starts with = + - @ as a formula: an export writes such a cell
/// with a leading apostrophe, and an import takes the apostrophe off again.
pub fn escape_formula(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

fn unescape_formula(cell: &str) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest.to_string(),
        _ => cell.to_string(),
    }
}

/// A row of an export.
pub struct ExportRow {
    pub value: String,
    pub reason: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub merchant_id: Option<i32>,
    pub added_by: String,
    pub source: String,
    pub created_at: DateTime<Utc>,
}

pub const EXPORT_HEADER: [&str; 7] = ["value", "reason", "expires_at", "merchant_id", "added_by", "source", "created_at"];

/// The export's CSV: a header, then one line per entry; an import of it gives the same list.
pub fn write_export(rows: impl IntoIterator<Item = ExportRow>) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(EXPORT_HEADER);
    for row in rows {
        let _ = writer.write_record([
            escape_formula(&row.value),
            escape_formula(&row.reason),
            row.expires_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            row.merchant_id.map(|id| id.to_string()).unwrap_or_default(),
            escape_formula(&row.added_by),
            escape_formula(&row.source),
            row.created_at.to_rfc3339(),
        ]);
    }
    writer.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-07T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number_and_the_good_ones_are_kept() {
        let csv = "value,reason,expires_at\nAlice@Example.com,chargebacks,\nnot-an-email,,\n\nbob@example.com,,2020-01-01\ncarol@example.com,,2027-01-31\nalice@example.com,again,\n";
        let parsed = parse(ListKind::Email, csv, "imported", now()).unwrap();
        let lines: Vec<_> = parsed.lines.iter().map(|l| (l.line, l.value.as_str(), l.reason.as_str())).collect();
        assert_eq!(lines, vec![(2, "alice@example.com", "chargebacks"), (6, "carol@example.com", "imported")]);
        assert_eq!(parsed.lines[1].expires_at, Some("2027-02-01T00:00:00Z".parse().unwrap()));
        let errors: Vec<_> = parsed.errors.iter().map(|e| (e.line, e.message.as_str())).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(errors[0].0, 3);
        assert!(errors[0].1.contains("no @"), "{errors:?}");
        assert_eq!(errors[1], (5, "the expiry is in the past"));
        assert_eq!(errors[2], (7, "repeats line 2"));
    }

    #[test]
    fn without_a_header_the_columns_are_value_reason_expiry() {
        let parsed = parse(ListKind::Country, "ru,sanctions\nKP\n", "", now()).unwrap();
        assert_eq!(parsed.lines.iter().map(|l| l.value.as_str()).collect::<Vec<_>>(), vec!["RU"]);
        assert_eq!(parsed.errors[0].line, 2);
        assert!(parsed.errors[0].message.starts_with("no reason"));
    }

    #[test]
    fn whole_file_bounds_are_refused_before_any_line() {
        assert_eq!(parse(ListKind::Email, "", "r", now()).unwrap_err(), ImportError::Empty);
        assert_eq!(parse(ListKind::Email, "reason,value\n", "r", now()).unwrap_err(), ImportError::Empty);
        assert_eq!(parse(ListKind::Email, "reason\nx\n", "r", now()).unwrap_err(), ImportError::NoValueColumn);
        let big = "a".repeat(MAX_IMPORT_BYTES + 1);
        assert_eq!(parse(ListKind::Email, &big, "r", now()).unwrap_err(), ImportError::TooLarge(MAX_IMPORT_BYTES + 1));
        let at_bound: String = (0..MAX_IMPORT_LINES).map(|i| format!("{}\n", 100_000 + i)).collect();
        assert_eq!(parse(ListKind::CardBin, &at_bound, "r", now()).unwrap().lines.len() as u64, MAX_IMPORT_LINES);
        let over = format!("{at_bound}999999\n");
        assert_eq!(parse(ListKind::CardBin, &over, "r", now()).unwrap_err(), ImportError::TooManyLines);
        let reason = "r".repeat(MAX_REASON_CHARS);
        assert_eq!(parse(ListKind::Country, &format!("US,{reason}\nFR,{reason}r\n"), "", now()).unwrap().errors.len(), 1);
        assert_eq!(parse(ListKind::Country, "US", &format!("{reason}r"), now()).unwrap_err(), ImportError::ReasonTooLong);
    }

    #[test]
    fn an_export_imports_back_to_the_same_entries_formulas_included() {
        let rows = vec![
            ExportRow {
                value: "alice@example.com".into(),
                reason: "=HYPERLINK(\"x\"), with a comma".into(),
                expires_at: Some("2027-01-01T00:00:00Z".parse().unwrap()),
                merchant_id: Some(7),
                added_by: "admin@vetted.test".into(),
                source: "case:42".into(),
                created_at: now(),
            },
            ExportRow {
                value: "bob@example.com".into(),
                reason: "-1 refund".into(),
                expires_at: None,
                merchant_id: None,
                added_by: "seed".into(),
                source: "import".into(),
                created_at: now(),
            },
        ];
        let csv = String::from_utf8(write_export(rows)).unwrap();
        assert!(csv.contains("'=HYPERLINK"), "{csv}");
        let parsed = parse(ListKind::Email, &csv, "", now()).unwrap();
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let back: Vec<_> = parsed.lines.iter().map(|l| (l.value.as_str(), l.reason.as_str(), l.expires_at, l.merchant_id)).collect();
        assert_eq!(
            back,
            vec![
                ("alice@example.com", "=HYPERLINK(\"x\"), with a comma", Some("2027-01-01T00:00:00Z".parse().unwrap()), Some(7)),
                ("bob@example.com", "-1 refund", None, None),
            ]
        );
    }

    #[test]
    fn a_quote_left_open_swallows_the_rest_into_one_bad_line() {
        let parsed = parse(ListKind::Country, "US,ok\n\"FR,open quote\nDE,ok\n", "r", now()).unwrap();
        assert_eq!(parsed.lines.len(), 1);
        assert_eq!(parsed.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2]);
    }
}
