//! PostgreSQL's binary `COPY` format for organizations, encoded on the
//! reading thread so the loader only ships bytes.

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use uuid::Uuid;

use crate::organization::Organization;

/// The one statement that loads organizations. Values never appear in SQL:
/// they travel in the COPY stream.
pub const COPY_ORGANIZATIONS: &str = "COPY organizations (id, name, type, priority, segment, \
    primary_manager_name, secondary_manager_name, website, phone, address_line_1, city, \
    state_province, postal_code, country, notes, is_active, import_notes, import_batch_id, \
    import_source_row) FROM STDIN (FORMAT binary)";

const FIELD_COUNT: i16 = 19;
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// A batch of organizations encoded as COPY tuples, remembering where each
/// row's tuple starts so any slice of the batch can be sent again alone.
#[derive(Debug, Default)]
pub struct CopyBatch {
    tuples: BytesMut,
    starts: Vec<usize>,
    source_rows: Vec<u64>,
}

impl CopyBatch {
    /// An empty batch with room for about `rows` rows.
    pub fn with_capacity(rows: usize) -> CopyBatch {
        CopyBatch {
            tuples: BytesMut::with_capacity(rows * 256),
            starts: Vec::with_capacity(rows),
            source_rows: Vec::with_capacity(rows),
        }
    }

    /// Appends one organization with its key and the import it belongs to.
    pub fn push(&mut self, organization: &Organization, id: Uuid, import_id: i64) {
        self.starts.push(self.tuples.len());
        self.source_rows.push(organization.source_row);
        let out = &mut self.tuples;
        out.put_i16(FIELD_COUNT);
        put_bytes(out, id.as_bytes());
        put_text(out, Some(&organization.name));
        put_text(out, Some(organization.organization_type.label()));
        put_text(out, Some(organization.priority.label()));
        put_text(out, Some(&organization.segment));
        put_text(out, organization.primary_manager_name.as_deref());
        put_text(out, organization.secondary_manager_name.as_deref());
        put_text(out, organization.website.as_deref());
        put_text(out, organization.phone.as_deref());
        put_text(out, organization.address_line_1.as_deref());
        put_text(out, organization.city.as_deref());
        put_text(out, organization.state_province.as_deref());
        put_text(out, organization.postal_code.as_deref());
        put_text(out, Some(organization.country));
        put_text(out, organization.notes.as_deref());
        put_bytes(out, &[u8::from(organization.is_active)]);
        put_text(out, organization.import_notes.as_deref());
        put_bytes(out, &import_id.to_be_bytes());
        // Spreadsheet rows fit in an int4 (Excel stops at 1,048,576).
        let source_row = i32::try_from(organization.source_row).unwrap_or(i32::MAX);
        put_bytes(out, &source_row.to_be_bytes());
    }

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

    /// A complete COPY stream (header, the tuples of `rows`, trailer).
    pub fn payload(&self, rows: Range<usize>) -> Bytes {
        let start = self
            .starts
            .get(rows.start)
            .copied()
            .unwrap_or(self.tuples.len());
        let end = self
            .starts
            .get(rows.end)
            .copied()
            .unwrap_or(self.tuples.len());
        let mut out = BytesMut::with_capacity(end - start + SIGNATURE.len() + 10);
        out.put_slice(SIGNATURE);
        out.put_i32(0); // flags
        out.put_i32(0); // header extension length
        out.put_slice(&self.tuples[start..end]);
        out.put_i16(-1);
        out.freeze()
    }
}

fn put_bytes(out: &mut BytesMut, value: &[u8]) {
    // Values are bounded by the column limits checked in mapping, and a
    // PostgreSQL field cannot exceed 1 GB, so the length fits in an i32.
    out.put_i32(i32::try_from(value.len()).unwrap_or(i32::MAX));
    out.put_slice(value);
}

fn put_text(out: &mut BytesMut, value: Option<&str>) {
    match value {
        Some(text) => put_bytes(out, text.as_bytes()),
        None => out.put_i32(-1),
    }
}
