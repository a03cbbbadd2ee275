//! The spec's "nothing is lost" rule as a property: for generated sheets,
//! every non-empty cell of every imported row is found again in the mapped
//! record or in its import_notes.

use pantry_import::organization::{Organization, OrganizationMapper};
use pantry_import::spreadsheet::SheetRow;
use proptest::prelude::*;

fn header() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Organizations".to_owned()),
        Just("Name".to_owned()),
        Just("PRIORITY-FOCUS (A-D)".to_owned()),
        Just("SEGMENT".to_owned()),
        Just("DISTRIBUTOR".to_owned()),
        Just("PRIMARY ACCT. MANAGER".to_owned()),
        Just("LINKEDIN".to_owned()),
        Just("PHONE".to_owned()),
        Just("STREET ADDRESS".to_owned()),
        Just("CITY".to_owned()),
        Just("STATE".to_owned()),
        Just("Zip Code".to_owned()),
        Just("NOTES".to_owned()),
        Just("TERRITORY".to_owned()),
        Just("Email".to_owned()),
        Just(String::new()),
        "[A-Za-z .()-]{1,12}",
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
        "[a-zA-Z0-9 ,.\"'@()+-]{1,16}",
        "\\PC{1,10}",
    ]
}

fn sheet() -> impl Strategy<Value = (Vec<String>, Vec<Vec<String>>)> {
    prop::collection::vec(header(), 1..9).prop_flat_map(|headers| {
        let width = headers.len();
        let rows = prop::collection::vec(prop::collection::vec(cell(), 0..width + 3), 1..20);
        (Just(headers), rows)
    })
}

/// Every value the record holds, mapped fields and import_notes values.
fn stored_values(organization: &Organization) -> Vec<String> {
    let mut values = vec![
        organization.name.clone(),
        organization.priority.label().to_owned(),
        organization.segment.clone(),
    ];
    values.extend(
        [
            &organization.primary_manager_name,
            &organization.secondary_manager_name,
            &organization.website,
            &organization.phone,
            &organization.address_line_1,
            &organization.city,
            &organization.state_province,
            &organization.postal_code,
            &organization.notes,
        ]
        .into_iter()
        .flatten()
        .cloned(),
    );
    if let Some(notes) = &organization.import_notes {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(notes).expect("import_notes is a JSON object");
        values.extend(
            object
                .values()
                .map(|v| v.as_str().expect("string values").to_owned()),
        );
    }
    values
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_non_empty_cell_survives((headers, rows) in sheet()) {
        let mut mapper = OrganizationMapper::new(&headers);
        for (index, cells) in rows.iter().enumerate() {
            let row = SheetRow::from_cells(index as u64 + 2, cells.iter().map(String::as_str));
            let outcome = mapper.map_row(&row);
            let Some(organization) = outcome.organization else {
                // A failed row is reported with its cells, not stored.
                prop_assert!(!outcome.issues.is_empty());
                continue;
            };
            let stored = stored_values(&organization);
            for cell in cells.iter().filter(|c| !c.trim().is_empty()) {
                prop_assert!(
                    stored.iter().any(|v| v == cell || v == cell.trim()),
                    "cell {cell:?} of row {} is lost; stored: {stored:?}",
                    index + 2
                );
            }
        }
    }
}
