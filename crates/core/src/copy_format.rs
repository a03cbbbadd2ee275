//! PostgreSQL's binary `COPY` format for any entity's records, so the
//! loader only ships bytes. The column list comes from the entity's
//! description ([`EntityDescription::copy_columns`]).

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use chrono::{Local, TimeZone, Utc};
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use crate::entity::EntityDescription;
use crate::mapping::{Record, Value};

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// The one statement that loads an entity's records. Values never appear
/// in SQL: they travel in the COPY stream; the table and columns are the
/// description's own names.
pub fn copy_statement(description: &EntityDescription) -> String {
    format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        description.table,
        description.copy_columns().join(", ")
    )
}

/// A batch of records encoded as COPY tuples, remembering where each row's
/// tuple starts so any slice of the batch can be sent again alone.
#[derive(Debug, Default)]
pub struct CopyBatch {
    tuples: BytesMut,
    starts: Vec<usize>,
    source_rows: Vec<u64>,
    /// Per row, which values the file gave ([`Record::given`]).
    given: Vec<i64>,
}

impl CopyBatch {
    /// An empty batch with room for about `rows` rows.
    pub fn with_capacity(rows: usize) -> CopyBatch {
        CopyBatch::with_room(rows, 256)
    }

    /// An empty batch with room for `rows` rows of about `row_bytes` each
    /// (a good guess keeps the buffer from doubling past what it needs).
    pub fn with_room(rows: usize, row_bytes: usize) -> CopyBatch {
        CopyBatch {
            tuples: BytesMut::with_capacity(rows.saturating_mul(row_bytes)),
            starts: Vec::with_capacity(rows),
            source_rows: Vec::with_capacity(rows),
            given: Vec::with_capacity(rows),
        }
    }

    /// Appends one record with its key and the import it belongs to, in the
    /// order of [`copy_statement`]. Links must be resolved ([`Value::Key`]);
    /// an unresolved name is stored as NULL.
    pub fn push(&mut self, record: &Record, id: Uuid, import_id: i64) {
        self.starts.push(self.tuples.len());
        self.source_rows.push(record.source_row);
        self.given.push(record.given as i64);
        let out = &mut self.tuples;
        let count = 1 + record.values.len() + 3;
        out.put_i16(i16::try_from(count).unwrap_or(i16::MAX));
        put_bytes(out, id.as_bytes());
        for value in &record.values {
            put_value(out, value);
        }
        match record.notes.to_json() {
            Some(notes) => put_bytes(out, notes.as_bytes()),
            None => out.put_i32(-1),
        }
        put_bytes(out, &import_id.to_be_bytes());
        // Spreadsheet rows fit in an int4 (Excel stops at 1,048,576).
        let source_row = i32::try_from(record.source_row).unwrap_or(i32::MAX);
        put_bytes(out, &source_row.to_be_bytes());
    }

    /// Moves the rows of `other` to the end of this batch.
    pub fn append(&mut self, other: CopyBatch) {
        if self.is_empty() {
            *self = other;
            return;
        }
        let base = self.tuples.len();
        self.tuples.extend_from_slice(&other.tuples);
        self.starts
            .extend(other.starts.iter().map(|start| base + start));
        self.source_rows.extend(other.source_rows);
        self.given.extend(other.given);
    }

    /// Number of rows in the batch.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether the batch holds no rows.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The encoded size, for sizing the next batch.
    pub fn bytes(&self) -> usize {
        self.tuples.len()
    }

    /// The batch, done: its tuples can now be sent in slices without copying.
    pub fn freeze(self) -> ReadyBatch {
        ReadyBatch {
            tuples: self.tuples.freeze(),
            starts: self.starts,
            source_rows: self.source_rows,
            given: self.given,
        }
    }
}

/// A batch ready to send: any run of its rows is a COPY stream made of the
/// header, a slice of the tuples (shared, not copied) and the trailer.
#[derive(Debug)]
pub struct ReadyBatch {
    tuples: Bytes,
    starts: Vec<usize>,
    source_rows: Vec<u64>,
    given: Vec<i64>,
}

impl ReadyBatch {
    /// Number of rows in the batch.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether the batch holds no rows.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The spreadsheet row numbers of the batch's rows, in order.
    pub fn source_rows(&self) -> &[u64] {
        &self.source_rows
    }

    /// Per row, the bits of the values the file gave ([`Record::given`]),
    /// as the `int8` an update reads them from.
    pub fn given(&self) -> &[i64] {
        &self.given
    }

    /// A complete COPY stream of `rows`: header, tuples, trailer.
    pub fn payload(&self, rows: Range<usize>) -> [Bytes; 3] {
        let at = |index: usize| self.starts.get(index).copied().unwrap_or(self.tuples.len());
        let mut header = BytesMut::with_capacity(SIGNATURE.len() + 8);
        header.put_slice(SIGNATURE);
        header.put_i32(0); // flags
        header.put_i32(0); // header extension length
        [
            header.freeze(),
            self.tuples.slice(at(rows.start)..at(rows.end)),
            Bytes::from_static(&[0xff, 0xff]), // -1: no more tuples
        ]
    }
}

fn put_bytes(out: &mut BytesMut, value: &[u8]) {
    // Values are bounded by the column limits checked in mapping, and a
    // PostgreSQL field cannot exceed 1 GB, so the length fits in an i32.
    out.put_i32(i32::try_from(value.len()).unwrap_or(i32::MAX));
    out.put_slice(value);
}

/// One value in its column type's binary form.
fn put_value(out: &mut BytesMut, value: &Value) {
    match value {
        Value::Null | Value::LinkName(_) => out.put_i32(-1),
        Value::Text(text) => put_bytes(out, text.as_bytes()),
        Value::Label(label) => put_bytes(out, label.as_bytes()),
        Value::Bool(value) => put_bytes(out, &[u8::from(*value)]),
        Value::Int(value) => put_bytes(out, &value.to_be_bytes()),
        Value::Key(key) => put_bytes(out, key.as_bytes()),
        Value::Money(amount) => put_sql(out, amount, &Type::NUMERIC),
        Value::Date(date) => put_sql(out, date, &Type::DATE),
        Value::Timestamp(moment) => {
            // A sheet's times are the broker's wall clock: this machine's zone.
            let utc = Local.from_local_datetime(moment).earliest().map_or_else(
                || Utc.from_utc_datetime(moment),
                |local| local.with_timezone(&Utc),
            );
            put_sql(out, &utc, &Type::TIMESTAMPTZ);
        }
    }
}

/// A value in the binary form tokio-postgres gives it, behind its length.
fn put_sql<T: ToSql>(out: &mut BytesMut, value: &T, kind: &Type) {
    let length_at = out.len();
    out.put_i32(0);
    match value.to_sql(kind, out) {
        Ok(_) => {
            let length = i32::try_from(out.len() - length_at - 4).unwrap_or(i32::MAX);
            out[length_at..length_at + 4].copy_from_slice(&length.to_be_bytes());
        }
        // Only out-of-range values fail (a date past year 294,276): NULL.
        Err(_) => {
            out.truncate(length_at);
            out.put_i32(-1);
        }
    }
}
