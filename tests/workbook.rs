//! A whole workbook in one run, against a real PostgreSQL: sheets out of
//! dependency order that link to each other, the links policies, and a run
//! cut off, resumed and undone as one.

mod common;

use std::path::Path;

use common::{MORE_PEOPLE, TestDatabase, pantry, text, write_workbook};
use pantry_core::entity::Entity;
use pantry_core::import::{ImportError, ImportOptions};
use pantry_core::links::{LinkPolicies, LinkPolicy};
use pantry_core::progress::RunProgress;
use pantry_core::report::RunReport;
use pantry_core::workbook::WorkbookPlan;

async fn run(
    db: &TestDatabase,
    path: &Path,
    options: &ImportOptions,
) -> (Result<RunReport, ImportError>, std::sync::Arc<RunProgress>) {
    let plan = WorkbookPlan::read(path).unwrap().run_plan(path);
    let progress = RunProgress::new(&plan, None);
    let outcome = pantry_core::run::import(
        &plan,
        &db.settings(),
        options,
        std::sync::Arc::clone(&progress),
    )
    .await;
    (outcome, progress)
}

#[test]
fn the_plan_puts_sheets_in_dependency_order_and_passes_over_the_readme() {
    let dir = tempfile::tempdir().unwrap();
    let plan = WorkbookPlan::read(&write_workbook(dir.path())).unwrap();
    assert!(plan.is_run());
    let order: Vec<(String, Entity)> = plan.import_order();
    assert_eq!(
        order,
        vec![
            ("Accounts".to_owned(), Entity::Organizations),
            ("People".to_owned(), Entity::Contacts),
            ("Products".to_owned(), Entity::Products),
            ("Pipeline".to_owned(), Entity::Opportunities),
            ("Activity Log".to_owned(), Entity::Interactions),
        ]
    );
    assert_eq!(plan.passed_over(), vec!["ReadMe".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workbook_imports_in_dependency_order_linking_across_its_sheets() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_workbook(dir.path());
    let (outcome, _) = run(&db, &path, &ImportOptions::default()).await;
    let report = outcome.unwrap();
    let ran: Vec<(Option<&str>, Entity)> = report
        .sheets
        .iter()
        .map(|s| (s.sheet.as_deref(), s.entity))
        .collect();
    assert_eq!(
        ran,
        vec![
            (Some("Accounts"), Entity::Organizations),
            (Some("People"), Entity::Contacts),
            (Some("Products"), Entity::Products),
            (Some("Pipeline"), Entity::Opportunities),
            (Some("Activity Log"), Entity::Interactions),
        ]
    );
    assert_eq!(report.passed_over, vec!["ReadMe".to_owned()]);
    assert_eq!(report.total(), 3 + 2 + MORE_PEOPLE as u64 + 1 + 1 + 1);
    assert_eq!(report.failed(), 0);
    assert_eq!(report.succeeded(), report.total());
    // Raj's company is in neither the workbook nor the CRM: an optional
    // link left empty, with a warning on its row.
    let people = &report.sheets[1];
    assert_eq!(people.warning_list.len(), 1, "{:?}", people.warning_list);
    assert_eq!(people.warning_list[0].row, 3);
    assert!(
        people.warning_list[0].message.contains("Nowhere Bistro"),
        "{}",
        people.warning_list[0].message
    );

    let client = db.client().await;
    let linked = client
        .query_one(
            "SELECT o.name, c.email, p.name, pr.name, op.name, i.subject \
             FROM contacts c \
             JOIN organizations o ON o.id = c.organization_id \
             JOIN opportunities op ON op.organization_id = o.id AND op.contact_id = c.id \
             JOIN organizations pr ON pr.id = op.principal_id \
             JOIN products p ON p.principal_id = pr.id \
             JOIN interactions i ON i.contact_id = c.id AND i.opportunity_id = op.id AND i.organization_id = o.id \
             WHERE c.first_name = 'Mary'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(linked.get::<_, String>(0), "Hoboken Provisions");
    assert_eq!(linked.get::<_, String>(1), "mary@hoboken.com");
    assert_eq!(linked.get::<_, String>(2), "Tomato Ketchup");
    assert_eq!(linked.get::<_, String>(3), "Heinz");
    assert_eq!(linked.get::<_, String>(4), "Q3 Menu");
    assert_eq!(linked.get::<_, String>(5), "Menu review");
    let raj = client
        .query_one(
            "SELECT organization_id IS NULL, import_notes FROM contacts WHERE first_name = 'Raj'",
            &[],
        )
        .await
        .unwrap();
    assert!(raj.get::<_, bool>(0));
    assert!(raj.get::<_, String>(1).contains("Nowhere Bistro"));

    // One run, one import per sheet, all tied to it.
    let batches = client
        .query(
            "SELECT b.entity, b.sheet, b.status, b.succeeded, r.status \
             FROM import_batches b JOIN import_runs r ON r.id = b.run_id \
             WHERE r.id = $1 ORDER BY b.id",
            &[&report.run_id.unwrap()],
        )
        .await
        .unwrap();
    let batches: Vec<(String, String, String, i32, String)> = batches
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(batches.len(), 5);
    assert_eq!(batches[0].0, "organizations");
    assert_eq!(
        batches[1],
        (
            "contacts".into(),
            "People".into(),
            "finished".into(),
            42,
            "finished".into()
        )
    );
    assert_eq!(batches[4].1, "Activity Log");

    let repeat = run(&db, &path, &ImportOptions::default()).await.0;
    assert!(
        matches!(repeat, Err(ImportError::AlreadyImported { .. })),
        "a finished run is not repeated"
    );
    // Undone sheet by sheet, the run is undone too: the workbook imports anew.
    for sheet in &report.sheets {
        let id = sheet.import_id.unwrap().to_string();
        let undo = pantry(&["undo", &id, "--database-url", &db.url]);
        assert_eq!(undo.status.code(), Some(0), "{}", text(&undo.stderr));
    }
    let again = run(&db, &path, &ImportOptions::default()).await.0.unwrap();
    assert_ne!(again.run_id, report.run_id);
    assert_eq!(again.succeeded(), report.succeeded());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_organization_fails_empties_or_is_created_as_the_policy_says() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_workbook(dir.path());
    for (policy, failed, created) in [
        (LinkPolicy::Fail, 1, 0),
        (LinkPolicy::Empty, 0, 0),
        (LinkPolicy::Create, 0, 1),
    ] {
        let db = TestDatabase::migrated().await;
        let options = ImportOptions {
            links: LinkPolicies {
                all: Some(policy),
                ..LinkPolicies::default()
            },
            ..ImportOptions::default()
        };
        let report = run(&db, &path, &options).await.0.unwrap();
        let people = &report.sheets[1];
        assert_eq!(people.failed, failed, "{policy:?}");
        assert_eq!(report.created_links().len(), created, "{policy:?}");
        let stored_orgs = db
            .count("SELECT count(*) FROM organizations WHERE deleted_at IS NULL")
            .await;
        assert_eq!(stored_orgs, 3 + created as i64, "{policy:?}");
        match policy {
            LinkPolicy::Fail => {
                assert_eq!(people.failures[0].row, 3);
                assert_eq!(people.failures[0].column, "Company");
                assert!(
                    people.failures[0].message.contains("Nowhere Bistro"),
                    "{}",
                    people.failures[0].message
                );
            }
            LinkPolicy::Create => {
                let created = &report.created_links()[0];
                assert_eq!((created.name.as_str(), created.row), ("Nowhere Bistro", 3));
                let linked = db
                    .count(
                        "SELECT count(*) FROM contacts c JOIN organizations o ON o.id = c.organization_id \
                         WHERE c.first_name = 'Raj' AND o.name = 'Nowhere Bistro'",
                    )
                    .await;
                assert_eq!(linked, 1);
            }
            LinkPolicy::Empty => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_run_resumes_where_it_stopped_and_undoes_as_one() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_workbook(dir.path());
    let options = ImportOptions {
        batch_size: 5,
        ..ImportOptions::default()
    };
    let plan = WorkbookPlan::read(&path).unwrap().run_plan(&path);
    let progress = RunProgress::new(&plan, None);
    // Cancel inside the People sheet, after two of its batches.
    let canceller = common::cancel_after(&progress.sheets()[1].progress, 2);
    let first = pantry_core::run::import(
        &plan,
        &db.settings(),
        &options,
        std::sync::Arc::clone(&progress),
    )
    .await
    .unwrap();
    canceller.await.unwrap();
    assert!(first.cancelled);
    assert_eq!(first.sheets.len(), 2, "later sheets never started");
    let partial = db.count("SELECT count(*) FROM contacts").await;
    assert!(
        (10..42).contains(&partial),
        "{partial} contacts before the cancel"
    );
    assert_eq!(db.count("SELECT count(*) FROM products").await, 0);

    let resumed = run(&db, &path, &options).await.0.unwrap();
    assert_eq!(resumed.run_id, first.run_id, "the same run goes on");
    assert!(!resumed.cancelled);
    let accounts = &resumed.sheets[0];
    assert_eq!(accounts.import_id, first.sheets[0].import_id);
    assert_eq!(
        accounts.already_stored, 3,
        "the finished sheet is left alone"
    );
    let people = &resumed.sheets[1];
    assert_eq!(people.import_id, first.sheets[1].import_id);
    assert_eq!(people.already_stored, partial as u64);
    assert_eq!(people.succeeded, 42);
    // Exactly the workbook's rows, none twice.
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 3);
    assert_eq!(db.count("SELECT count(*) FROM contacts").await, 42);
    assert_eq!(
        db.count("SELECT count(DISTINCT (import_batch_id, import_source_row)) FROM contacts")
            .await,
        42
    );
    assert_eq!(db.count("SELECT count(*) FROM interactions").await, 1);

    let history = pantry(&["history", "--json", "--database-url", &db.url]);
    let json: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    let run_id = resumed.run_id.unwrap();
    assert_eq!(
        json.as_array()
            .unwrap()
            .iter()
            .filter(|b| b["run_id"] == run_id)
            .count(),
        5
    );

    let undo = pantry(&[
        "undo",
        "--run",
        &run_id.to_string(),
        "--database-url",
        &db.url,
    ]);
    assert_eq!(undo.status.code(), Some(0), "{}", text(&undo.stderr));
    assert_eq!(
        text(&undo.stdout).lines().count(),
        5,
        "{}",
        text(&undo.stdout)
    );
    for table in [
        "organizations",
        "contacts",
        "products",
        "opportunities",
        "interactions",
    ] {
        assert_eq!(
            db.count(&format!(
                "SELECT count(*) FROM {table} WHERE deleted_at IS NULL"
            ))
            .await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        db.count("SELECT count(*) FROM import_runs WHERE status = 'undone'")
            .await,
        1
    );
    // Undone: the same workbook imports again as a new run.
    let again = run(&db, &path, &options).await.0.unwrap();
    assert_ne!(again.run_id, first.run_id);
    assert_eq!(again.succeeded(), again.total());
}

#[test]
fn check_resolves_links_between_sheets_without_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_workbook(dir.path());
    let output = pantry(&["check", path.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["total"], 48);
    assert_eq!(json["succeeded"], 48);
    assert_eq!(json["passed_over"], serde_json::json!(["ReadMe"]));
    let sheets = json["sheets"].as_array().unwrap();
    assert_eq!(sheets.len(), 5);
    assert_eq!(sheets[1]["sheet"], "People");
    assert_eq!(sheets[1]["entity"], "contacts");
    let notices = sheets[1]["notices"].to_string();
    assert!(
        notices.contains(
            "'Company': 41 cells name organizations of this workbook ('Accounts'); 1 name organizations it lacks, looked up in the CRM when importing: 'Nowhere Bistro'"
        ),
        "{notices}"
    );
    let activity = sheets[4]["notices"].to_string();
    assert!(
        activity
            .contains("'Contact': every name is one of the contacts of this workbook ('People')"),
        "{activity}"
    );

    let human = pantry(&["check", path.to_str().unwrap()]);
    let summary = text(&human.stdout);
    assert!(
        summary.contains("  People (contacts): 42 rows, 42 would import, 0 failed"),
        "{summary}"
    );
    assert!(
        summary.contains("not imported (nothing recognisable): ReadMe"),
        "{summary}"
    );
    assert!(
        summary.contains("total: 48 rows, 48 would import, 0 failed"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_links_summary_counts_names_in_the_workbook_in_the_crm_and_nowhere() {
    let db = TestDatabase::migrated().await;
    db.client()
        .await
        .batch_execute(
            "INSERT INTO organizations (name, city) VALUES \
             ('Sysco', 'Chicago'), ('Sysco', 'Columbus'), \
             ('Hoboken Provisions', 'Hoboken'), ('Nowhere Bistrot', 'Paris')",
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_workbook(dir.path());
    let mut plan = WorkbookPlan::read(&path).unwrap();
    // Without its Accounts sheet, the workbook's companies are the CRM's.
    for sheet in &mut plan.sheets {
        if sheet.sheet.as_deref() == Some("Accounts") {
            sheet.entity = None;
        }
    }
    let client = db.client().await;
    let summary = pantry_core::workbook::link_summary(&plan.run_plan(&path), &client)
        .await
        .unwrap();
    let company = summary
        .iter()
        .find(|s| s.sheet == "People" && s.field == "organization_id")
        .unwrap();
    assert_eq!(company.column, "Company");
    assert_eq!(company.in_workbook, 0);
    assert_eq!(company.in_crm, 1, "hoboken provisions");
    assert_eq!(company.ambiguous.len(), 1);
    assert_eq!(company.ambiguous[0].name, "Sysco");
    assert_eq!(company.ambiguous[0].cells, MORE_PEOPLE as u64);
    assert_eq!(
        company.ambiguous[0].candidates,
        vec!["Sysco (Chicago)".to_owned(), "Sysco (Columbus)".to_owned()]
    );
    assert_eq!(company.not_found.len(), 1);
    assert_eq!(company.not_found[0].name, "Nowhere Bistro");
    assert_eq!(
        company.not_found[0].candidates,
        vec!["Nowhere Bistrot".to_owned()]
    );
    // A contact named by the activity log is a record of the People sheet.
    let contact = summary
        .iter()
        .find(|s| s.sheet == "Activity Log" && s.field == "contact_id")
        .unwrap();
    assert_eq!((contact.in_workbook, contact.in_crm), (1, 0));
    assert!(contact.not_found.is_empty());

    // Picking Sysco (Chicago) links the forty cooks to it instead of failing them.
    let mut links = LinkPolicies::default();
    links.picked.insert(
        (
            "organization_id".to_owned(),
            pantry_core::links::lookup_key(Entity::Organizations, "Sysco"),
        ),
        company.ambiguous[0].ids[0],
    );
    let plan = plan.run_plan(&path);
    let report = pantry_core::run::import(
        &plan,
        &db.settings(),
        &ImportOptions {
            links,
            ..ImportOptions::default()
        },
        RunProgress::new(&plan, None),
    )
    .await
    .unwrap();
    assert_eq!(
        report.sheets[0].failed, 0,
        "{:?}",
        report.sheets[0].failures
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM contacts c JOIN organizations o ON o.id = c.organization_id \
             WHERE o.name = 'Sysco' AND o.city = 'Chicago'"
        )
        .await,
        MORE_PEOPLE as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_pick_an_ambiguous_name_fails_its_rows_naming_the_candidates() {
    let db = TestDatabase::migrated().await;
    db.client()
        .await
        .batch_execute("INSERT INTO organizations (name, city) VALUES ('Sysco', 'Chicago'), ('Sysco', 'Columbus')")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_workbook(dir.path());
    let mut plan = WorkbookPlan::read(&path).unwrap();
    for sheet in &mut plan.sheets {
        if sheet.sheet.as_deref() == Some("Accounts") {
            sheet.entity = None;
        }
    }
    let plan = plan.run_plan(&path);
    let report = pantry_core::run::import(
        &plan,
        &db.settings(),
        &ImportOptions::default(),
        RunProgress::new(&plan, None),
    )
    .await
    .unwrap();
    let people = &report.sheets[0];
    assert_eq!(people.failed, MORE_PEOPLE as u64);
    assert_eq!(people.failures[0].row, 4);
    assert_eq!(
        people.failures[0].message,
        "'Sysco' matches 2 organizations in the CRM: Sysco (Chicago), Sysco (Columbus)"
    );
}

/// A rep's quarterly workbook, headed in the rep's own words; `calls_subject`
/// and `items_maker` say whether the Calls sheet has a subject column and the
/// Items sheet a manufacturer column.
fn write_rep_workbook(dir: &Path, calls_subject: bool, items_maker: bool) -> std::path::PathBuf {
    let calls_header = if calls_subject { "Subject" } else { "Mood" };
    let maker_header = if items_maker { "Mfr" } else { "Bin" };
    let sheets: Vec<(&str, Vec<Vec<&str>>)> = vec![
        (
            "Accounts",
            vec![
                vec!["Account", "Seg.", "Pri", "Town", "ST"],
                vec!["Café Olé", "Casual", "A", "Chicago", "IL"],
                vec!["Total Wine & More", "Casual", "B", "Skokie", "IL"],
                vec!["Golden Fields Foods", "Manufacturer", "A", "Omaha", "NE"],
                vec!["Illinois/Indiana subtotal", "", "", "", ""],
                vec!["TOTAL ACCOUNTS", "", "", "", ""],
            ],
        ),
        (
            "Items",
            vec![
                vec!["Item #", "Description", maker_header, "Cat.", "Case $"],
                vec![
                    "GF-1",
                    "Steak fries",
                    "Golden Fields Foods",
                    "Frozen Foods",
                    "38.50",
                ],
            ],
        ),
        (
            "Pipeline",
            vec![
                vec!["Deal", "Account", "Stage", "Est. Annual $", "Win %"],
                vec!["Fries program", "Café Olé", "Prospecting", "12,000", "40%"],
                vec!["Pipeline total", "", "", "12,000", ""],
            ],
        ),
        (
            "Calls",
            vec![
                vec!["When", "Account", "Type", "Mins", calls_header],
                vec!["2026-11-02", "Café Olé", "lunch", "45", "Tasting"],
            ],
        ),
    ];
    common::write_sheets(&dir.join("Q4 rep workbook.xlsx"), &sheets)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reps_own_headers_place_every_column_and_totals_rows_are_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_rep_workbook(dir.path(), true, true);
    let output = pantry(&["check", path.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let placed = |sheet: usize| -> Vec<(String, String)> {
        json["sheets"][sheet]["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["header"].as_str().unwrap().to_owned(),
                    c["field"].as_str().unwrap_or("(notes)").to_owned(),
                )
            })
            .collect()
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(h, f)| ((*h).to_owned(), (*f).to_owned()))
            .collect()
    };
    assert_eq!(
        placed(0),
        pairs(&[
            ("Account", "name"),
            ("Seg.", "segment"),
            ("Pri", "priority"),
            ("Town", "city"),
            ("ST", "state_province")
        ])
    );
    assert_eq!(
        placed(1),
        pairs(&[
            ("Item #", "sku"),
            ("Description", "name"),
            ("Mfr", "principal_id"),
            ("Cat.", "category"),
            ("Case $", "list_price")
        ])
    );
    assert_eq!(
        placed(2),
        pairs(&[
            ("Deal", "name"),
            ("Account", "organization_id"),
            ("Stage", "stage"),
            ("Est. Annual $", "estimated_value"),
            ("Win %", "probability")
        ])
    );
    assert_eq!(json["sheets"][3]["columns"][0]["field"], "interaction_date");
    assert_eq!(json["sheets"][3]["columns"][3]["field"], "duration_minutes");
    // Three accounts, the subtotal and the total passed over; the pipeline
    // total too. Nothing fails.
    assert_eq!(json["failed"], 0, "{}", json["failures"]);
    assert_eq!(json["sheets"][0]["succeeded"], 3);
    assert_eq!(json["sheets"][2]["succeeded"], 1);

    let db = TestDatabase::migrated().await;
    let import = pantry(&["import", path.to_str().unwrap(), "--database-url", &db.url]);
    assert_eq!(import.status.code(), Some(0), "{}", text(&import.stderr));
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE name = 'Total Wine & More'")
            .await,
        1,
        "a customer whose name starts with Total is no totals row"
    );
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 3);
    assert_eq!(
        db.count("SELECT count(*) FROM opportunities WHERE stage = 'New Lead' AND estimated_value = 12000 AND probability = 40")
            .await,
        1
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM interactions WHERE type = 'meeting' AND duration_minutes = 45"
        )
        .await,
        1,
        "lunch is a meeting"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM products WHERE category = 'frozen' AND list_price = 38.50")
            .await,
        1
    );
}

#[tokio::test]
async fn every_sheet_that_cannot_go_is_named_by_check_and_import_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_rep_workbook(dir.path(), false, false);
    let output = pantry(&["check", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stdout));
    let summary = text(&output.stdout);
    assert!(
        summary.contains("  Accounts (organizations): 5 rows, 3 would import, 0 failed"),
        "the sheets that can go are still checked: {summary}"
    );
    assert!(
        summary.contains(
            "  Items (products): cannot be imported: row 1: No column holds the product's principal"
        ),
        "{summary}"
    );
    assert!(
        summary.contains("  Calls (interactions): cannot be imported: row 1: No column holds the interaction's subject"),
        "{summary}"
    );
    let message = text(&output.stderr);
    assert!(
        message.contains("an import would refuse this file until these sheets are fixed"),
        "{message}"
    );
    assert!(message.contains("sheet 'Items', row 1"), "{message}");
    assert!(message.contains("sheet 'Calls', row 1"), "{message}");

    let json = pantry(&["check", path.to_str().unwrap(), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let cannot: Vec<&str> = json["sheets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| {
            s["cannot_import"]
                .as_str()
                .map(|_| s["sheet"].as_str().unwrap())
        })
        .collect();
    assert_eq!(cannot, ["Items", "Calls"]);

    let db = TestDatabase::migrated().await;
    let import = pantry(&["import", path.to_str().unwrap(), "--database-url", &db.url]);
    assert_eq!(import.status.code(), Some(2));
    let refusal = text(&import.stderr);
    assert!(
        refusal.contains("sheet 'Items', row 1: No column holds the product's principal"),
        "{refusal}"
    );
    assert!(
        refusal.contains("sheet 'Calls', row 1: No column holds the interaction's subject"),
        "{refusal}"
    );
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 0);
}
