//! A throwaway database per test, on the server the test command found
//! (`PANTRY_TEST_DATABASE_URL`), dropped when the test ends.
#![allow(dead_code)]

pub mod window;

use std::sync::atomic::{AtomicU32, Ordering};

use pantry_core::database::ConnectionSettings;

/// A database that exists for one test.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    admin_url: String,
}

fn admin_url() -> String {
    std::env::var("PANTRY_TEST_DATABASE_URL").unwrap_or_else(|_| {
        "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".to_owned()
    })
}

/// The connection string `admin` with its database replaced by `database`.
pub fn with_database(admin: &str, database: &str) -> String {
    if admin.starts_with("postgres://") || admin.starts_with("postgresql://") {
        let mut url = url::Url::parse(admin).expect("PANTRY_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{database}"));
        url.to_string()
    } else {
        format!("{admin} dbname={database}")
    }
}

impl TestDatabase {
    /// Creates an empty database with a unique name.
    pub async fn create() -> TestDatabase {
        TestDatabase::create_on(&admin_url()).await
    }

    /// Creates an empty database on the server of `admin_url`.
    pub async fn create_on(admin_url: &str) -> TestDatabase {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "pantry_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::now_v7().simple().to_string()[24..].to_owned()
        );
        let admin_url = admin_url.to_owned();
        let admin = ConnectionSettings::parse(&admin_url)
            .unwrap()
            .connect()
            .await
            .expect("the test PostgreSQL answers");
        // A name made here from digits and letters, quoted as an identifier.
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        let url = with_database(&admin_url, &name);
        TestDatabase {
            name,
            url,
            admin_url,
        }
    }

    /// Creates a database and applies the migrations.
    pub async fn migrated() -> TestDatabase {
        let database = TestDatabase::create().await;
        pantry_core::migrate::migrate(&database.settings())
            .await
            .expect("migrations apply");
        database
    }

    pub fn settings(&self) -> ConnectionSettings {
        ConnectionSettings::parse(&self.url).unwrap()
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        self.settings().connect().await.unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.client()
            .await
            .query_one(sql, &[])
            .await
            .unwrap()
            .get(0)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside any runtime's control: use a small one of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(admin) = ConnectionSettings::parse(&admin_url)
                    .unwrap()
                    .connect()
                    .await
                {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A sample file of the project's own, under `tests/data/`.
pub fn data(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Runs the `pantry-import` binary (without the caller's `DATABASE_URL` or
/// TLS variables, so only the arguments count).
pub fn pantry(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_pantry-import"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PGSSLMODE")
        .env_remove("PGSSLROOTCERT")
        .output()
        .expect("the binary runs")
}

/// Bytes a process printed, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `accounts.csv` with `rows` distinct organizations into `dir`.
pub fn write_accounts(dir: &std::path::Path, rows: usize) -> std::path::PathBuf {
    let path = dir.join("accounts.csv");
    let mut text = String::from("Organizations,CITY\n");
    for i in 0..rows {
        text.push_str(&format!("Account {i},Chicago\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// Cancels the import behind `progress` once `batches` batches are in.
pub fn cancel_after(
    progress: &std::sync::Arc<pantry_core::progress::ImportProgress>,
    batches: u64,
) -> tokio::task::JoinHandle<()> {
    let watcher = std::sync::Arc::clone(progress);
    tokio::spawn(async move {
        while watcher.snapshot().batches_done < batches {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        watcher.cancel();
    })
}

/// Extra contacts on the People sheet, so a run can be cut off inside it.
pub const MORE_PEOPLE: usize = 40;

/// A broker's workbook with its sheets in the order a broker might make
/// them: activities first, accounts last, a ReadMe in between. Every link
/// names a record of another sheet, except Raj's company, which is nowhere.
pub fn write_workbook(dir: &std::path::Path) -> std::path::PathBuf {
    let mut people = vec![
        vec!["First Name", "Last Name", "Company", "Email"],
        vec!["Mary", "Smith", "hoboken  provisions", "mary@hoboken.com"],
        vec!["Raj", "Patel", "Nowhere Bistro", "raj@nowhere.com"],
    ];
    let extra: Vec<[String; 4]> = (0..MORE_PEOPLE)
        .map(|i| {
            [
                "Cook".to_owned(),
                format!("Number {i}"),
                "Sysco".to_owned(),
                format!("cook{i}@sysco.com"),
            ]
        })
        .collect();
    people.extend(extra.iter().map(|r| r.iter().map(String::as_str).collect()));
    let sheets: Vec<(&str, Vec<Vec<&str>>)> = vec![
        (
            "Activity Log",
            vec![
                vec![
                    "Type",
                    "Subject",
                    "Date",
                    "Organization",
                    "Contact",
                    "Opportunity",
                ],
                vec![
                    "call",
                    "Menu review",
                    "2025-03-14",
                    "Hoboken Provisions",
                    "Mary Smith",
                    "Q3 Menu",
                ],
            ],
        ),
        ("People", people),
        (
            "ReadMe",
            vec![vec![
                "This workbook is our whole CRM. Ask Dana before editing.",
            ]],
        ),
        (
            "Pipeline",
            vec![
                vec![
                    "Opportunity",
                    "Organization",
                    "Contact",
                    "Principal",
                    "Amount",
                ],
                vec![
                    "Q3 Menu",
                    "Hoboken Provisions",
                    "mary@hoboken.com",
                    "Heinz",
                    "1200",
                ],
            ],
        ),
        (
            "Products",
            vec![
                vec!["Product", "Principal", "Category"],
                vec!["Tomato Ketchup", "heinz", "Grocery"],
            ],
        ),
        (
            "Accounts",
            vec![
                vec!["Organizations", "TYPE", "CITY"],
                vec!["Hoboken Provisions", "Customer", "Hoboken"],
                vec!["Heinz", "Principal", "Pittsburgh"],
                vec!["Sysco", "Distributor", "Chicago"],
            ],
        ),
    ];
    write_sheets(&dir.join("broker crm.xlsx"), &sheets)
}

/// Writes a workbook of `sheets` (name, rows of text cells) to `path`.
pub fn write_sheets(
    path: &std::path::Path,
    sheets: &[(&str, Vec<Vec<&str>>)],
) -> std::path::PathBuf {
    let mut book = rust_xlsxwriter::Workbook::new();
    for (name, rows) in sheets {
        let sheet = book.add_worksheet();
        sheet.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                sheet.write_string(r as u32, c as u16, *cell).unwrap();
            }
        }
    }
    book.save(path).unwrap();
    path.to_path_buf()
}

/// Imports one sheet of `path` (as the command line does for a file of one
/// sheet): a run of that sheet, whose report is the sheet's.
pub async fn import_sheet(
    path: &std::path::Path,
    sheet: pantry_core::run::SheetPlan,
    settings: &ConnectionSettings,
    options: &pantry_core::import::ImportOptions,
    progress: std::sync::Arc<pantry_core::progress::ImportProgress>,
) -> Result<pantry_core::report::SheetReport, pantry_core::import::ImportError> {
    let plan = pantry_core::run::RunPlan::one_sheet(path, sheet);
    let run = pantry_core::progress::RunProgress::of_one(String::new(), progress);
    let report = pantry_core::run::import(&plan, settings, options, run).await?;
    Ok(report
        .sheets
        .into_iter()
        .next()
        .expect("a run of one sheet reports it"))
}

/// Imports the sheet of `path` its headers say.
pub async fn import_file(
    path: &std::path::Path,
    settings: &ConnectionSettings,
    options: &pantry_core::import::ImportOptions,
    progress: std::sync::Arc<pantry_core::progress::ImportProgress>,
) -> Result<pantry_core::report::SheetReport, pantry_core::import::ImportError> {
    import_sheet(path, Default::default(), settings, options, progress).await
}

/// Checks one sheet of `path` without a database.
pub fn check_file(
    path: &std::path::Path,
    sheet: pantry_core::run::SheetPlan,
    progress: std::sync::Arc<pantry_core::progress::ImportProgress>,
) -> Result<pantry_core::report::SheetReport, pantry_core::import::ImportError> {
    let plan = pantry_core::run::RunPlan::one_sheet(path, sheet);
    let run = pantry_core::progress::RunProgress::of_one(String::new(), progress);
    let report = pantry_core::run::check(&plan, &run)?;
    Ok(report
        .sheets
        .into_iter()
        .next()
        .expect("a run of one sheet reports it"))
}
