use super::row::is_totals_label;
use super::sheet::DateSurvey;
use super::*;
use crate::edits::SheetEdits;
use crate::saved_mapping::SavedMapping;
use crate::spreadsheet::SheetRow;
use crate::values::DateOrder;

const SEED_HEADERS: [&str; 14] = [
    "Organizations",
    "PRIORITY-FOCUS (A-D)",
    "SEGMENT",
    "DISTRIBUTOR",
    "PRIMARY ACCT. MANAGER",
    "SECONDARY ACCT. MANAGER",
    "LINKEDIN",
    "PHONE",
    "STREET ADDRESS",
    "CITY",
    "STATE",
    "Zip Code",
    "NOTES",
    "TERRITORY",
];

fn mapper_for(entity: Entity, headers: &[&str]) -> RowMapper {
    let headers: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    RowMapper::new(entity, &headers)
}

fn organizations() -> RowMapper {
    mapper_for(Entity::Organizations, &SEED_HEADERS)
}

fn row(number: u64, cells: &[&str]) -> SheetRow {
    SheetRow::from_cells(number, cells.iter().copied())
}

fn text(record: &Record, column: &str) -> Option<String> {
    record.text(column).map(Cow::into_owned)
}

fn messages(outcome: &RowOutcome) -> Vec<&str> {
    outcome.issues.iter().map(|i| i.message.as_str()).collect()
}

#[test]
fn a_full_organization_row_maps_as_the_spec_says() {
    let mut mapper = organizations();
    let outcome = mapper.map_row(&row(
        2,
        &[
            "  ABC Restaurant ",
            "High",
            "Distributor",
            "Sysco",
            "Jane Doe",
            "",
            "https://linkedin.com/company/abc",
            "(312) 555-0100",
            "1 Main St",
            "Chicago",
            "IL",
            "07030",
            "Met at show",
            "Chicago Metro",
        ],
    ));
    let org = outcome.record().cloned().expect("row imports");
    assert_eq!(text(&org, "name").as_deref(), Some("ABC Restaurant"));
    assert_eq!(org.get("priority"), Some(&Value::Label("C")));
    assert_eq!(text(&org, "segment").as_deref(), Some("Distribution"));
    assert_eq!(org.get("type"), Some(&Value::Label("distributor")));
    assert_eq!(
        text(&org, "primary_manager_name").as_deref(),
        Some("Jane Doe")
    );
    assert_eq!(org.get("secondary_manager_name"), Some(&Value::Null));
    assert_eq!(text(&org, "postal_code").as_deref(), Some("07030"));
    assert_eq!(
        org.notes.to_json().as_deref(),
        Some(
            r#"{"DISTRIBUTOR":"Sysco","TERRITORY":"Chicago Metro","PRIORITY-FOCUS (A-D)":"High","SEGMENT":"Distributor"}"#
        )
    );
    assert_eq!(outcome.issues.len(), 1);
    assert_eq!(
        outcome.issues[0].message,
        "Invalid priority value: 'High', imported as C"
    );
    assert_eq!(outcome.issues[0].column, "PRIORITY-FOCUS (A-D)");
    assert_eq!(outcome.issues[0].severity, Severity::Warning);
}

#[test]
fn priority_rules() {
    let mut mapper = organizations();
    let mut priority_of = |value: &str| {
        let outcome = mapper.map_row(&row(3, &[&format!("Org {value}"), value]));
        let record = outcome.record().cloned().expect("imports");
        (record.get("priority").cloned(), outcome.issues.len())
    };
    assert_eq!(priority_of(" b "), (Some(Value::Label("B")), 0));
    assert_eq!(priority_of(""), (Some(Value::Label("C")), 0));
    assert_eq!(priority_of("A+"), (Some(Value::Label("A")), 1));
    assert_eq!(priority_of("d-"), (Some(Value::Label("D")), 1));
    assert_eq!(priority_of("E"), (Some(Value::Label("C")), 1));
}

