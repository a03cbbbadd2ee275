//! The real window, driven headless with egui_kittest (no GPU, no display):
//! open a file, read the counts, click through an import against the test
//! PostgreSQL, cancel one, and see a bad file's error.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::window::{click_import, connect, wait_for, window};
use common::{TestDatabase, data};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use pantry_window::PantryApp;
use pantry_window::theme::thousands;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn import_finished(app: &PantryApp) -> bool {
    app.run.as_ref().is_some_and(|run| !run.is_running())
}

/// The report of the import the window ran last.
fn last_report(harness: &Harness<'static, PantryApp>) -> pantry_core::report::SheetReport {
    let run = harness.state().run.as_ref().expect("an import ran");
    run.report()
        .and_then(|report| report.first())
        .expect("the import has a report")
        .clone()
}

/// Connects to `db`, clicks `import_button`, and cancels once a batch is in,
/// so the test sees a partial import.
fn import_then_cancel(
    harness: &mut Harness<'static, PantryApp>,
    db: &TestDatabase,
    import_button: &str,
) {
    wait_for(harness, "the preview", PantryApp::preview_ready);
    harness.state_mut().connection.fill_from_url(&db.url);
    // The form changes shape; let the layout settle before clicking.
    harness.run_steps(2);
    harness.get_by_label(import_button).click();
    wait_for(harness, "the first batch", |app| {
        app.run
            .as_ref()
            .is_some_and(|run| run.progress.snapshot().batches_done >= 1)
    });
    harness.get_by_label("Cancel").click();
    wait_for(harness, "the import to stop", import_finished);
}

#[test]
fn a_messy_file_shows_its_counts_and_problems_without_a_database() {
    let mut harness = window(Some(data("broker_accounts_1252.csv")));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    harness.get_by_label("13 rows");
    harness.get_by_label("11 will import");
    harness.get_by_label("2 will fail");
    harness.get_by_label("6 warnings");
    harness.get_by_label("Problems (8)");
    harness.get_by_label("✖  Row 4, Organizations: Missing required field 'name'");
    harness.get_by_label("Import 11 organizations");
    // The mapping shows under each header.
    harness.get_by_label("→ priority ▾");
    assert!(
        !harness
            .get_all_by_label("→ import notes ▾")
            .collect::<Vec<_>>()
            .is_empty()
    );

    // Clicking a problem selects its row (the list scrolled to it first).
    let row_12 =
        "⚠  Row 12, SEGMENT: Unknown segment 'Food Truck', kept as written (type customer)";
    for _ in 0..5 {
        if harness.query_by_label(row_12).is_some() {
            break;
        }
        harness
            .get_by_label("⚠  Row 3, PRIORITY-FOCUS (A-D): Priority 'A+' imported as A")
            .scroll_down();
        harness.run_steps(2);
    }
    harness.get_by_label(row_12).click();
    harness.run_steps(3);
    let preview = harness.state().preview().unwrap();
    assert_eq!(preview.selected.map(|i| preview.rows.number(i)), Some(12));

    // Only rows with problems: 7 of 13.
    harness.get_by_label("Only rows with problems (7)").click();
    harness.run_steps(3);
    assert!(harness.state().preview().unwrap().only_problems);
    assert!(harness.query_by_label("Gastro Pub 7").is_none());
    harness.get_by_label("Mystery Org");
}

#[test]
fn clicking_import_stores_the_rows_and_shows_the_result() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let mut harness = window(Some(data("broker_accounts_1252.csv")));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);

    connect(&mut harness, &db.url);
    assert!(harness.query_by_label_contains("✔ Connected").is_some());

    click_import(&mut harness, "Import 11 organizations");
    wait_for(&mut harness, "the import", import_finished);
    harness.get_by_label("11 succeeded, ");
    harness.get_by_label("2 failed");
    harness.get_by_label("Failed rows (2)");
    harness.get_by_label("Missing required field 'name'");
    harness.get_by_label("Save error report…");
    assert_eq!(
        rt.block_on(db.count("SELECT count(*) FROM organizations")),
        11
    );

    // Back to start: the drop zone again.
    harness.get_by_label("Import another file").click();
    harness.run_steps(3);
    harness.get_by_label("Drop your spreadsheet here");
}

#[test]
fn a_missing_crm_schema_is_offered_and_created() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::create());
    let mut harness = window(Some(data("broker_accounts.xlsx")));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    harness.state_mut().connection.fill_from_url(&db.url);
    // The form changes shape; let the layout settle before clicking.
    harness.run_steps(2);
    harness.get_by_label("Test connection").click();
    wait_for(&mut harness, "the connection test", |app| {
        matches!(
            app.connection.status,
            pantry_window::connection::ConnectionStatus::NeedsMigration(_)
        )
    });
    harness
        .get_all_by_label("Create the CRM tables")
        .next()
        .unwrap()
        .click();
    wait_for(&mut harness, "the migration", |app| {
        app.connection.is_verified()
    });
    assert_eq!(
        rt.block_on(db.count(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'organizations'"
        )),
        1
    );
}

#[test]
fn importing_into_a_database_without_the_crm_tables_offers_to_create_them() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::create());
    let mut harness = window(Some(data("broker_accounts_1252.csv")));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    harness.state_mut().connection.fill_from_url(&db.url);
    harness.run_steps(2);
    click_import(&mut harness, "Import 11 organizations");
    wait_for(&mut harness, "the import attempt", |app| {
        matches!(
            app.connection.status,
            pantry_window::connection::ConnectionStatus::NeedsMigration(_)
        )
    });
    // The preview stays, the import card itself offers the tables, and
    // nothing was stored.
    assert!(harness.state().run.is_none());
    harness.get_by_label("The CRM tables are not in this database yet.");
    harness
        .get_all_by_label("Create the CRM tables")
        .last()
        .unwrap()
        .click();
    wait_for(&mut harness, "the migration", |app| {
        app.connection.is_verified()
    });
    click_import(&mut harness, "Import 11 organizations");
    wait_for(&mut harness, "the import", import_finished);
    harness.get_by_label("11 succeeded, ");
}

#[test]
fn a_second_import_of_the_same_file_asks_first_and_the_history_can_undo_it() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let mut harness = window(Some(data("broker_accounts_1252.csv")));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    harness.state_mut().connection.fill_from_url(&db.url);
    harness.run_steps(2);
    click_import(&mut harness, "Import 11 organizations");
    wait_for(&mut harness, "the import", import_finished);

    // A second time, as new records (skipping would store nothing).
    harness.get_by_label("Rows already in the CRM:").click();
    harness.run_steps(2);
    harness.get_by_label("create a new record anyway").click();
    harness.run_steps(2);
    harness.get_by_label("Import this file again…").click();
    wait_for(&mut harness, "the question", |app| {
        app.file.as_ref().is_some_and(|f| f.repeat.is_some())
    });
    harness.get_by_label("This file was imported already");
    assert_eq!(
        rt.block_on(db.count("SELECT count(*) FROM organizations")),
        11
    );
    harness.get_by_label("Import again anyway").click();
    wait_for(&mut harness, "the second import", |app| {
        app.run.as_ref().is_some_and(|run| !run.is_running())
    });
    assert_eq!(
        rt.block_on(db.count("SELECT count(*) FROM organizations")),
        22
    );

    // Past imports: undo the second one.
    wait_for(&mut harness, "the history", |app| {
        app.history.imports.len() == 2
    });
    harness.get_by_label("#2");
    harness
        .get_all_by_label("Undo this import…")
        .next()
        .unwrap()
        .click();
    harness.run_steps(2);
    harness.get_by_label("Yes, undo it").click();
    wait_for(&mut harness, "the undo", |app| {
        app.history
            .imports
            .first()
            .is_some_and(|batch| batch.status == pantry_core::history::ImportStatus::Undone)
    });
    assert!(
        harness
            .query_by_label_contains("Import #2: 11 rows taken out of the CRM")
            .is_some()
    );
    assert_eq!(
        rt.block_on(db.count("SELECT count(*) FROM organizations WHERE deleted_at IS NULL")),
        11
    );
}

