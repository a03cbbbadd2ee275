//! "Keep in step" in the window, driven headless with egui_kittest against
//! the test PostgreSQL: a file imported, kept in step by a click, saved
//! with one cell changed, and the pass that brought it in listed.

mod common;

use common::TestDatabase;
use common::window::{click_import, connect, wait_for, window};
use egui_kittest::kittest::Queryable;
use pantry_window::PantryApp;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn passes(app: &PantryApp) -> usize {
    app.keep.passes.len()
}

#[test]
fn an_imported_file_kept_in_step_brings_each_save_in() {
    let rt = runtime();
    let db = rt.block_on(TestDatabase::migrated());
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("accounts.csv");
    std::fs::write(
        &path,
        "Organization Name,City,Phone\nSysco Foods,Chicago,(312) 555-0100\nBlue Plate,Boston,(617) 555-0102\n",
    )
    .unwrap();
    let mut harness = window(Some(path.clone()));
    wait_for(&mut harness, "the preview", PantryApp::preview_ready);
    connect(&mut harness, &db.url);
    click_import(&mut harness, "Import 2 organizations");
    wait_for(&mut harness, "the import", |app| {
        app.run.as_ref().is_some_and(|run| !run.is_running())
    });

    harness.get_by_label("Keep in step…").click();
    harness.run_steps(2);
    wait_for(&mut harness, "the first pass", |app| passes(app) == 1);
    harness.get_by_label_contains("Watching accounts.csv");
    // The rows the import just stored are in step already: the first pass
    // writes nothing, and nothing is stored twice.
    harness.get_by_label("2 unchanged");
    assert_eq!(
        rt.block_on(db.count("SELECT count(*) FROM organizations")),
        2
    );
    assert_eq!(
        rt.block_on(db.count("SELECT count(*) FROM import_matches")),
        0
    );

    // The broker saves the file with one phone changed and a row added.
    let saving = folder.path().join("accounts.saving");
    std::fs::write(
        &saving,
        "Organization Name,City,Phone\nSysco Foods,Chicago,(312) 555-0199\nBlue Plate,Boston,(617) 555-0102\nNew Leaf,Austin,\n",
    )
    .unwrap();
    std::fs::rename(&saving, &path).unwrap();
    wait_for(&mut harness, "the save's pass", |app| passes(app) == 2);
    harness.get_by_label("1 created, 1 updated, 1 unchanged");
    assert_eq!(
        rt.block_on(db.count(
            "SELECT count(*) FROM organizations WHERE name = 'Sysco Foods' AND phone = '(312) 555-0199'"
        )),
        1
    );

    // Undo of that pass, then Stop.
    harness
        .get_all_by_label("Undo this pass")
        .next()
        .unwrap()
        .click();
    harness.run_steps(2);
    wait_for(&mut harness, "the undo", |app| !app.history.busy());
    assert_eq!(
        rt.block_on(db.count(
            "SELECT count(*) FROM organizations WHERE deleted_at IS NULL AND phone IS DISTINCT FROM '(312) 555-0199'"
        )),
        2
    );
    // Marked undone once the undo went through.
    wait_for(&mut harness, "the pass marked undone", |app| {
        app.keep.undone.contains(&2)
    });
    assert!(harness.get_all_by_label("undone").next().is_some());

    // Rows deleted from the file are to leave the CRM too: the sync starts
    // again with that choice, its first pass writing nothing, the passes
    // before still listed.
    harness
        .get_by_label_contains("Remove from the CRM the records this sync created")
        .click();
    harness.run_steps(2);
    wait_for(&mut harness, "the sync started again", |app| {
        app.keep.remove_missing && passes(app) == 3
    });
    assert_eq!(harness.state().keep.passes[0].pass, 3);
    assert!(harness.state().keep.undone.contains(&2));
    assert!(harness.state().keep.is_running());
    save_csv(
        &folder,
        &path,
        "Organization Name,City,Phone\nSysco Foods,Chicago,(312) 555-0199\nBlue Plate,Boston,(617) 555-0102\nNew Leaf,Austin,\nGreen Fork,Denver,\n",
    );
    wait_for(&mut harness, "Green Fork's pass", |app| passes(app) == 4);
    save_csv(
        &folder,
        &path,
        "Organization Name,City,Phone\nSysco Foods,Chicago,(312) 555-0199\nBlue Plate,Boston,(617) 555-0102\nNew Leaf,Austin,\n",
    );
    wait_for(&mut harness, "the removal's pass", |app| passes(app) == 5);
    harness.get_by_label_contains("Green Fork (Denver): removed from the CRM");
    assert_eq!(
        rt.block_on(db.count(
            "SELECT count(*) FROM organizations WHERE name = 'Green Fork' AND deleted_at IS NOT NULL"
        )),
        1
    );

    // Stop while it waits for a save: it ends at once.
    harness.get_by_label("Stop").click();
    wait_for(&mut harness, "the sync stopped", |app| {
        !app.keep.is_running()
    });
    harness.run_steps(2);
    harness.get_by_label_contains("accounts.csv is not watched");
    assert!(harness.state().keep.stopped.is_none());
}

/// Saves `text` as `path` the way editors do: written aside, renamed over.
fn save_csv(folder: &tempfile::TempDir, path: &std::path::Path, text: &str) {
    let saving = folder.path().join("accounts.saving");
    std::fs::write(&saving, text).unwrap();
    std::fs::rename(&saving, path).unwrap();
}