#[test]
fn segments_and_types() {
    let mut mapper = organizations();
    let mut segment_of = |value: &str| {
        let outcome = mapper.map_row(&row(4, &[&format!("Org {value}"), "", value]));
        let record = outcome.record().cloned().expect("imports");
        (
            text(&record, "segment").unwrap_or_default(),
            record.get("type").cloned(),
            outcome.issues.len(),
        )
    };
    let customer = Some(Value::Label("customer"));
    let distributor = Some(Value::Label("distributor"));
    assert_eq!(segment_of(""), ("General".to_owned(), customer.clone(), 0));
    assert_eq!(
        segment_of("chain/group  member"),
        ("Chain Restaurant".to_owned(), customer.clone(), 0)
    );
    assert_eq!(
        segment_of("Fine Dining"),
        ("Fine Dining".to_owned(), customer.clone(), 0)
    );
    assert_eq!(
        segment_of(" Food Truck "),
        ("Food Truck".to_owned(), customer.clone(), 1)
    );
    assert_eq!(
        segment_of("DISTRIBUTOR"),
        ("Distribution".to_owned(), distributor.clone(), 0)
    );
    // A CRM segment (as an export writes it) is kept with no warning.
    assert_eq!(
        segment_of("Casual Dining"),
        ("Casual Dining".to_owned(), customer, 0)
    );
    assert_eq!(
        segment_of("Distribution"),
        ("Distribution".to_owned(), distributor, 0)
    );
}

#[test]
fn a_type_column_wins_over_the_segment() {
    let mut mapper = mapper_for(Entity::Organizations, &["Name", "Segment", "Type"]);
    let typed = mapper.map_row(&row(2, &["Acme Foods", "Distributor", "Principal"]));
    let record = typed.record().cloned().expect("imports");
    assert_eq!(record.get("type"), Some(&Value::Label("principal")));
    assert_eq!(text(&record, "segment").as_deref(), Some("Distribution"));
    let blank = mapper.map_row(&row(3, &["Beta", "Distributor", ""]));
    assert_eq!(
        blank.record().cloned().unwrap().get("type"),
        Some(&Value::Label("distributor"))
    );
    let unknown = mapper.map_row(&row(4, &["Gamma", "Casual", "Friend"]));
    assert_eq!(unknown.issues.len(), 1);
    let record = unknown.record().cloned().unwrap();
    assert_eq!(record.get("type"), Some(&Value::Label("customer")));
    assert_eq!(record.notes.get("Type"), Some("Friend"));
}

#[test]
fn missing_name_fails_the_row_with_the_spec_message() {
    let mut mapper = organizations();
    let outcome = mapper.map_row(&row(12, &["   ", "A"]));
    assert!(outcome.record().is_none());
    assert_eq!(
        outcome.issues[0].to_string(),
        "row 12, Organizations: Missing required field 'name'"
    );
}

#[test]
fn duplicate_names_warn_with_both_rows() {
    let mut mapper = organizations();
    assert!(
        mapper
            .map_row(&row(23, &["ABC Restaurant"]))
            .issues
            .is_empty()
    );
    let outcome = mapper.map_row(&row(45, &["abc  restaurant"]));
    assert!(outcome.record().is_some());
    assert_eq!(
        outcome.issues[0].message,
        "Duplicate organization name: 'abc  restaurant' in rows 23, 45"
    );
}

#[test]
fn too_long_values_fail_the_row_naming_the_column() {
    let mut mapper = organizations();
    let long_city = "x".repeat(101);
    let mut cells = vec!["Org"; 10];
    cells[9] = &long_city;
    let outcome = mapper.map_row(&row(7, &cells));
    assert!(outcome.record().is_none());
    let last = outcome.issues.last().unwrap();
    assert_eq!(last.column, "CITY");
    assert!(last.message.contains("at most 100"), "{}", last.message);
}