#[test]
fn the_remembered_connection_never_holds_the_password() {
    let mut harness = window(None);
    let form = &mut harness.state_mut().connection;
    form.fill_from_url("postgres://broker:Sup3r-Secret@db.example.com:5432/crm?sslmode=require");
    form.password = "An0ther-Secret".to_owned();
    let saved = serde_json::to_string(&form.remembered()).unwrap();
    assert!(saved.contains("broker@db.example.com"), "{saved}");
    assert!(!saved.contains("Sup3r-Secret"), "{saved}");
    assert!(!saved.contains("An0ther-Secret"), "{saved}");
}

#[test]
fn a_contacts_sheet_is_shown_as_contacts_and_imports_with_its_links() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let crm = rt
        .block_on(common::import_file(
            &data("crm_organizations.csv"),
            &db.settings(),
            &pantry_core::import::ImportOptions::default(),
            pantry_core::progress::ImportProgress::new(None),
        ))
        .unwrap();
    assert_eq!(crm.succeeded, 6);

    let mut harness = window(Some(data("contacts.csv")));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    assert_eq!(
        harness.state().preview().unwrap().entity,
        pantry_core::entity::Entity::Contacts
    );
    harness.get_by_label("Import 4 contacts");
    harness.get_by_label("→ organization_id (found by name) ▾");
    // The sidebar shows what the rows are, and every entity can be chosen.
    harness.get_by_label("⬆  Contacts");
    harness.get_by_label("    Products");

    // Not-found organizations fail their rows instead of staying empty.
    harness.state_mut().connection.fill_from_url(&db.url);
    harness.run_steps(2);
    harness.get_by_label("Company (organization)").click();
    harness.run_steps(2);
    harness.get_by_label("fail the row").click();
    harness.run_steps(2);
    assert_eq!(
        harness
            .state()
            .file
            .as_ref()
            .expect("a file is open")
            .link_policies
            .by_field
            .get("organization_id"),
        Some(&pantry_core::links::LinkPolicy::Fail)
    );
    click_import(&mut harness, "Import 4 contacts");
    wait_for(&mut harness, "the import", import_finished);
    harness.get_by_label("2 succeeded, ");
    harness.get_by_label("3 failed");
    assert_eq!(
        rt.block_on(db.count(
            "SELECT count(*) FROM contacts c JOIN organizations o ON o.id = c.organization_id \
             WHERE o.name = 'Acme Foods' AND c.last_name = 'Smith'"
        )),
        1
    );
    assert_eq!(rt.block_on(db.count("SELECT count(*) FROM contacts")), 2);

    // Read as products instead, the same file has no principal column.
    harness.get_by_label("Back to the preview").click();
    harness.run_steps(2);
    harness.get_by_label("    Products").click();
    wait_for(&mut harness, "the preview as products", |app| {
        app.preview_ready()
            && app.preview().unwrap().entity == pantry_core::entity::Entity::Products
    });
    assert!(
        harness
            .query_all_by_label_contains("No column holds the product's principal")
            .next()
            .is_some()
    );
}

#[test]
fn cancel_stops_the_import_and_says_what_was_stored() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let dir = tempfile::tempdir().unwrap();
    let mut harness = window(Some(common::write_accounts(dir.path(), 150_000)));
    import_then_cancel(&mut harness, &db, "Import 150,000 organizations");
    harness.get_by_label("Import cancelled");
    let report = last_report(&harness);
    assert!(report.cancelled);
    let stored = rt.block_on(db.count("SELECT count(*) FROM organizations")) as u64;
    assert_eq!(report.succeeded, stored);
    assert!(
        (pantry_core::import::DEFAULT_BATCH_SIZE as u64..150_000).contains(&stored),
        "{stored}"
    );
    assert_eq!(
        stored % pantry_core::import::DEFAULT_BATCH_SIZE as u64,
        0,
        "whole batches only"
    );
}

#[test]
fn a_binary_file_shows_a_clear_error_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.csv");
    std::fs::write(
        &path,
        [0u8, 159, 146, 150, 0, 0, 1, 2, 3, 0, 0, 0].repeat(100),
    )
    .unwrap();
    let mut harness = window(None);
    harness.get_by_label("Drop your spreadsheet here");
    // Dropped on the window, as from a file manager.
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(DroppedPath(path)));
    wait_for(
        &mut harness,
        "the file to be read",
        PantryApp::preview_ready,
    );
    assert!(
        harness
            .query_by_label_contains("this is not a spreadsheet: it holds binary data")
            .is_some()
    );
    assert!(
        harness
            .query_by_label_contains("Import 0 organizations")
            .is_some()
    );
}

/// A file dropped on the window.
#[derive(Debug)]
struct DroppedPath(PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Cancelled, the panel offers to resume (not to import twice), counts and
/// times only what the resumed run did, and never says every row imported.
#[test]
fn a_cancelled_import_resumes_with_honest_words_and_counts() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let dir = tempfile::tempdir().unwrap();
    let mut harness = window(Some(common::write_accounts(dir.path(), 100_000)));
    import_then_cancel(&mut harness, &db, "Import 100,000 organizations");
    let stored = rt.block_on(db.count("SELECT count(*) FROM organizations")) as u64;
    assert!((20_000..100_000).contains(&stored), "{stored}");
    harness.get_by_label("Import cancelled");
    assert!(
        harness
            .query_by_label("✔ Every row was imported.")
            .is_none()
    );
    harness.get_by_label("Back to the preview").click();
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label_contains("adds its rows a second time")
            .is_none(),
        "a cancelled import resumes; it does not add rows twice"
    );
    let resume = format!("Resume ({} of 100,000 stored)", thousands(stored));
    harness.get_by_label(&resume).click();
    wait_for(&mut harness, "the resumed import", |app| {
        import_finished(app)
            && app
                .run
                .as_ref()
                .and_then(|run| run.report())
                .and_then(|report| report.first())
                .is_some_and(|report| report.already_stored > 0)
    });
    assert_eq!(
        rt.block_on(db.count("SELECT count(*) FROM organizations")),
        100_000
    );
    let report = last_report(&harness);
    assert_eq!(report.already_stored, stored);
    assert_eq!(report.succeeded, 100_000);
    harness.get_by_label("100,000 succeeded, ");
    harness.get_by_label("✔ Every row was imported.");
    assert!(
        harness
            .query_by_label_contains(&format!("{} rows ", thousands(100_000 - stored)))
            .is_some()
    );
    assert!(
        harness
            .query_by_label_contains(&format!(
                "{} more were stored by the earlier run this one resumed",
                thousands(stored)
            ))
            .is_some()
    );
}

/// Past imports belong to one database: switching empties the list, and the
/// new database's list is its own.
#[test]
fn past_imports_follow_the_database_the_form_points_at() {
    let rt = runtime();
    let first = rt.block_on(TestDatabase::migrated());
    let second = rt.block_on(TestDatabase::migrated());
    let mut harness = window(Some(data("broker_accounts_1252.csv")));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    harness.state_mut().connection.fill_from_url(&first.url);
    harness.run_steps(2);
    click_import(&mut harness, "Import 11 organizations");
    wait_for(&mut harness, "the import", import_finished);
    wait_for(&mut harness, "the history", |app| {
        app.history.imports.len() == 1
    });
    assert!(
        harness
            .state()
            .history
            .database
            .as_deref()
            .is_some_and(|d| d.contains(&first.name))
    );

    harness.state_mut().connection.fill_from_url(&second.url);
    harness.run_steps(2);
    assert!(
        harness.state().history.imports.is_empty(),
        "the first database's list is gone"
    );
    assert!(harness.query_by_label("Undo this import…").is_none());
    harness.get_by_label("Test connection").click();
    wait_for(&mut harness, "the second history", |app| {
        app.history.loaded
            && app
                .history
                .database
                .as_deref()
                .is_some_and(|d| d.contains(&second.name))
    });
    assert!(harness.state().history.imports.is_empty());
    harness.get_by_label("No imports into this database yet.");
}

