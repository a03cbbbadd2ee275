//! The database server stops and starts again under a running import: the
//! import ends with a clear message, and running it again stores exactly the
//! file's rows, once. (A test binary of its own: the restart would cut the
//! other TLS tests' connections.)

mod common;

use std::process::Command;
use std::sync::Arc;

use common::import_file;
use common::{TestDatabase, write_accounts};
use pantry_core::database::ConnectionSettings;
use pantry_core::import::{ImportError, ImportOptions};
use pantry_core::progress::ImportProgress;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with ./scripts/test, which starts the TLS server it restarts")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_import_is_reported_and_the_rerun_completes_it() {
    let db = TestDatabase::create_on(&env("PANTRY_TEST_TLS_URL")).await;
    let settings = ConnectionSettings::parse(&db.url).unwrap();
    pantry_core::migrate::migrate(&settings).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write_accounts(dir.path(), 80_000);
    let options = ImportOptions {
        batch_size: 500,
        ..ImportOptions::default()
    };

    let progress = ImportProgress::new(None);
    let watcher = Arc::clone(&progress);
    let restart = tokio::spawn(async move {
        while watcher.snapshot().batches_done < 3 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        tokio::task::spawn_blocking(|| {
            let status = Command::new("sh")
                .args(["-c", &env("PANTRY_TEST_TLS_RESTART")])
                .stdout(std::process::Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "the server restarts");
        })
        .await
        .unwrap();
    });
    let outcome = import_file(&path, &settings, &options, Arc::clone(&progress)).await;
    restart.await.unwrap();
    let error = outcome.expect_err("the restart cuts the import off");
    let ImportError::Interrupted { cause, report } = error else {
        panic!("not an interruption: {error}");
    };
    let reason = cause.to_string();
    assert!(
        reason.contains("connection") || reason.contains("terminat") || reason.contains("shut"),
        "{reason}"
    );
    assert!(report.succeeded() < 80_000, "{}", report.succeeded());
    eprintln!(
        "the interrupted import said: {reason} ({} rows stored)",
        report.succeeded()
    );

    // Run it again: it resumes, and every row is there exactly once.
    let report = import_file(
        &path,
        &settings,
        &ImportOptions::default(),
        ImportProgress::new(None),
    )
    .await
    .expect("the rerun completes");
    assert_eq!(
        (report.total, report.succeeded, report.failed),
        (80_000, 80_000, 0)
    );
    assert!(report.already_stored > 0);
    assert_eq!(db.count("SELECT count(*) FROM organizations").await, 80_000);
    assert_eq!(
        db.count("SELECT count(DISTINCT name) FROM organizations")
            .await,
        80_000
    );
}