#[test]
fn ragged_rows_and_odd_headers_keep_everything() {
    let headers: Vec<String> = ["Name", "", "Notes", "Notes", "Email"]
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
    let mut mapper = RowMapper::new(Entity::Organizations, &headers);
    let issues = mapper.columns().header_issues(1, &headers);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].column, "Notes (column D)");
    let outcome = mapper.map_row(&row(
        2,
        &["Org", "blank-headed", "n1", "n2", "bob@x", "extra"],
    ));
    assert_eq!(
        messages(&outcome),
        [
            "The row has more cells than the header; 'extra' is kept in import notes",
            "Invalid email format: 'bob@x'"
        ]
    );
    let org = outcome.record().cloned().unwrap();
    assert_eq!(text(&org, "notes").as_deref(), Some("n1"));
    // Organizations have an e-mail field (issue "Files from other systems").
    assert_eq!(text(&org, "email").as_deref(), Some("bob@x"));
    assert_eq!(
        org.notes.to_json().as_deref(),
        Some(r#"{"Column B":"blank-headed","Notes (column D)":"n2","Column F":"extra"}"#)
    );
}

#[test]
fn a_required_field_without_a_column_is_a_sheet_error() {
    let headers = vec!["City".to_owned(), "State".to_owned()];
    let columns = ColumnMap::new(Entity::Organizations, &headers);
    let issues = columns.header_issues(1, &headers);
    assert_eq!(issues[0].severity, Severity::Error);
    assert!(
        issues[0]
            .message
            .contains("No column holds the organization name"),
        "{}",
        issues[0].message
    );
    let products = vec!["Product".to_owned(), "Category".to_owned()];
    let issues = ColumnMap::new(Entity::Products, &products).header_issues(1, &products);
    assert_eq!(
        issues[0].message,
        "No column holds the product's principal: add a column headed 'Principal' (or 'Manufacturer', 'Brand', 'Supplier')"
    );
}

