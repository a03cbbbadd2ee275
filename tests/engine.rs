//! The import engine through the library: progress a window can read,
//! cancellation between batches, and the keys it generates.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::import_file;
use common::{TestDatabase, write_accounts};
use pantry_core::import::ImportOptions;
use pantry_core::progress::ImportProgress;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_counts_every_batch_and_wakes_the_watcher() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_accounts(dir.path(), 20_000);
    let wakes = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&wakes);
    let progress = ImportProgress::new(Some(Arc::new(move || {
        counter.fetch_add(1, Ordering::Relaxed);
    })));
    let options = ImportOptions {
        batch_size: 1_000,
        ..ImportOptions::default()
    };
    let report = import_file(&path, &db.settings(), &options, Arc::clone(&progress))
        .await
        .unwrap();
    assert_eq!(
        (report.total, report.succeeded, report.failed),
        (20_000, 20_000, 0)
    );
    let done = progress.snapshot();
    assert!(done.reading_done);
    assert_eq!(done.batches_done, 20);
    assert_eq!(done.batches_total, 20);
    assert_eq!(done.succeeded, 20_000);
    assert_eq!(done.rows_read, 20_000);
    assert!(wakes.load(Ordering::Relaxed) >= 20);
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 20_000);
    // Keys are UUIDv7, generated in order: time-ordered for the B-tree.
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE substr(id::text, 15, 1) <> '7'")
            .await,
        0
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM (SELECT id, lag(id) OVER (ORDER BY import_source_row) AS before
             FROM organizations) pairs WHERE before > id"
        )
        .await,
        0,
        "every key is greater than the key of the row before it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_between_batches_and_reports_what_was_committed() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let path = write_accounts(dir.path(), 200_000);
    let progress = ImportProgress::new(None);
    let canceller = common::cancel_after(&progress, 2);
    let options = ImportOptions {
        batch_size: 1_000,
        ..ImportOptions::default()
    };
    let report = import_file(&path, &db.settings(), &options, Arc::clone(&progress))
        .await
        .unwrap();
    canceller.await.unwrap();
    assert!(report.cancelled);
    let stored = db.count("SELECT count(*) FROM organizations").await as u64;
    assert_eq!(report.succeeded, stored);
    assert_eq!(stored % 1_000, 0, "whole batches only");
    assert!((2_000..200_000).contains(&stored), "{stored}");
    assert_eq!(report.total, stored);
}

/// A batch the database refuses is split until the refused row stands
/// alone: only it fails, with the database's reason, and the history's
/// counts match the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_row_fails_alone_with_the_database_reason() {
    let db = TestDatabase::migrated().await;
    db.client()
        .await
        .batch_execute(
            "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF NEW.name = 'Account 1500' THEN
                     RAISE EXCEPTION 'this CRM does not take Account 1500';
                 END IF;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER refuse_one BEFORE INSERT ON organizations
                 FOR EACH ROW EXECUTE FUNCTION refuse_one();",
        )
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_accounts(dir.path(), 3_000);
    let options = ImportOptions {
        batch_size: 1_000,
        ..ImportOptions::default()
    };
    let report = import_file(&path, &db.settings(), &options, ImportProgress::new(None))
        .await
        .unwrap();
    assert_eq!(
        (report.total, report.succeeded, report.failed),
        (3_000, 2_999, 1)
    );
    assert_eq!(report.failures.len(), 1);
    // Account 1500 is on spreadsheet row 1502 (header row 1, Account 0 on row 2).
    assert_eq!(report.failures[0].row, 1_502);
    assert_eq!(
        report.failures[0].message,
        "The database refused the row: this CRM does not take Account 1500"
    );
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 2_999);
    assert_eq!(
        db.count("SELECT succeeded::bigint * 10000 + failed FROM import_batches")
            .await,
        2_999 * 10_000 + 1
    );
}