/// A typed path that names no file stays on the start screen with a reason
/// that can be dismissed; nothing is ticked.
#[test]
fn a_bad_path_stays_on_the_start_screen_and_its_error_can_be_dismissed() {
    let mut harness = window(None);
    harness.state_mut().typed_path = "/no/such/folder/nosuch.csv".to_owned();
    harness.run_steps(2);
    harness.get_by_label("Open").click();
    harness.run_steps(3);
    assert!(harness.state().preview().is_none());
    harness.get_by_label("Drop your spreadsheet here");
    assert!(
        harness
            .query_by_label_contains("There is no file at /no/such/folder/nosuch.csv")
            .is_some()
    );
    assert!(harness.query_by_label("✔").is_none(), "no step is done yet");
    harness.get_by_label("Dismiss").click();
    harness.run_steps(2);
    assert!(harness.state().error.is_none());
    assert!(
        harness
            .query_by_label_contains("There is no file at")
            .is_none()
    );
}

/// A sheet error is a state, not a message: it has no Dismiss button that
/// would do nothing.
#[test]
fn a_sheet_error_has_no_dismiss_button_and_review_is_not_ticked() {
    let mut harness = window(Some(data("products.csv")));
    harness.state_mut().open(
        data("products.csv"),
        None,
        Some(pantry_core::entity::Entity::Organizations),
    );
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    assert!(
        harness
            .query_all_by_label_contains("No column holds the organization name")
            .next()
            .is_some()
    );
    assert!(harness.query_by_label("Dismiss").is_none());
    // "Open" is done, "Review" is where the broker is.
    assert_eq!(harness.get_all_by_label("✔").count(), 1);
    harness.get_by_label("▶");
}

/// At 900x600 the sidebar gives way, but another file can still be opened.
#[test]
fn a_small_window_keeps_a_way_to_open_another_file() {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(900.0, 600.0))
        .build_eframe(|cc| PantryApp::new(cc, Some(data("broker_accounts_1252.csv"))));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    assert!(
        harness.query_by_label("STEPS").is_none(),
        "no sidebar at 900 px"
    );
    harness.get_by_label("Open another file…").click();
    harness.run_steps(3);
    assert!(harness.state().preview().is_none());
    harness.get_by_label("Drop your spreadsheet here");
}

/// A workbook whose first sheets are a ReadMe and a list opens on the sheet
/// that holds accounts, and says which it passed over.
#[test]
fn a_workbook_opens_on_its_first_sheet_with_recognisable_rows() {
    let mut harness = window(Some(data("broker_workbook_readme.xlsx")));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    let preview = harness.state().preview().unwrap();
    assert_eq!(preview.sheet.as_deref(), Some("Accounts"));
    assert_eq!(preview.counts.would_import, 3);
    assert!(
        harness
            .query_by_label_contains(
                "the sheets 'ReadMe', 'Lists' before it hold nothing recognisable"
            )
            .is_some()
    );
    harness.get_by_label("Import 3 organizations");
}

/// Switching from the connection string to the fields keeps the database.
#[test]
fn the_fields_take_over_the_connection_string() {
    let mut harness = window(Some(data("contacts.csv")));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    harness
        .state_mut()
        .connection
        .fill_from_url("postgres://broker@db.example.com:6543/crm?sslmode=require");
    harness.run_steps(2);
    harness.get_by_label("Host and user").click();
    harness.run_steps(2);
    let form = &harness.state().connection;
    assert!(!form.use_url);
    assert_eq!(
        (
            form.host.as_str(),
            form.port.as_str(),
            form.database.as_str(),
            form.user.as_str()
        ),
        ("db.example.com", "6543", "crm", "broker")
    );
    assert_eq!(form.tls, pantry_core::database::TlsMode::Require);
}

#[test]
fn a_workbook_shows_its_sheets_as_tabs_and_imports_them_all_in_one_click() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let dir = tempfile::tempdir().unwrap();
    let file = common::write_workbook(dir.path());
    // Tall enough for the workbook card, its links and the button below them.
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 1400.0))
        .build_eframe(move |cc| PantryApp::new(cc, Some(file)));
    wait_for(&mut harness, "the preview and its sheets", |app| {
        app.preview_ready()
            && app
                .file
                .as_ref()
                .expect("a file is open")
                .workbook
                .is_some()
    });
    // The workbook's first sheet holding something is on screen.
    assert_eq!(
        harness.state().preview().unwrap().sheet.as_deref(),
        Some("Activity Log")
    );
    harness.get_by_label("Accounts · Organizations");
    harness.get_by_label("ReadMe · not imported");
    harness.get_by_label("Import all 5 sheets");

    // Leave the Products sheet out.
    harness.get_by_label("Products · Products").click();
    wait_for(&mut harness, "the Products sheet", |app| {
        app.preview_ready() && app.preview().unwrap().sheet.as_deref() == Some("Products")
    });
    harness.get_by_label("Rows are:").click();
    harness.run_steps(2);
    harness.get_by_label("Not imported").click();
    harness.run_steps(3);
    harness.get_by_label("Products · not imported");
    harness.get_by_label("Import all 4 sheets");

    // A column choice made on a sheet's tab holds for the whole run.
    harness.get_by_label("Accounts · Organizations").click();
    wait_for(&mut harness, "the Accounts sheet", |app| {
        app.preview_ready() && app.preview().unwrap().sheet.as_deref() == Some("Accounts")
    });
    harness.get_by_label("→ city ▾").click();
    harness.run_steps(2);
    harness.get_by_label("skip this column").click();
    wait_for(&mut harness, "CITY skipped", |app| {
        app.preview_ready() && app.preview().unwrap().targets[2] == "skipped"
    });
    // Away and back: the choice stays with the sheet.
    harness.get_by_label("Pipeline · Opportunities").click();
    wait_for(&mut harness, "the Pipeline sheet", |app| {
        app.preview_ready() && app.preview().unwrap().sheet.as_deref() == Some("Pipeline")
    });
    harness.get_by_label("Accounts · Organizations").click();
    wait_for(&mut harness, "the Accounts sheet again", |app| {
        app.preview_ready() && app.preview().unwrap().sheet.as_deref() == Some("Accounts")
    });
    assert_eq!(harness.state().preview().unwrap().targets[2], "skipped");

    harness.state_mut().connection.fill_from_url(&db.url);
    harness.run_steps(2);
    harness.get_by_label("Test connection").click();
    wait_for(&mut harness, "the links summary", |app| {
        app.file
            .as_ref()
            .expect("a file is open")
            .link_summary
            .summary
            .is_some()
    });
    // Raj's company is in neither the workbook nor the (empty) CRM.
    harness.get_by_label("People · Company → organizations");
    harness.get_by_label("41 in this workbook · 1 not found: leave it empty");
    harness.get_by_label("  not found: 'Nowhere Bistro'");
    harness.get_by_label("Import all 4 sheets").click();
    wait_for(&mut harness, "the run", |app| {
        app.run.as_ref().is_some_and(|run| !run.is_running())
    });
    // The results, sheet by sheet.
    let stored = 3 + 2 + common::MORE_PEOPLE + 1 + 1;
    harness.get_by_label(&format!("{stored} succeeded, "));
    harness.get_by_label("Pipeline");
    harness.get_by_label("Activity Log");
    harness.get_by_label("✔ Every row of every sheet was imported.");
    rt.block_on(async {
        assert_eq!(db.count("SELECT count(*) FROM products").await, 0);
        assert_eq!(
            db.count("SELECT count(*) FROM organizations WHERE city IS NULL AND import_source_row IS NOT NULL")
                .await,
            3
        );
        assert_eq!(
            db.count(
                "SELECT count(*) FROM interactions i JOIN contacts c ON c.id = i.contact_id \
                 JOIN organizations o ON o.id = i.organization_id \
                 WHERE c.email = 'mary@hoboken.com' AND o.name = 'Hoboken Provisions'"
            )
            .await,
            1
        );
        assert_eq!(
            db.count("SELECT count(DISTINCT run_id) FROM import_batches")
                .await,
            1
        );
        assert_eq!(db.count("SELECT count(*) FROM import_batches").await, 4);
    });
}