#[test]
fn short_zip_codes_get_their_zeros_back() {
    let mut mapper = organizations();
    let mut cells = vec![""; 12];
    cells[0] = "Org";
    cells[11] = "7030";
    let outcome = mapper.map_row(&row(2, &cells));
    let org = outcome.record().cloned().unwrap();
    assert_eq!(text(&org, "postal_code").as_deref(), Some("07030"));
    assert_eq!(
        org.notes.to_json().as_deref(),
        Some(r#"{"Zip Code":"7030"}"#)
    );
}

#[test]
fn nul_bytes_fail_the_row() {
    let mut mapper = organizations();
    let outcome = mapper.map_row(&row(9, &["Org\0"]));
    assert!(outcome.record().is_none());
    assert!(outcome.issues[0].message.contains("NUL"));
}

#[test]
fn contacts_split_a_full_name_at_the_last_space() {
    let mut mapper = mapper_for(
        Entity::Contacts,
        &["Contact Name", "Company", "Role", "Primary"],
    );
    assert!(mapper.columns().header_issues(1, &[]).is_empty());
    let outcome = mapper.map_row(&row(2, &["Mary Ann  Smith", "Acme", "DM", "x"]));
    let record = outcome.record().cloned().expect("imports");
    assert_eq!(text(&record, "first_name").as_deref(), Some("Mary Ann"));
    assert_eq!(text(&record, "last_name").as_deref(), Some("Smith"));
    assert_eq!(
        record.get("organization_id"),
        Some(&Value::LinkName("Acme".to_owned()))
    );
    assert_eq!(record.get("role"), Some(&Value::Label("decision_maker")));
    assert_eq!(record.get("is_primary_contact"), Some(&Value::Bool(true)));
    assert_eq!(record.notes.get("Contact Name"), Some("Mary Ann  Smith"));
    assert_eq!(
        messages(&outcome),
        ["'Mary Ann Smith' split into first name 'Mary Ann' and last name 'Smith'"]
    );
    // Two words split without a warning; one word fails the row.
    let plain = mapper.map_row(&row(3, &["John Smith", "", "", ""]));
    assert!(plain.issues.is_empty());
    let one = mapper.map_row(&row(4, &["Cher", "", "", ""]));
    assert!(one.record().is_none());
    assert_eq!(
        messages(&one),
        ["'Cher' is one word: a contact needs a first and a last name"]
    );
    // Last name first, as many lists write it.
    let reversed = mapper.map_row(&row(5, &["Delacroix,  Marc", "", "", ""]));
    let record = reversed.record().cloned().expect("imports");
    assert_eq!(text(&record, "first_name").as_deref(), Some("Marc"));
    assert_eq!(text(&record, "last_name").as_deref(), Some("Delacroix"));
    assert_eq!(
        messages(&reversed),
        [
            "'Delacroix,  Marc' read as last name, first name: first name 'Marc', last name 'Delacroix'"
        ]
    );
}

#[test]
fn contact_rules_role_email_primary_and_duplicates() {
    let mut mapper = mapper_for(
        Entity::Contacts,
        &[
            "First Name",
            "Last Name",
            "Organization",
            "Role",
            "E-mail",
            "Primary Contact",
            "Cell",
        ],
    );
    let outcome = mapper.map_row(&row(
        8,
        &[
            "John",
            "Doe",
            "Acme",
            "Chef",
            "john@company",
            "maybe",
            "312-555-0101",
        ],
    ));
    let record = outcome
        .record()
        .cloned()
        .expect("warnings never fail a row");
    assert_eq!(record.get("role"), Some(&Value::Null));
    assert_eq!(record.get("is_primary_contact"), Some(&Value::Bool(false)));
    assert_eq!(text(&record, "email").as_deref(), Some("john@company"));
    assert_eq!(
        text(&record, "mobile_phone").as_deref(),
        Some("312-555-0101")
    );
    assert_eq!(
        outcome
            .issues
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "row 8, Role: Unknown role 'Chef', left empty (the CRM knows decision_maker, influencer, buyer, end_user, gatekeeper, champion)",
            "row 8, E-mail: Invalid email format: 'john@company'",
            "row 8, Primary Contact: 'maybe' is not yes or no; imported as no",
        ]
    );
    assert_eq!(record.notes.get("Role"), Some("Chef"));
    let again = mapper.map_row(&row(
        9,
        &["Johnny", "Doe", "Other", "", "JOHN@company", "", ""],
    ));
    assert!(
        messages(&again).contains(&"Duplicate contact email: 'JOHN@company' in rows 8, 9"),
        "{:?}",
        messages(&again)
    );
    // Without an email, the same name at the same organization.
    let first = mapper.map_row(&row(10, &["Ann", "Lee", "Acme", "", "", "", ""]));
    assert!(first.issues.is_empty());
    let second = mapper.map_row(&row(11, &["ann", "LEE", "acme", "", "", "", ""]));
    assert_eq!(
        messages(&second),
        ["Duplicate contact name: 'ann LEE' of 'acme' in rows 10, 11"]
    );
    let elsewhere = mapper.map_row(&row(12, &["Ann", "Lee", "Beta", "", "", "", ""]));
    assert!(elsewhere.issues.is_empty());
}

