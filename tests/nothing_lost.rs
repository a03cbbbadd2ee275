//! The spec's "nothing is lost" rule as a property, for every entity: for
//! generated sheets, every non-empty cell of every stored row is found again
//! under its own column: as the value of the field its column fills, or in
//! import_notes under the column's header.

use pantry_core::entity::{Entity, FieldKind};
use pantry_core::mapping::{ColumnRole, Record, RowMapper, Value};
use pantry_core::spreadsheet::SheetRow;
use pantry_core::values;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

/// Headers of `entity`: its aliases, unknown headers, blanks.
fn header(entity: Entity) -> impl Strategy<Value = String> {
    let aliases: Vec<String> = entity
        .description()
        .fields
        .iter()
        .flat_map(|f| f.aliases.iter().map(|a| (*a).to_owned()))
        .collect();
    prop_oneof![
        4 => prop::sample::select(aliases),
        1 => Just("TERRITORY".to_owned()),
        1 => Just("Email".to_owned()),
        1 => Just(String::new()),
        1 => "[A-Za-z .()-]{1,12}",
    ]
}

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("  ".to_owned()),
        Just("A+".to_owned()),
        Just("b".to_owned()),
        Just("High".to_owned()),
        Just("distributor".to_owned()),
        Just("Fine Dining".to_owned()),
        Just("7030".to_owned()),
        Just("07030".to_owned()),
        Just("Mary Ann Smith".to_owned()),
        Just("Cher".to_owned()),
        Just("Decision Maker".to_owned()),
        Just("Meat & Poultry".to_owned()),
        Just("closed won".to_owned()),
        Just("Phone Call".to_owned()),
        Just("$1,234.50".to_owned()),
        Just("12.345".to_owned()),
        Just("75%".to_owned()),
        Just("0.75".to_owned()),
        Just("3 weeks".to_owned()),
        Just("6 months".to_owned()),
        Just("1h 30m".to_owned()),
        Just("3/14/2024".to_owned()),
        Just("14/3/2024".to_owned()),
        Just("2024-03-14 10:30:00".to_owned()),
        Just("yes".to_owned()),
        Just("maybe".to_owned()),
        Just("jane@acme.com".to_owned()),
        Just("call".to_owned()),
        Just("dairy".to_owned()),
        Just("2024-03-14".to_owned()),
        "[a-zA-Z0-9 ,.\"'@()+-]{1,16}",
        "\\PC{1,10}",
    ]
}

/// A cell for column `header`: mostly a value its field accepts when the
/// field is required (so rows get stored), else anything.
fn cell_for(entity: Entity, header: &str) -> BoxedStrategy<String> {
    let description = entity.description();
    let field = description
        .field_for_header(header)
        .map(|i| &description.fields[i])
        .filter(|f| f.required);
    let valid: BoxedStrategy<String> = match field.map(|f| &f.kind) {
        Some(FieldKind::Enum { enumeration, .. }) => {
            let labels: Vec<String> = enumeration
                .values
                .iter()
                .map(|(l, _)| (*l).to_owned())
                .collect();
            prop::sample::select(labels).boxed()
        }
        Some(FieldKind::DateTime | FieldKind::Date) => prop_oneof![
            Just("2024-03-14".to_owned()),
            Just("3/14/2024 9:05 AM".to_owned())
        ]
        .boxed(),
        Some(_) => "[A-Za-z]{1,8}( [A-Za-z]{1,8}){0,2}".boxed(),
        None => return cell().boxed(),
    };
    prop_oneof![4 => valid, 1 => cell()].boxed()
}

/// Sheets with the entity's required columns first (so most rows are
/// stored and checked), then any headers.
fn sheet(entity: Entity) -> impl Strategy<Value = (Vec<String>, Vec<Vec<String>>)> {
    let required: Vec<String> = entity
        .description()
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.aliases[0].to_owned())
        .collect();
    prop::collection::vec(header(entity), 1..10).prop_flat_map(move |more| {
        let mut headers = required.clone();
        headers.extend(more);
        let columns: Vec<BoxedStrategy<String>> = headers
            .iter()
            .map(|h| cell_for(entity, h))
            .chain(std::iter::repeat_with(|| cell().boxed()).take(2))
            .collect();
        let rows = prop::collection::vec(columns, 1..16);
        (Just(headers), rows)
    })
}

/// Whether `value` is a faithful reading of `cell` for a field of `kind`
/// whose reading changes only the way it is written (`$1,234.50` is 1234.50).
fn same_reading(kind: &FieldKind, cell: &str, value: &Value) -> bool {
    let parsed = match kind {
        FieldKind::Money(digits) => {
            values::money(cell, *digits).map(|p| (Value::Money(p.value), p.warning))
        }
        FieldKind::WholeNumber => {
            values::whole_number(cell).map(|p| (Value::Int(p.value), p.warning))
        }
        FieldKind::Probability => {
            values::probability(cell).map(|p| (Value::Int(p.value), p.warning))
        }
        FieldKind::YesNo { .. } => {
            return values::yes_no(cell).is_some_and(|b| *value == Value::Bool(b));
        }
        _ => return false,
    };
    matches!(parsed, Ok((read, None)) if read == *value)
}