#[test]
fn the_title_names_the_open_file_and_about_lists_the_licences() {
    let mut harness = window(Some(data("broker_accounts_1252.csv")));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    assert_eq!(
        harness.state().title,
        "Pantry Import — broker_accounts_1252.csv"
    );
    harness.get_by_label("About Pantry Import").click();
    harness.run_steps(3);
    harness.get_by_label(&format!("Pantry Import {}", env!("CARGO_PKG_VERSION")));
    harness.get_by_label("calamine");
    harness.get_by_label_contains("DejaVu Sans");
}

#[test]
fn a_column_sent_to_another_field_recomputes_the_preview_and_imports_there() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let dir = tempfile::tempdir().unwrap();
    let sheet = dir.path().join("accounts.csv");
    std::fs::write(
        &sheet,
        "Organizations,Acct Mgr,CITY,Internal ID\nHoboken Provisions,Jane Doe,Hoboken,X-17\n",
    )
    .unwrap();
    let mut harness = window(Some(sheet));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    // "Acct Mgr" is no alias: it goes to import notes until the broker says.
    let targets = &harness.state().preview().unwrap().targets;
    assert_eq!(targets[1], "import notes");
    harness
        .get_all_by_label("→ import notes ▾")
        .next()
        .unwrap()
        .click();
    harness.run_steps(2);
    harness.get_by_label("primary_manager_name").click();
    wait_for(&mut harness, "the preview again", |app| {
        app.preview_ready() && app.preview().unwrap().targets[1] == "primary_manager_name"
    });
    assert_eq!(
        harness.state().preview().unwrap().reasons[1].how,
        Some(pantry_core::entity::How::Chosen),
        "said as the broker's choice"
    );
    // And the internal ID is skipped.
    harness.get_by_label("→ import notes ▾").click();
    harness.run_steps(2);
    harness.get_by_label("skip this column").click();
    wait_for(&mut harness, "the preview again", |app| {
        app.preview_ready() && app.preview().unwrap().targets[3] == "skipped"
    });

    harness.state_mut().connection.fill_from_url(&db.url);
    harness.run_steps(2);
    click_import(&mut harness, "Import 1 organization");
    wait_for(&mut harness, "the import", import_finished);
    rt.block_on(async {
        let row = db
            .client()
            .await
            .query_one(
                "SELECT primary_manager_name, coalesce(import_notes, '') FROM organizations",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "Jane Doe");
        assert!(!row.get::<_, String>(1).contains("X-17"));
    });

    // Next month's file, same headers: last time's choices are offered.
    let next = dir.path().join("accounts next month.csv");
    std::fs::write(
        &next,
        "Organizations,Acct Mgr,CITY,Internal ID\nCafé Olé,Bob Smith,Chicago,X-18\n",
    )
    .unwrap();
    harness.state_mut().open(next, None, None);
    wait_for(
        &mut harness,
        "next month's preview",
        PantryApp::preview_ready,
    );
    assert_eq!(
        harness.state().preview().unwrap().targets[1],
        "import notes"
    );
    harness.get_by_label("Use it").click();
    wait_for(&mut harness, "the mapping applied", |app| {
        app.preview_ready()
            && app.preview().unwrap().targets[1] == "primary_manager_name"
            && app.preview().unwrap().targets[3] == "skipped"
    });
    assert!(
        harness
            .state()
            .file
            .as_ref()
            .expect("a file is open")
            .offered_mapping
            .is_none()
    );
}

#[test]
fn a_broker_sheet_is_fixed_in_a_few_clicks_and_its_mapping_saved_for_next_month() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let dir = tempfile::tempdir().unwrap();
    let sheet = dir.path().join("accounts.csv");
    std::fs::write(
        &sheet,
        "Kitchen Pantry - Accounts 2024,,,\n\
         Organizations,Acct Mgr,SEGMENT,CITY\n\
         Hoboken Provisions,Jane Doe,Food Truck,Hoboken\n\
         Café Olé,Bob Smith,Fine Dining,Chicago\n\
         Grill Masters,Ann Lee,food truck,Newark\n\
         TOTAL,,,\n",
    )
    .unwrap();
    let mut harness = window(Some(sheet.clone()));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    {
        let preview = harness.state().preview().unwrap();
        assert_eq!(preview.header_row, 2);
        assert_eq!(preview.above_header.len(), 1);
        assert_eq!(preview.counts.would_import, 3);
        assert_eq!(preview.counts.skipped, 1);
        assert_eq!(preview.counts.warnings, 3);
    }
    harness.get_by_label("Header: row 2");
    harness.get_by_label("1 totals row skipped");

    // The title row above the header can be chosen as the header, and the
    // header found again.
    harness.get_by_label("↑ 1").click();
    harness.run_steps(2);
    harness.get_by_label("Use row 1 as the header").click();
    wait_for(&mut harness, "the title as the header", |app| {
        app.preview_ready() && app.preview().unwrap().header_row == 1
    });
    harness.get_by_label("Find it automatically").click();
    wait_for(&mut harness, "the header found again", |app| {
        app.preview_ready() && app.preview().unwrap().header_row == 2
    });

    // "Food Truck" (either case) is one value to map, on two rows.
    harness.get_by_label("Values to map (1)");
    harness.get_by_label("2 rows");
    // The choice is named by the value it maps, and shows what the rule does.
    harness.get_by_value("→ kept as written");
    harness.get_by_label("'Food Truck'").click();
    harness.run_steps(2);
    harness.get_by_label("Casual Dining").click();
    wait_for(&mut harness, "the value mapped", |app| {
        app.preview_ready()
            && app
                .preview()
                .unwrap()
                .value_tally
                .as_ref()
                .and_then(|t| t.fields().next().map(|f| f.values[0].mapped_to.clone()))
                == Some(Some("Casual Dining".to_owned()))
    });
    assert_eq!(harness.state().preview().unwrap().counts.warnings, 1);
    harness.get_by_value("→ Casual Dining");

    // The totals row: imported anyway, then skipped again.
    harness
        .get_by_label(
            "⚠  Row 6, Organizations: 'TOTAL' looks like a totals row, not one of the organizations; not imported",
        )
        .click();
    harness.run_steps(2);
    harness
        .get_by_label("Import this totals row anyway")
        .click();
    wait_for(&mut harness, "the totals row kept", |app| {
        app.preview_ready() && app.preview().unwrap().counts.would_import == 4
    });
    assert_eq!(harness.state().preview().unwrap().counts.skipped, 0);
    harness
        .get_by_label("Skip it as a totals row again")
        .click();
    wait_for(&mut harness, "the totals row skipped again", |app| {
        app.preview_ready() && app.preview().unwrap().counts.skipped == 1
    });

    // "Acct Mgr" to the manager field, then import.
    harness
        .get_all_by_label("→ import notes ▾")
        .next()
        .unwrap()
        .click();
    harness.run_steps(2);
    harness.get_by_label("primary_manager_name").click();
    wait_for(&mut harness, "the column mapped", |app| {
        app.preview_ready() && app.preview().unwrap().targets[1] == "primary_manager_name"
    });
    harness.state_mut().connection.fill_from_url(&db.url);
    harness.run_steps(2);
    click_import(&mut harness, "Import 3 organizations");
    wait_for(&mut harness, "the import", import_finished);
    assert_eq!(last_report(&harness).succeeded, 3);
    rt.block_on(async {
        let client = db.client().await;
        let rows = client
            .query(
                "SELECT name, segment, primary_manager_name, import_source_row, \
                        coalesce(import_notes::jsonb ->> 'SEGMENT (as written)', '') \
                 FROM organizations ORDER BY import_source_row",
                &[],
            )
            .await
            .unwrap();
        let got: Vec<(String, String, String, i32, String)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "Hoboken Provisions".into(),
                    "Casual Dining".into(),
                    "Jane Doe".into(),
                    3,
                    "Food Truck".into()
                ),
                (
                    "Café Olé".into(),
                    "Fine Dining".into(),
                    "Bob Smith".into(),
                    4,
                    String::new()
                ),
                (
                    "Grill Masters".into(),
                    "Casual Dining".into(),
                    "Ann Lee".into(),
                    5,
                    "food truck".into()
                ),
            ]
        );
        let recorded: String = client
            .query_one("SELECT mapping::text FROM import_batches", &[])
            .await
            .unwrap()
            .get(0);
        let recorded: serde_json::Value = serde_json::from_str(&recorded).unwrap();
        assert_eq!(recorded["values"]["segment"]["Food Truck"], "Casual Dining");
        assert_eq!(recorded["columns"]["Acct Mgr"], "primary_manager_name");
    });

    // Saved to a file (no dialog here: beside the sheet), and loaded for
    // next month's file, whose title row is taller.
    harness.get_by_label("Back to the preview").click();
    harness.run_steps(2);
    harness.get_by_label("Save mapping…").click();
    wait_for(&mut harness, "the mapping saved", |app| {
        app.file
            .as_ref()
            .expect("a file is open")
            .mapping_message
            .is_some()
    });
    let saved = dir.path().join("accounts - mapping.json");
    let mapping = pantry_core::saved_mapping::SavedMapping::read(&saved).unwrap();
    assert_eq!(mapping.entity.as_deref(), Some("organizations"));
    assert_eq!(
        mapping.columns.get("Acct Mgr"),
        Some(&Some("primary_manager_name".to_owned()))
    );

    let next = dir.path().join("accounts december.csv");
    std::fs::write(
        &next,
        "Kitchen Pantry - Accounts 2024,,,\nDecember,,,\n\
         Organizations,Acct Mgr,SEGMENT,CITY\n\
         Taco Truck Co,Lee Park,FOOD TRUCK,Austin\n",
    )
    .unwrap();
    harness.state_mut().open(next, None, None);
    wait_for(
        &mut harness,
        "next month's preview",
        PantryApp::preview_ready,
    );
    harness.state_mut().apply_mapping(mapping);
    wait_for(&mut harness, "the mapping applied", |app| {
        app.preview_ready() && app.preview().unwrap().targets[1] == "primary_manager_name"
    });
    let preview = harness.state().preview().unwrap();
    assert_eq!(preview.header_row, 3);
    assert_eq!(preview.counts.would_import, 1);
    assert_eq!(preview.counts.warnings, 0, "{:?}", preview.issues);
}