#[test]
fn product_rules() {
    let mut mapper = mapper_for(
        Entity::Products,
        &[
            "Product",
            "Manufacturer",
            "Item #",
            "Category",
            "Cost",
            "Case Price",
            "MOQ",
            "Shelf Life",
            "Active",
        ],
    );
    let outcome = mapper.map_row(&row(
        2,
        &[
            "Ketchup",
            "Heinz",
            "00123",
            "Dry Goods",
            "$1,234.567",
            "(12.00)",
            "1,000",
            "6 months",
            "",
        ],
    ));
    assert!(outcome.record().is_none(), "negative money fails the row");
    assert_eq!(
        outcome
            .issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .count(),
        1
    );
    let outcome = mapper.map_row(&row(
        3,
        &[
            "Ketchup",
            "Heinz",
            "00123",
            "Grocery",
            "$1,234.567",
            "$24.00",
            "1,000",
            "3 weeks",
            "no",
        ],
    ));
    let record = outcome.record().cloned().expect("imports");
    assert_eq!(text(&record, "sku").as_deref(), Some("00123"));
    assert_eq!(record.get("category"), Some(&Value::Label("dry_goods")));
    assert_eq!(text(&record, "unit_cost").as_deref(), Some("1234.57"));
    assert_eq!(text(&record, "list_price").as_deref(), Some("24.00"));
    assert_eq!(record.get("min_order_quantity"), Some(&Value::Int(1000)));
    assert_eq!(record.get("shelf_life_days"), Some(&Value::Int(21)));
    assert_eq!(record.get("is_active"), Some(&Value::Bool(false)));
    assert_eq!(record.notes.get("Cost"), Some("$1,234.567"));
    assert_eq!(record.notes.get("Shelf Life"), Some("3 weeks"));
    assert_eq!(record.notes.get("Category"), Some("Grocery"));
    let blank_active = mapper.map_row(&row(
        4,
        &["Mustard", "Heinz", "", "dairy", "", "", "", "", ""],
    ));
    assert_eq!(
        blank_active.record().cloned().unwrap().get("is_active"),
        Some(&Value::Bool(true))
    );
    let unknown = mapper.map_row(&row(
        5,
        &["Napkins", "Acme", "", "Linens", "", "", "", "", ""],
    ));
    assert!(unknown.record().is_none());
    assert!(
        messages(&unknown)[0].starts_with("Unknown category 'Linens': use one of beverages, dairy")
    );
    let no_principal = mapper.map_row(&row(6, &["Soap", "", "", "Cleaning", "", "", "", "", ""]));
    assert_eq!(
        messages(&no_principal),
        ["Missing required field 'principal'"]
    );
    // The same SKU twice for one principal.
    let twice = mapper.map_row(&row(
        7,
        &[
            "Ketchup 2",
            "heinz",
            "00123",
            "dry goods",
            "",
            "",
            "",
            "",
            "",
        ],
    ));
    assert_eq!(
        messages(&twice),
        ["Duplicate product SKU: '00123' of 'heinz' in rows 3, 7"]
    );
}

#[test]
fn opportunity_rules() {
    let mut mapper = mapper_for(
        Entity::Opportunities,
        &[
            "Deal Name",
            "Customer",
            "Stage",
            "Amount",
            "Win %",
            "Close Date",
        ],
    );
    let outcome = mapper.map_row(&row(
        2,
        &["Q3 menu", "Acme", "Won", "$12,500", "0.75", "3/14/24"],
    ));
    let record = outcome.record().cloned().expect("imports");
    assert_eq!(record.get("stage"), Some(&Value::Label("Closed - Won")));
    assert_eq!(
        text(&record, "estimated_value").as_deref(),
        Some("12500.00")
    );
    assert_eq!(record.get("probability"), Some(&Value::Int(75)));
    assert_eq!(
        text(&record, "expected_close_date").as_deref(),
        Some("2024-03-14")
    );
    assert_eq!(messages(&outcome), ["'0.75' read as 75%"]);
    let blank = mapper.map_row(&row(3, &["Q4", "Acme", "", "", "75%", ""]));
    assert_eq!(
        blank.record().cloned().unwrap().get("stage"),
        Some(&Value::Label("New Lead"))
    );
    let unknown = mapper.map_row(&row(4, &["Q5", "Acme", "Negotiating", "", "", ""]));
    let record = unknown
        .record()
        .cloned()
        .expect("unknown stage is a warning");
    assert_eq!(record.get("stage"), Some(&Value::Label("New Lead")));
    let over = mapper.map_row(&row(5, &["Q6", "Acme", "", "", "120", ""]));
    assert!(over.record().is_none());
    let impossible = mapper.map_row(&row(6, &["Q7", "Acme", "", "", "", "2/30/2024"]));
    assert!(impossible.record().is_none());
    let no_customer = mapper.map_row(&row(7, &["Q8", "", "", "", "", ""]));
    assert_eq!(
        messages(&no_customer),
        ["Missing required field 'organization'"]
    );
}