/// The complaint about `cell` of column `index`, or `None` when it is found again.
fn lost(mapper: &RowMapper, record: &Record, index: usize, cell: &str) -> Option<String> {
    let columns = mapper.columns();
    let label = columns.label(index);
    let trimmed = cell.trim();
    if record
        .notes
        .get(&label)
        .is_some_and(|kept| kept == cell || kept == trimmed)
    {
        return None;
    }
    let Some(ColumnRole::Field(field)) = columns.roles().get(index).copied() else {
        return Some(format!("column {label} is not in import_notes"));
    };
    let description = record.entity.description();
    let spec = &description.fields[field];
    let value = record.get(spec.column).cloned().unwrap_or(Value::Null);
    if value.written_as(trimmed) || same_reading(&spec.kind, trimmed, &value) {
        return None;
    }
    Some(format!(
        "column {label} ({}) holds {value:?}, and import_notes has {:?}",
        spec.column,
        record.notes.get(&label)
    ))
}

/// Checks every stored row of the sheet; returns how many were stored.
fn check_sheet(
    entity: Entity,
    headers: &[String],
    rows: &[Vec<String>],
) -> Result<u64, TestCaseError> {
    let mut mapper = RowMapper::new(entity, headers);
    let mut checked = 0;
    for (index, cells) in rows.iter().enumerate() {
        let number = index as u64 + 2;
        let row = SheetRow::from_cells(number, cells.iter().map(String::as_str));
        let outcome = mapper.map_row(&row);
        let Some(record) = outcome.record().cloned() else {
            // A failed row is reported with its cells, not stored.
            prop_assert!(!outcome.issues.is_empty());
            continue;
        };
        checked += 1;
        // Each cell as the sheet reads it: a formula guard that an export
        // or error report wrote (`'=x`) is taken off when read.
        for column in 0..row.len() {
            let cell = row.get(column);
            if cell.trim().is_empty() {
                continue;
            }
            if let Some(complaint) = lost(&mapper, &record, column, cell) {
                return Err(TestCaseError::fail(format!(
                    "{entity}: cell {cell:?} of row {number} is lost: {complaint}; headers {headers:?}"
                )));
            }
        }
    }
    Ok(checked)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn organizations_keep_every_cell((headers, rows) in sheet(Entity::Organizations)) {
        check_sheet(Entity::Organizations, &headers, &rows)?;
    }

    #[test]
    fn contacts_keep_every_cell((headers, rows) in sheet(Entity::Contacts)) {
        check_sheet(Entity::Contacts, &headers, &rows)?;
    }

    #[test]
    fn products_keep_every_cell((headers, rows) in sheet(Entity::Products)) {
        check_sheet(Entity::Products, &headers, &rows)?;
    }

    #[test]
    fn opportunities_keep_every_cell((headers, rows) in sheet(Entity::Opportunities)) {
        check_sheet(Entity::Opportunities, &headers, &rows)?;
    }

    #[test]
    fn interactions_keep_every_cell((headers, rows) in sheet(Entity::Interactions)) {
        check_sheet(Entity::Interactions, &headers, &rows)?;
    }
}

/// Enough rows are stored for the property to mean something.
#[test]
fn most_generated_rows_are_stored_and_checked() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = sheet(Entity::Interactions);
    let (mut rows, mut stored) = (0, 0);
    for _ in 0..64 {
        let (headers, sheet_rows) = strategy.new_tree(&mut runner).unwrap().current();
        rows += sheet_rows.len() as u64;
        stored += check_sheet(Entity::Interactions, &headers, &sheet_rows).unwrap();
    }
    assert!(
        stored * 20 > rows,
        "only {stored} of {rows} interaction rows were stored"
    );
}

/// The check itself can fail: a cell that vanished is caught.
#[test]
fn a_lost_cell_is_caught() {
    let headers = vec![
        "First Name".to_owned(),
        "Last Name".to_owned(),
        "Role".to_owned(),
    ];
    let mut mapper = RowMapper::new(Entity::Contacts, &headers);
    let row = SheetRow::from_cells(2, ["Jane", "Smith", "Chef"]);
    let mut record = mapper.map_row(&row).record().cloned().expect("imports");
    assert!(lost(&mapper, &record, 2, "Chef").is_none());
    record.notes = Default::default();
    assert!(lost(&mapper, &record, 2, "Chef").is_some());
}