#[test]
fn rows_already_in_the_crm_are_skipped_or_update_their_record_as_chosen() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let dir = tempfile::tempdir().unwrap();
    let march = dir.path().join("march.csv");
    std::fs::write(
        &march,
        "Organizations,CITY,PRIORITY\nHoboken Provisions,Hoboken,A\n",
    )
    .unwrap();
    let april = dir.path().join("april.csv");
    std::fs::write(
        &april,
        "Organizations,CITY,PRIORITY\nHOBOKEN PROVISIONS,Hoboken,B\nNew Place,Boston,C\n",
    )
    .unwrap();
    let mut harness = window(Some(march));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    harness.state_mut().connection.fill_from_url(&db.url);
    harness.run_steps(2);
    click_import(&mut harness, "Import 1 organization");
    wait_for(&mut harness, "the first import", import_finished);

    // April, skipped as it comes: the one already there is listed.
    harness.state_mut().open(april.clone(), None, None);
    wait_for(&mut harness, "April's preview", PantryApp::preview_ready);
    click_import(&mut harness, "Import 2 organizations");
    wait_for(&mut harness, "April skipped", import_finished);
    harness.get_by_label("1 succeeded, ");
    harness.get_by_label(", 1 skipped");
    harness.get_by_label("1 row skipped: already in the CRM");
    let report = last_report(&harness);
    assert_eq!((report.succeeded, report.skipped), (1, 1));

    // April again, updating: the record takes the file's priority.
    harness.get_by_label("Back to the preview").click();
    harness.run_steps(2);
    harness.get_by_label("Rows already in the CRM:").click();
    harness.run_steps(2);
    harness
        .get_by_label("update the CRM's record with the file's filled cells")
        .click();
    harness.run_steps(2);
    assert_eq!(
        harness.state().on_duplicate,
        pantry_core::duplicates::DuplicatePolicy::Update
    );
    harness.get_by_label("Import this file again…").click();
    wait_for(&mut harness, "the question", |app| {
        app.file.as_ref().is_some_and(|f| f.repeat.is_some())
    });
    harness.get_by_label("Import again anyway").click();
    wait_for(&mut harness, "April updating", |app| {
        import_finished(app) && app.view == pantry_window::View::Results
    });
    harness.get_by_label("2 rows updated a record already in the CRM");
    let report = last_report(&harness);
    assert_eq!((report.succeeded, report.updated), (2, 2));
    rt.block_on(async {
        assert_eq!(
            db.count("SELECT count(*) FROM organizations WHERE name = 'Hoboken Provisions' AND priority = 'B'")
                .await,
            1
        );
        assert_eq!(db.count("SELECT count(*) FROM organizations").await, 2);
    });
}

#[test]
fn the_rows_in_the_crm_are_listed_before_import_and_one_can_be_told_to_update() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let dir = tempfile::tempdir().unwrap();
    let march = dir.path().join("march.csv");
    std::fs::write(
        &march,
        "Organizations,CITY,PRIORITY\nHoboken Provisions,Hoboken,A\nCafé Olé,Chicago,B\n",
    )
    .unwrap();
    let output = common::pantry(&["import", march.to_str().unwrap(), "--database-url", &db.url]);
    assert!(output.status.success());
    let april = dir.path().join("april.csv");
    std::fs::write(
        &april,
        "Organizations,CITY,PRIORITY\nHOBOKEN PROVISIONS,Hoboken,B\nCafe Ole,Chicago,B\nNew Place,Boston,C\n",
    )
    .unwrap();
    let mut harness = window(Some(april));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    harness.state_mut().connection.fill_from_url(&db.url);
    harness.run_steps(2);
    harness.get_by_label("Test connection").click();
    wait_for(&mut harness, "the connection", |app| {
        app.connection.is_verified()
    });
    harness
        .get_by_label("Look for these rows in the CRM")
        .click();
    wait_for(&mut harness, "the scan", |app| {
        app.file
            .as_ref()
            .expect("a file is open")
            .crm_matches
            .scan
            .is_some()
    });
    harness.get_by_label("2 of 3 rows match records already in the CRM.");
    harness.get_by_label("→ Hoboken Provisions (Hoboken)");
    // Hoboken's priority would change; Café Olé has nothing to update.
    harness.get_by_label("   priority: A → B");
    harness.get_by_label("   nothing to update");
    // Row 2 updates its record; the rest are skipped as the import says.
    harness.get_by_label("Row 2").click();
    harness.run_steps(2);
    harness.get_by_label("update").click();
    harness.run_steps(2);
    assert_eq!(
        harness
            .state()
            .edits()
            .expect("a file is open")
            .duplicate_choices
            .get(&2),
        Some(&pantry_core::duplicates::DuplicatePolicy::Update)
    );
    click_import(&mut harness, "Import 3 organizations");
    wait_for(&mut harness, "the import", import_finished);
    let report = last_report(&harness);
    assert_eq!(
        (report.succeeded, report.updated, report.skipped),
        (2, 1, 1)
    );
    rt.block_on(async {
        assert_eq!(
            db.count("SELECT count(*) FROM organizations WHERE name = 'Hoboken Provisions' AND priority = 'B'")
                .await,
            1
        );
        assert_eq!(db.count("SELECT count(*) FROM organizations").await, 3);
    });
}