#[test]
fn interaction_rules() {
    let mut mapper = mapper_for(
        Entity::Interactions,
        &[
            "Activity Type",
            "Subject",
            "Date",
            "Duration",
            "Follow-up Required",
            "Contact",
        ],
    );
    let outcome = mapper.map_row(&row(
        2,
        &[
            "Phone Call",
            "Menu review",
            "3/14/2024 2:30 PM",
            "1h 30m",
            "Y",
            "jane@acme.com",
        ],
    ));
    let record = outcome.record().cloned().expect("imports");
    assert_eq!(record.get("type"), Some(&Value::Label("call")));
    assert_eq!(
        text(&record, "interaction_date").as_deref(),
        Some("2024-03-14 14:30:00")
    );
    assert_eq!(record.get("duration_minutes"), Some(&Value::Int(90)));
    assert_eq!(record.get("follow_up_required"), Some(&Value::Bool(true)));
    assert_eq!(
        record.get("contact_id"),
        Some(&Value::LinkName("jane@acme.com".to_owned()))
    );
    let no_date = mapper.map_row(&row(3, &["call", "Check in", "", "", "", ""]));
    assert_eq!(
        messages(&no_date),
        ["Missing required field 'interaction_date'"]
    );
    let unknown = mapper.map_row(&row(
        4,
        &["Carrier pigeon", "Check in", "2024-01-02", "", "", ""],
    ));
    assert!(unknown.record().is_none());
    assert!(messages(&unknown)[0].contains("use one of call, email, meeting"));
}

#[test]
fn date_columns_are_read_in_one_order() {
    let mut day_first = DateSurvey::default();
    for cell in ["3/4/2024", "25/3/2024", "2024-01-02", ""] {
        day_first.add(cell);
    }
    let (order, notice) = day_first.decide("Close Date").expect("a notice");
    assert_eq!(order, DateOrder::DayFirst);
    assert!(
        notice.contains("'Close Date'") && notice.contains("day first"),
        "{notice}"
    );
    let mut ambiguous = DateSurvey::default();
    for cell in ["3/4/2024", "5/6/2024"] {
        ambiguous.add(cell);
    }
    let (order, notice) = ambiguous.decide("Date").expect("a notice");
    assert_eq!(order, DateOrder::MonthFirst);
    assert!(notice.contains("month first"), "{notice}");
    let mut us = DateSurvey::default();
    for cell in ["3/14/2024", "5/6/2024"] {
        us.add(cell);
    }
    assert!(us.decide("Date").is_none());
    let mut iso = DateSurvey::default();
    iso.add("2024-03-14");
    assert!(iso.decide("Date").is_none());
}

#[test]
fn totals_labels_are_told_from_names_that_start_with_total() {
    for label in [
        "Total",
        "TOTALS",
        "Grand Total",
        "Subtotal:",
        "Sum",
        "Total: 7 accounts",
        "TOTAL / Total: 7 accounts",
        "total 12",
        "TOTAL ACCOUNTS",
        "Total accounts: 12",
        "Pipeline total",
        "Illinois/Indiana subtotal",
        "Chicago subtotal: 12",
        "Q3 Totals",
    ] {
        assert!(is_totals_label(label), "{label}");
    }
    for name in [
        "Total Wine & More",
        "Totally Tacos",
        "Summit Foods",
        "Sum Yung Guys Restaurant",
        "Hoboken Provisions",
        "Dim Sum",
        "Total Foods Catering",
        "Grand Total Catering",
        "Sum Total Catering",
        "",
    ] {
        assert!(!is_totals_label(name), "{name}");
    }
}

#[test]
fn a_header_that_almost_names_a_field_takes_it_and_a_vague_one_does_not() {
    let headers: Vec<String> = ["Organisation", "Acct Mgr", "Citty", "Dept"]
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
    let columns = ColumnMap::new(Entity::Organizations, &headers);
    assert_eq!(columns.target(0), "name");
    assert_eq!(columns.target(1), "import notes");
    assert_eq!(columns.target(2), "city");
    assert_eq!(columns.target(3), "import notes");
}

#[test]
fn a_totals_row_the_broker_keeps_imports_like_any_other() {
    let headers: Vec<String> = ["Organization", "City"]
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
    let mut mapper = RowMapper::new(Entity::Organizations, &headers);
    let totals = row(9, &["Total: 7 accounts", "Chicago"]);
    assert!(matches!(mapper.map_row(&totals).fate, RowFate::TotalsRow));
    mapper.set_edits(&SheetEdits {
        kept_totals_rows: [9].into(),
        ..SheetEdits::default()
    });
    let kept = mapper.map_row(&totals);
    assert!(!matches!(kept.fate, RowFate::TotalsRow));
    let record = kept.record().cloned().expect("the kept row imports");
    assert_eq!(text(&record, "name").as_deref(), Some("Total: 7 accounts"));
    // Only the row named is kept.
    assert!(matches!(
        mapper.map_row(&row(10, &["Grand Total", ""])).fate,
        RowFate::TotalsRow
    ));
}

#[test]
fn unrecognised_and_replaced_values_are_counted_per_enumerated_field() {
    let headers: Vec<String> = ["Organization", "Segment", "Priority", "City"]
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
    let mapping = SavedMapping {
        values: [(
            "priority".to_owned(),
            [("Top".to_owned(), "A".to_owned())].into(),
        )]
        .into(),
        ..SavedMapping::default()
    };
    let mut mapper = RowMapper::with_mapping(Entity::Organizations, &headers, &mapping);
    mapper.tally_values();
    for (number, cells) in [
        (2, ["A", "Food Truck", "Top", "Food Truck"]),
        (3, ["B", "food truck", "B", "x"]),
        (4, ["C", "Casual", "top", "x"]),
        (5, ["D", "Ghost Kitchen", "Zzz", "x"]),
    ] {
        mapper.map_row(&row(number, &cells));
    }
    let tally = mapper.value_tally().expect("asked for");
    let fields: Vec<&TalliedField> = tally.fields().collect();
    assert_eq!(fields.len(), 2);
    assert_eq!(fields[0].field, "segment");
    assert_eq!(fields[0].label, "Segment");
    assert!(fields[0].allowed.contains(&"Casual Dining"));
    assert_eq!(
        fields[0].values,
        vec![
            TalliedValue {
                written: "Food Truck".to_owned(),
                rows: 2,
                mapped_to: None,
                read_as: None
            },
            TalliedValue {
                written: "Ghost Kitchen".to_owned(),
                rows: 1,
                mapped_to: None,
                read_as: None
            },
        ]
    );
    // The City column's "Food Truck" is free text, never counted.
    assert_eq!(fields[1].field, "priority");
    assert_eq!(
        fields[1].values,
        vec![
            TalliedValue {
                written: "Top".to_owned(),
                rows: 2,
                mapped_to: Some("A".to_owned()),
                read_as: None
            },
            TalliedValue {
                written: "Zzz".to_owned(),
                rows: 1,
                mapped_to: None,
                read_as: None
            },
        ]
    );
}

#[test]
fn principal_segments_make_principals_kept_as_written() {
    let mut mapper = organizations();
    for segment in ["Principal", "manufacturer", "SUPPLIER"] {
        let outcome = mapper.map_row(&row(4, &[&format!("Maker {segment}"), "", segment]));
        let record = outcome.record().cloned().expect("imports");
        assert_eq!(
            record.get("type"),
            Some(&Value::Label("principal")),
            "{segment}"
        );
        assert_eq!(text(&record, "segment").as_deref(), Some(segment));
        assert!(outcome.issues.is_empty(), "{segment}: {:?}", outcome.issues);
    }
}