#[test]
fn after_an_import_the_window_shows_what_went_in_and_exports_it() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    // A copy, so the export (saved beside it when no file dialog answers)
    // lands in a folder of the test's own.
    let dir = tempfile::tempdir().unwrap();
    let sheet = dir.path().join("broker accounts.csv");
    std::fs::copy(data("broker_accounts_1252.csv"), &sheet).unwrap();
    let mut harness = window(Some(sheet));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    connect(&mut harness, &db.url);
    click_import(&mut harness, "Import 11 organizations");
    wait_for(&mut harness, "the import", import_finished);
    wait_for(&mut harness, "the verification", |app| {
        app.verification.result.is_some()
    });
    harness.get_by_label("What went in, checked in the CRM");
    let verified = match &harness.state().verification.result {
        Some(Ok(verified)) => verified[0].clone(),
        Some(Err(message)) => panic!("verification: {message}"),
        None => panic!("no verification"),
    };
    // The window's numbers are the database's.
    let stored = rt.block_on(db.count(
        "SELECT count(*) FROM organizations WHERE import_batch_id IS NOT NULL AND deleted_at IS NULL",
    ));
    assert_eq!(verified.stored_rows as i64, stored);
    assert_eq!((verified.file_rows, verified.failed_rows), (Some(13), 2));
    let priorities = rt.block_on(
        db.count("SELECT count(*) FROM organizations WHERE priority = 'A' AND deleted_at IS NULL"),
    );
    let chart = verified
        .charts
        .iter()
        .find(|c| c.field == "PRIORITY-FOCUS (A-D)")
        .expect("priority is charted");
    assert_eq!(
        chart
            .values
            .iter()
            .find(|(v, _)| v == "A")
            .map(|(_, n)| *n as i64),
        Some(priorities)
    );
    harness.get_by_label("stored by this import");
    harness.get_by_label("PRIORITY-FOCUS (A-D)");
    harness.get_by_label("10 stored rows picked at random, beside the spreadsheet");
    assert!(
        verified
            .sample
            .iter()
            .all(|row| row.cells[0].file.is_some()),
        "every sampled row has its spreadsheet cells beside it"
    );
    let warnings = last_report(&harness).warning_list.len();
    assert!(warnings > 0, "the sheet has warned rows");
    harness
        .get_by_label(&format!("{warnings} warnings (the rows were imported)"))
        .click();
    harness.run_steps(2);
    harness.get_by_label("Save warnings…");

    // The sidebar's Export: the import's rows to CSV, beside the sheet.
    harness
        .get_by_label_contains("Export from the CRM…")
        .click();
    harness.run_steps(3);
    harness.get_by_label("Export…").click();
    wait_for(&mut harness, "the export", |app| {
        app.export.message.is_some()
    });
    let message = match &harness.state().export.message {
        Some(Ok(message)) => message.clone(),
        other => panic!("export: {other:?}"),
    };
    assert!(
        message.starts_with("✔ 11 organizations written to"),
        "{message}"
    );
    let written = dir.path().join("organizations.csv");
    let text = std::fs::read_to_string(&written).unwrap();
    let records = csv::Reader::from_reader(text.as_bytes()).records().count();
    assert_eq!(records, 11, "11 rows under the header: {text}");
    assert!(text.contains("Café Rouge,A,Fine Dining"), "{text}");
}

#[test]
fn a_failing_cell_is_fixed_in_the_preview_and_the_fix_is_what_gets_imported() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let dir = tempfile::tempdir().unwrap();
    let sheet = dir.path().join("messy accounts.csv");
    std::fs::write(
        &sheet,
        "Organizations,PHONE,STATE,CITY\n\
         Cafe One,312.555.0100,Illinois,Chicago\n\
         ,(312)555-0101,il,Chicago\n\
         Cafe Three,+1 312 555 0102,Texas,Austin\n\
         Not Wanted,,,\n",
    )
    .unwrap();
    let mut harness = window(Some(sheet));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    assert_eq!(harness.state().preview().unwrap().counts.would_fail, 1);

    // Keys: End and Home move through the rows, Ctrl+F shows the problems.
    harness.key_press(egui::Key::End);
    harness.run_steps(2);
    assert_eq!(harness.state().preview().unwrap().selected, Some(3));
    harness.key_press(egui::Key::Home);
    harness.run_steps(2);
    assert_eq!(harness.state().preview().unwrap().selected, Some(0));
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    harness.run_steps(2);
    assert!(harness.state().preview().unwrap().only_problems);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::F);
    harness.run_steps(2);

    // The failing row: select it, Enter opens its first cell, type, Enter.
    harness.get_by_label("✖ 3").click();
    harness.run_steps(2);
    harness.key_press(egui::Key::Enter);
    harness.run_steps(3);
    assert!(harness.state().preview().unwrap().editing.is_some());
    harness.event(egui::Event::Text("Cafe Two".to_owned()));
    harness.run_steps(2);
    harness.key_press(egui::Key::Enter);
    wait_for(&mut harness, "the sheet read again", |app| {
        app.preview_ready() && app.edits().expect("a file is open").edited_cells() == 1
    });
    assert_eq!(
        harness.state().preview().unwrap().counts.would_fail,
        0,
        "the row's problem went with the edit: {:?} {:?}",
        harness.state().edits().expect("a file is open"),
        harness.state().preview().unwrap().issues
    );
    harness.get_by_label_contains("✎ Your changes: 1 cell edited");
    harness.get_by_label("✎ Cafe Two");

    // A row the broker does not want, and the states cleaned up.
    harness.get_by_label("5").click();
    harness.run_steps(2);
    harness.get_by_label("Remove this row").click();
    wait_for(&mut harness, "the row removed", |app| {
        app.preview_ready()
            && app
                .edits()
                .expect("a file is open")
                .removed_rows
                .contains(&5)
    });
    harness.get_by_label("Clean-up suggestions (2)");
    harness.get_by_label("State names to their two-letter code");
    harness.get_by_label("    'Illinois' → 'IL'");
    harness.get_all_by_label("Apply").next().unwrap().click();
    wait_for(&mut harness, "the clean-up applied", |app| {
        app.preview_ready() && !app.edits().expect("a file is open").clean.is_empty()
    });
    harness.get_by_label("✔ State names to their two-letter code: applied");
    harness.get_by_label_contains("1 cell edited · 1 row removed · states cleaned");

    connect(&mut harness, &db.url);
    click_import(&mut harness, "Import 3 organizations");
    wait_for(&mut harness, "the import", import_finished);
    let rows = rt.block_on(async {
        db.client()
            .await
            .query(
                "SELECT import_source_row, name, state_province, import_notes FROM organizations ORDER BY 1",
                &[],
            )
            .await
            .unwrap()
    });
    let stored: Vec<(i32, String, String, serde_json::Value)> = rows
        .iter()
        .map(|r| {
            let notes: Option<String> = r.get(3);
            (
                r.get(0),
                r.get(1),
                r.get(2),
                serde_json::from_str(&notes.unwrap_or_else(|| "{}".to_owned())).unwrap(),
            )
        })
        .collect();
    assert_eq!(stored.len(), 3, "row 5 was removed: {stored:?}");
    assert_eq!(
        (stored[1].0, &stored[1].1[..], &stored[1].2[..]),
        (3, "Cafe Two", "IL")
    );
    assert_eq!(
        stored[1].3,
        serde_json::json!({"Organizations (as written)": "", "STATE (as written)": "il"})
    );
    assert_eq!(stored[0].3["STATE (as written)"], "Illinois");
}

#[test]
fn a_hubspot_export_opens_with_every_column_placed_and_why() {
    let file = data("other_systems/hubspot-crm-exports-all-companies-2026-11-30.csv");
    let mut harness = window(Some(file));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    harness.get_by_label("5 will import");
    let preview = harness.state().preview().unwrap();
    let placed: Vec<(&str, &str)> = preview
        .headers
        .iter()
        .zip(&preview.targets)
        .map(|(h, t)| (h.as_str(), t.as_str()))
        .collect();
    for expected in [
        ("Company name", "name"),
        ("Company owner", "primary_manager_name"),
        ("State/Region", "state_province"),
        ("Country/Region", "country"),
        ("Number of Employees", "employee_count"),
        ("Parent Company", "parent_organization_id (found by name)"),
        ("Record ID", "import notes"),
    ] {
        assert!(placed.contains(&expected), "{expected:?} in {placed:?}");
    }
    // Under each header, why: a known header, one read from its words, or
    // no CRM field.
    assert_eq!(harness.get_all_by_label("no CRM field").count(), 4);
    assert!(harness.get_all_by_label("known header").count() >= 10);
    assert!(harness.get_all_by_label("read from its words").count() >= 2);
    harness.get_by_label("→ state_province ▾");
}

/// A rep's workbook, as the second trial brought it: principals among the
/// customers, subtotal and total rows, a buyer naming her account without
/// its accent.
fn write_trial_workbook(dir: &Path) -> PathBuf {
    let sheets: Vec<(&str, Vec<Vec<&str>>)> = vec![
        (
            "Customers",
            vec![
                vec!["Account", "Seg.", "Town", "ST"],
                vec!["Café Olé", "Casual", "Chicago", "IL"],
                vec!["St. Vincent Hospital Café", "Casual", "Indianapolis", "IN"],
                vec!["Total Wine & More", "Casual", "Skokie", "IL"],
                vec!["Golden Fields Foods", "Manufacturer", "Omaha", "NE"],
                vec!["Illinois/Indiana subtotal", "", "", ""],
                vec!["TOTAL ACCOUNTS", "", "", ""],
            ],
        ),
        (
            "Buyers",
            vec![
                vec!["Name", "Account", "Email"],
                vec!["Maria Lopez", "St. Vincent Hospital Cafe", "maria@stv.org"],
            ],
        ),
        (
            "Pipeline",
            vec![
                vec!["Deal", "Account", "Principal", "Stage"],
                vec![
                    "Fries program",
                    "Café Olé",
                    "Golden Fields Foods",
                    "Prospecting",
                ],
                vec!["Pipeline total", "", "", ""],
            ],
        ),
    ];
    common::write_sheets(&dir.join("Q4 territory.xlsx"), &sheets)
}

/// Opens `file` in a window tall enough for the workbook card and its
/// button, and waits for its sheets.
fn workbook_window(file: PathBuf) -> Harness<'static, PantryApp> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 1400.0))
        .build_eframe(move |cc| PantryApp::new(cc, Some(file)));
    wait_for(&mut harness, "the preview and its sheets", |app| {
        app.preview_ready() && app.file.as_ref().is_some_and(|f| f.workbook.is_some())
    });
    harness
}

/// Imports the workbook again: the question first, which must say
/// `it_says`, then the run.
fn import_workbook_again(harness: &mut Harness<'static, PantryApp>, button: &str, it_says: &str) {
    harness.get_by_label(button).click();
    wait_for(harness, "the question", |app| {
        app.file.as_ref().is_some_and(|f| f.repeat.is_some())
    });
    harness.get_by_label("This workbook was imported already");
    assert!(
        harness.query_by_label_contains(it_says).is_some(),
        "the question says '{it_says}'"
    );
    harness.get_by_label("Import again anyway").click();
    wait_for(harness, "the run", import_finished);
}