#[test]
fn a_type_fixed_for_every_row_fills_a_sheet_without_a_type_column() {
    let headers: Vec<String> = ["Organizations", "SEGMENT"]
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
    let mapping = SavedMapping {
        fixed: [("type".to_owned(), "principal".to_owned())].into(),
        ..SavedMapping::default()
    };
    let mut mapper = RowMapper::with_mapping(Entity::Organizations, &headers, &mapping);
    let outcome = mapper.map_row(&row(2, &["Heinz", "Casual"]));
    let record = outcome.record().cloned().expect("imports");
    assert_eq!(record.get("type"), Some(&Value::Label("principal")));
    assert_eq!(text(&record, "segment").as_deref(), Some("Casual Dining"));
    // A required field the mapping fixes needs no column.
    let products: Vec<String> = ["Product", "Principal"]
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
    let fixed_category = SavedMapping {
        fixed: [("category".to_owned(), "dry goods".to_owned())].into(),
        ..SavedMapping::default()
    };
    let columns = ColumnMap::with_choices(Entity::Products, &products, &fixed_category);
    assert!(columns.header_issues(1, &products).is_empty());
    assert!(
        !ColumnMap::new(Entity::Products, &products)
            .header_issues(1, &products)
            .is_empty()
    );
}

#[test]
fn other_systems_values_become_the_crms_with_one_notice_per_value() {
    let headers: Vec<String> = ["Opportunity Name", "Account Name", "Stage", "Amount"]
        .iter()
        .map(|h| (*h).to_owned())
        .collect();
    let mut mapper =
        RowMapper::with_mapping(Entity::Opportunities, &headers, &SavedMapping::default());
    mapper.tally_values();
    let outcomes: Vec<RowOutcome> = [
        (2, ["Soup program", "Café Olé", "Prospecting", "100"]),
        (3, ["Fryer oil", "Acme", "prospecting", "200"]),
        (4, ["Dessert line", "Acme", "Negotiation/Review", "300"]),
        (5, ["Coffee", "Acme", "Closed Won", "400"]),
        (6, ["Tea", "Acme", "Value Proposition", "500"]),
    ]
    .iter()
    .map(|(number, cells)| mapper.map_row(&row(*number, cells)))
    .collect();
    let stage = |o: &RowOutcome| o.record().and_then(|r| text(r, "stage"));
    assert_eq!(stage(&outcomes[0]).as_deref(), Some("New Lead"));
    assert_eq!(stage(&outcomes[1]).as_deref(), Some("New Lead"));
    assert_eq!(stage(&outcomes[2]).as_deref(), Some("Feedback Logged"));
    assert_eq!(stage(&outcomes[3]).as_deref(), Some("Closed - Won"));
    // A translation is not a problem of the row; the word is kept.
    assert!(outcomes[0].issues.is_empty(), "{:?}", outcomes[0].issues);
    let record = outcomes[0].record().expect("imports");
    assert_eq!(record.notes.get("Stage"), Some("Prospecting"));
    // A stage with no clear counterpart behaves as before: a warning.
    assert!(
        messages(&outcomes[4])
            .iter()
            .any(|m| m.contains("Unknown stage 'Value Proposition'")),
        "{:?}",
        messages(&outcomes[4])
    );
    assert_eq!(
        mapper.translation_notices(),
        vec![
            "Stage 'Prospecting' is read as New Lead, as other systems and price lists mean it (2 rows; what was written is kept in import notes)".to_owned(),
            "Stage 'Negotiation/Review' is read as Feedback Logged, as other systems and price lists mean it (1 row; what was written is kept in import notes)".to_owned(),
        ]
    );
    // The window offers each translated value for mapping, with what the rules make of it.
    let tally = mapper.value_tally().expect("asked for");
    let values: Vec<(&str, Option<&str>)> = tally
        .fields()
        .flat_map(|f| f.values.iter().map(|v| (v.written.as_str(), v.read_as)))
        .collect();
    assert_eq!(
        values,
        vec![
            ("Prospecting", Some("New Lead")),
            ("Negotiation/Review", Some("Feedback Logged")),
            ("Value Proposition", None)
        ]
    );
}