#[test]
fn a_reps_workbook_skips_its_totals_rows_links_across_accents_and_makes_principals() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbook_window(write_trial_workbook(dir.path()));
    // Totals rows are passed over in the preview, Total Wine & More is not.
    harness.get_by_label("Customers · Organizations").click();
    wait_for(&mut harness, "the Customers sheet", |app| {
        app.preview_ready() && app.preview().unwrap().sheet.as_deref() == Some("Customers")
    });
    let counts = harness.state().preview().unwrap().counts;
    assert_eq!(
        (counts.rows, counts.would_import, counts.skipped),
        (6, 4, 2)
    );
    harness.get_by_label("2 totals rows skipped");
    // No TYPE column: the type is offered as a choice of its own.
    harness.get_by_label("Type:");

    harness.state_mut().connection.fill_from_url(&db.url);
    harness.run_steps(2);
    harness.get_by_label("Import all 3 sheets").click();
    wait_for(&mut harness, "the run", import_finished);
    harness.get_by_label("6 succeeded, ");
    rt.block_on(async {
        let client = db.client().await;
        let types: Vec<(String, String)> = client
            .query("SELECT name, type::text FROM organizations ORDER BY name", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(
            types,
            [
                ("Café Olé", "customer"),
                ("Golden Fields Foods", "principal"),
                ("St. Vincent Hospital Café", "customer"),
                ("Total Wine & More", "customer"),
            ]
            .map(|(n, t)| (n.to_owned(), t.to_owned()))
        );
        // The buyer's account without its accent is the same record.
        assert_eq!(
            db.count(
                "SELECT count(*) FROM contacts c JOIN organizations o ON o.id = c.organization_id \
                 WHERE c.email = 'maria@stv.org' AND o.name = 'St. Vincent Hospital Café'"
            )
            .await,
            1
        );
        // The deal's principal is a principal, and its totals row is no deal.
        assert_eq!(db.count("SELECT count(*) FROM opportunities").await, 1);
        assert_eq!(
            db.count(
                "SELECT count(*) FROM opportunities p JOIN organizations o ON o.id = p.principal_id \
                 WHERE o.type = 'principal'"
            )
            .await,
            1
        );
    });
    let report = harness
        .state()
        .run
        .as_ref()
        .unwrap()
        .report()
        .unwrap()
        .clone();
    assert!(
        report
            .sheets
            .iter()
            .flat_map(|s| &s.warning_list)
            .all(|w| !w.message.contains("not a principal")),
        "{:?}",
        report
            .sheets
            .iter()
            .map(|s| &s.warning_list)
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_repeat_import_says_what_its_policy_does_counts_what_it_skipped_and_undoes_its_updates() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let dir = tempfile::tempdir().unwrap();
    let mut harness = workbook_window(write_trial_workbook(dir.path()));
    harness.state_mut().connection.fill_from_url(&db.url);
    harness.run_steps(2);
    harness.get_by_label("Import all 3 sheets").click();
    wait_for(&mut harness, "the first run", import_finished);

    // Skip: the question says so, and the results count the skipped rows.
    import_workbook_again(
        &mut harness,
        "Import the workbook again",
        "Importing it again skips the rows already in the CRM.",
    );
    harness.get_by_label("0 succeeded, ");
    harness.get_by_label(", 6 skipped");
    assert!(
        harness
            .query_by_label_contains("(the rows were imported)")
            .is_none(),
        "warnings of skipped rows are not said to be imported"
    );
    rt.block_on(async {
        assert_eq!(db.count("SELECT count(*) FROM organizations").await, 4);
    });

    // Update: said so; the records take the file's values; undo gives the
    // old ones back and calls nothing 'changed by someone'.
    rt.block_on(async {
        db.client()
            .await
            .execute(
                "UPDATE organizations SET segment = 'Fine Dining' WHERE name = 'Café Olé'",
                &[],
            )
            .await
            .unwrap();
    });
    // The results show no policy picker; the Import card's is tested above.
    harness.state_mut().on_duplicate = pantry_core::duplicates::DuplicatePolicy::Update;
    harness.run_steps(2);
    import_workbook_again(
        &mut harness,
        "Import the workbook again",
        "Importing it again updates the records its rows match.",
    );
    harness.get_by_label("6 succeeded, ");
    harness.get_by_label("6 of the rows that succeeded updated a record already in the CRM.");
    let updated = harness
        .state()
        .run
        .as_ref()
        .unwrap()
        .report()
        .unwrap()
        .counts()
        .updated;
    assert_eq!(updated, 6);
    rt.block_on(async {
        assert_eq!(
            db.count("SELECT count(*) FROM organizations WHERE name = 'Café Olé' AND segment = 'Casual Dining'")
                .await,
            1
        );
    });
    wait_for(&mut harness, "the history", |app| {
        app.history.imports.len() == 9
    });
    // Each sheet's line in the history counts its updated records.
    harness
        .get_all_by_label("0 stored, 4 updated, 0 failed")
        .next()
        .expect("the history line counts the updated records");
    harness
        .get_all_by_label("Undo the whole run…")
        .next()
        .unwrap()
        .click();
    harness.run_steps(2);
    harness.get_by_label_contains("Give the 6 records run #3 updated their values from before?");
    harness.get_by_label("Yes, undo the run").click();
    wait_for(&mut harness, "the undo", |app| {
        app.history
            .imports
            .first()
            .is_some_and(|batch| batch.status == pantry_core::history::ImportStatus::Undone)
    });
    harness.get_by_label_contains("6 records it updated have their values from before again");
    assert!(
        harness
            .query_by_label_contains("changed after the import")
            .is_none()
    );
    rt.block_on(async {
        assert_eq!(
            db.count("SELECT count(*) FROM organizations WHERE name = 'Café Olé' AND segment = 'Fine Dining'")
                .await,
            1
        );
        assert_eq!(
            db.count("SELECT count(*) FROM organizations WHERE deleted_at IS NULL").await,
            4
        );
    });
}

#[test]
fn a_list_of_principals_without_a_type_column_gets_its_type_from_one_choice() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("our principals.csv");
    std::fs::write(
        &file,
        "Organization,City\nGolden Fields Foods,Omaha\nBlue Lake Farms,Madison\n",
    )
    .unwrap();
    let mut harness = window(Some(file));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    harness.get_by_label("Type:").click();
    harness.run_steps(2);
    harness.get_by_label("principal").click();
    wait_for(&mut harness, "the preview read again", |app| {
        app.preview_ready()
            && app
                .file
                .as_ref()
                .unwrap()
                .mapping()
                .fixed
                .contains_key("type")
    });
    harness.state_mut().connection.fill_from_url(&db.url);
    harness.run_steps(2);
    click_import(&mut harness, "Import 2 organizations");
    wait_for(&mut harness, "the import", import_finished);
    rt.block_on(async {
        assert_eq!(
            db.count("SELECT count(*) FROM organizations WHERE type = 'principal'")
                .await,
            2
        );
    });
}

#[test]
fn the_managers_card_matches_names_to_users_and_the_import_acts_as_one() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    rt.block_on(async {
        db.client()
            .await
            .batch_execute(
                "INSERT INTO crm_users (full_name, email) VALUES \
                 ('Dana Whitfield', 'dana@broker.com'), ('Sam Ortiz', 'sam@broker.com')",
            )
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.csv");
    std::fs::write(
        &file,
        "Organizations,PRIMARY ACCT. MANAGER\nCafe Alpha,Dana W.\nCafe Beta,Sammy\nCafe Gamma,Pat Unknown\n",
    )
    .unwrap();
    let mut harness = window(Some(file));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    connect(&mut harness, &db.url);
    wait_for(&mut harness, "the users", |app| {
        app.crm_users.directory.is_some()
    });
    harness.get_by_label("Managers (3)");
    harness.get_by_label("'Dana W.' · 1 row");
    harness.get_by_label("'Pat Unknown' · 1 row");
    // Sammy is Sam, by hand; Pat stays text.
    harness.get_by_label("'Sammy' · 1 row").click();
    harness.run_steps(2);
    harness.get_by_label("Sam Ortiz <sam@broker.com>").click();
    wait_for(&mut harness, "the preview read again", |app| {
        app.preview_ready()
            && app
                .file
                .as_ref()
                .unwrap()
                .mapping()
                .users
                .contains_key("Sammy")
    });
    harness.get_by_label("Import as:").click();
    harness.run_steps(2);
    harness
        .get_by_label("Dana Whitfield <dana@broker.com>")
        .click();
    harness.run_steps(2);
    click_import(&mut harness, "Import 3 organizations");
    wait_for(&mut harness, "the import", import_finished);
    rt.block_on(async {
        let rows: Vec<(String, Option<String>, Option<String>)> = db
            .client()
            .await
            .query(
                "SELECT o.name, m.email, c.email FROM organizations o \
                 LEFT JOIN crm_users m ON m.id = o.primary_manager_id \
                 LEFT JOIN crm_users c ON c.id = o.created_by ORDER BY o.name",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let dana = Some("dana@broker.com".to_owned());
        assert_eq!(
            rows,
            vec![
                ("Cafe Alpha".to_owned(), dana.clone(), dana.clone()),
                (
                    "Cafe Beta".to_owned(),
                    Some("sam@broker.com".to_owned()),
                    dana.clone()
                ),
                ("Cafe Gamma".to_owned(), None, dana.clone()),
            ]
        );
    });
}

#[test]
fn a_price_list_naming_its_maker_only_in_its_title_gets_one_principal_for_every_row() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    rt.block_on(async {
        db.client()
            .await
            .batch_execute("INSERT INTO organizations (name, type) VALUES ('Golden Fields Foods', 'principal')")
            .await
            .unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("golden fields price list.csv");
    std::fs::write(
        &file,
        "Item Description,Category,Case $\nSteak fries,Frozen,38.50\nOnion rings,Frozen,29.00\n",
    )
    .unwrap();
    let mut harness = window(Some(file));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    assert_eq!(harness.state().preview().unwrap().counts.would_fail, 2);
    harness.get_by_label("Principal of every row:").click();
    harness.run_steps(2);
    harness
        .get_by_label("Principal of every row:")
        .type_text("Golden Fields Foods");
    harness.key_press(egui::Key::Enter);
    wait_for(&mut harness, "the preview read again", |app| {
        app.preview_ready()
            && app
                .file
                .as_ref()
                .unwrap()
                .mapping()
                .fixed
                .get("principal_id")
                == Some(&"Golden Fields Foods".to_owned())
    });
    assert_eq!(harness.state().preview().unwrap().counts.would_import, 2);
    harness.state_mut().connection.fill_from_url(&db.url);
    harness.run_steps(2);
    click_import(&mut harness, "Import 2 products");
    wait_for(&mut harness, "the import", import_finished);
    rt.block_on(async {
        assert_eq!(
            db.count(
                "SELECT count(*) FROM products p JOIN organizations o ON o.id = p.principal_id \
                 WHERE o.name = 'Golden Fields Foods'"
            )
            .await,
            2
        );
    });
}
