//! Keeping a spreadsheet and the CRM in step (SPEC.md, "Keeping a
//! spreadsheet and the CRM in step"): `pantry-import watch` run as a
//! broker runs it, against a real file on disk that the test saves the way
//! editors do, and a real PostgreSQL whose writes a trigger counts.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TestDatabase, pantry, text};

/// `pantry-import watch` running, its JSON lines read as they come.
struct Watcher {
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Watcher {
    fn start(database: &TestDatabase, file: &Path, extra: &[&str]) -> Watcher {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pantry-import"))
            .arg("watch")
            .arg(file)
            .args([
                "--json",
                "--settle-ms",
                "300",
                "--database-url",
                &database.url,
            ])
            .args(extra)
            .env_remove("DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let (sender, lines) = channel();
        let stdout = child.stdout.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let errors = child.stderr.take().expect("piped");
        let kept = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(errors).lines().map_while(Result::ok) {
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        Watcher {
            child,
            lines,
            stderr,
        }
    }

    /// The next pass's report.
    fn next_pass(&self) -> serde_json::Value {
        match self.lines.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => serde_json::from_str(&line).expect("one JSON object per line"),
            Err(_) => panic!(
                "no pass within 60 s; stderr: {}",
                self.stderr.lock().unwrap()
            ),
        }
    }

    /// That no pass comes within `wait`.
    fn no_pass_within(&self, wait: Duration) {
        if let Ok(line) = self.lines.recv_timeout(wait) {
            panic!("an unexpected pass: {line}");
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Ctrl-C, as a terminal sends it.
    fn interrupt(&self) {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Its exit code, if it ends within `wait`.
    fn exit_within(&mut self, wait: Duration) -> Option<i32> {
        let started = std::time::Instant::now();
        while started.elapsed() < wait {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Saves `bytes` as editors do: a new file in the same folder, renamed
/// over the old.
fn save(path: &Path, bytes: &[u8]) {
    let temporary = path.with_extension("saving");
    std::fs::write(&temporary, bytes).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// A workbook of accounts: name, city, phone, website per row.
fn workbook(rows: &[[String; 4]]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (column, header) in ["Organization Name", "City", "Phone", "Website"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, column as u16, *header).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string(r as u32 + 1, c as u16, cell).unwrap();
            }
        }
    }
    book.save_to_buffer().unwrap()
}

fn accounts(count: usize) -> Vec<[String; 4]> {
    (0..count)
        .map(|i| {
            [
                format!("Account {i:03}"),
                "Chicago".to_owned(),
                format!("(312) 555-{:04}", 1000 + i),
                format!("https://account{i}.example.com"),
            ]
        })
        .collect()
}

/// Counts every row written to organizations, by operation, from now on.
async fn count_writes(database: &TestDatabase) {
    database
        .client()
        .await
        .batch_execute(
            "CREATE TABLE test_writes (op TEXT NOT NULL, id UUID NOT NULL); \
             CREATE FUNCTION test_count_write() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN INSERT INTO test_writes VALUES (TG_OP, coalesce(NEW.id, OLD.id)); RETURN NULL; END $$; \
             CREATE TRIGGER test_count_write AFTER INSERT OR UPDATE OR DELETE ON organizations \
             FOR EACH ROW EXECUTE FUNCTION test_count_write();",
        )
        .await
        .unwrap();
}

/// The writes counted since the last call, as (operation, count), and
/// the count started again.
async fn writes_since(database: &TestDatabase) -> Vec<(String, i64)> {
    let client = database.client().await;
    let rows = client
        .query(
            "SELECT op, count(*) FROM test_writes GROUP BY op ORDER BY op",
            &[],
        )
        .await
        .unwrap();
    client
        .execute("DELETE FROM test_writes", &[])
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

/// A change someone makes in the CRM, by hand.
async fn in_the_crm(database: &TestDatabase, sql: &str) {
    database.client().await.execute(sql, &[]).await.unwrap();
}

/// `pantry-import undo --run SYNC --pass PASS`, which must succeed; its
/// output.
fn undo_pass(database: &TestDatabase, sync: &str, pass: &str) -> std::process::Output {
    let undo = pantry(&[
        "undo",
        "--run",
        sync,
        "--pass",
        pass,
        "--database-url",
        &database.url,
    ]);
    assert!(undo.status.success(), "{}", text(&undo.stderr));
    undo
}

async fn organization(database: &TestDatabase, name: &str) -> tokio_postgres::Row {
    database
        .client()
        .await
        .query_one(
            "SELECT phone, website, deleted_at IS NOT NULL, id FROM organizations WHERE name = $1",
            &[&name],
        )
        .await
        .unwrap()
}

fn folder() -> (tempfile::TempDir, PathBuf) {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("accounts.xlsx");
    (folder, path)
}

#[tokio::test]
async fn a_one_cell_edit_writes_one_record_and_a_new_row_one_more() {
    let database = TestDatabase::migrated().await;
    let (_folder, path) = folder();
    let mut rows = accounts(200);
    save(&path, &workbook(&rows));
    let watcher = Watcher::start(&database, &path, &[]);
    let first = watcher.next_pass();
    assert_eq!(
        (&first["pass"], &first["created"], &first["unchanged"]),
        (&1.into(), &200.into(), &0.into())
    );
    assert_eq!(
        database
            .count("SELECT count(*) FROM organizations WHERE deleted_at IS NULL")
            .await,
        200
    );
    count_writes(&database).await;

    // One cell edited and saved: one record updated, nothing else written.
    rows[57][2] = "(312) 555-9999".to_owned();
    save(&path, &workbook(&rows));
    let edit = watcher.next_pass();
    assert_eq!(edit["updated"], 1, "{edit}");
    assert_eq!(edit["created"], 0, "{edit}");
    assert_eq!(edit["unchanged"], 199, "{edit}");
    assert_eq!(
        writes_since(&database).await,
        vec![("UPDATE".to_owned(), 1)]
    );
    let edited = organization(&database, "Account 057").await;
    assert_eq!(edited.get::<_, String>(0), "(312) 555-9999");

    // A row added: one record created.
    rows.push([
        "Brand New Bistro".to_owned(),
        "Evanston".to_owned(),
        String::new(),
        String::new(),
    ]);
    save(&path, &workbook(&rows));
    let added = watcher.next_pass();
    assert_eq!(
        (&added["created"], &added["updated"], &added["unchanged"]),
        (&1.into(), &0.into(), &200.into()),
        "{added}"
    );
    assert_eq!(
        writes_since(&database).await,
        vec![("INSERT".to_owned(), 1)]
    );

    // Saved again with nothing changed: nothing written, nothing in the
    // history for that pass.
    save(&path, &workbook(&rows));
    let same = watcher.next_pass();
    assert_eq!(same["unchanged"], 201, "{same}");
    assert_eq!(same["imports"], serde_json::json!([]), "{same}");
    assert!(writes_since(&database).await.is_empty());

    // The sync is one run of the history with its passes: 1, 2 and 3 wrote.
    let sync = first["sync"].to_string();
    let passes = database
        .count(&format!(
            "SELECT count(DISTINCT sync_pass) FROM import_batches WHERE run_id = {sync}"
        ))
        .await;
    assert_eq!(passes, 3);
    // Each pass can be undone: the edit's pass gives the phone back.
    undo_pass(&database, &sync, "2");
    let edited = organization(&database, "Account 057").await;
    assert_eq!(edited.get::<_, String>(0), "(312) 555-1057");

    // Every pass undone one by one: the sync goes on (watching again
    // continues it); only undoing the whole sync ends it.
    for pass in ["3", "1"] {
        undo_pass(&database, &sync, pass);
    }
    let status =
        format!("SELECT count(*) FROM import_runs WHERE id = {sync} AND status = 'undone'");
    assert_eq!(database.count(&status).await, 0);
    drop(watcher);
    let again = Watcher::start(&database, &path, &["--passes", "1"]);
    assert_eq!(again.next_pass()["sync"].to_string(), sync);
    drop(again);
    let undo = pantry(&["undo", "--run", &sync, "--database-url", &database.url]);
    assert!(undo.status.success(), "{}", text(&undo.stderr));
    assert_eq!(database.count(&status).await, 1);
}

#[tokio::test]
async fn a_row_removed_is_listed_and_removed_only_when_asked_and_undone() {
    let database = TestDatabase::migrated().await;
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("accounts.csv");
    // One record was in the CRM before the sync: matched, never removed.
    let before = folder.path().join("before.csv");
    std::fs::write(&before, "Organization Name,City\nOld Friend Diner,Austin\n").unwrap();
    let imported = pantry(&[
        "import",
        before.to_str().unwrap(),
        "--database-url",
        &database.url,
    ]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let csv = |names: &[&str]| {
        let mut text = String::from("Organization Name,City\n");
        for name in names {
            text.push_str(&format!("{name},Austin\n"));
        }
        text.into_bytes()
    };
    save(
        &path,
        &csv(&["Taco Palace", "Old Friend Diner", "Noodle Barn"]),
    );
    {
        let watcher = Watcher::start(&database, &path, &[]);
        let first = watcher.next_pass();
        assert_eq!(
            (&first["created"], &first["updated"]),
            (&2.into(), &1.into())
        );
        save(&path, &csv(&["Taco Palace"]));
        let gone = watcher.next_pass();
        let names: Vec<&str> = gone["gone"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["record"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Noodle Barn (Austin)", "Old Friend Diner (Austin)"]);
        assert_eq!(gone["removed"], 0);
        assert!(
            gone["gone"]
                .as_array()
                .unwrap()
                .iter()
                .all(|g| g["removed"] == false)
        );
        assert!(
            !organization(&database, "Noodle Barn")
                .await
                .get::<_, bool>(2)
        );
    }
    // Watched again with --remove-missing: the record the sync created is
    // soft-deleted, the one that was in the CRM before stays.
    let watcher = Watcher::start(&database, &path, &["--remove-missing"]);
    let removal = watcher.next_pass();
    assert_eq!(removal["removed"], 1, "{removal}");
    assert_eq!(removal["gone"][0]["record"], "Noodle Barn (Austin)");
    assert_eq!(removal["gone"][0]["removed"], true);
    assert!(
        organization(&database, "Noodle Barn")
            .await
            .get::<_, bool>(2)
    );
    assert!(
        !organization(&database, "Old Friend Diner")
            .await
            .get::<_, bool>(2)
    );
    drop(watcher);
    // Undo brings it back.
    let pass = removal["pass"].to_string();
    let sync = removal["sync"].to_string();
    let undo = undo_pass(&database, &sync, &pass);
    assert!(text(&undo.stdout).contains("1 record the sync soft-deleted given back"));
    assert!(
        !organization(&database, "Noodle Barn")
            .await
            .get::<_, bool>(2)
    );

    // A row gone whose record was deleted in the CRM already says so.
    in_the_crm(
        &database,
        "UPDATE organizations SET deleted_at = now() WHERE name = 'Taco Palace'",
    )
    .await;
    let watcher = Watcher::start(&database, &path, &[]);
    assert_eq!(watcher.next_pass()["unchanged"], 1);
    save(&path, &csv(&[]));
    let emptied = watcher.next_pass();
    assert_eq!(
        emptied["gone"],
        serde_json::json!([{
            "sheet": "",
            "record": "Taco Palace (Austin)",
            "id": emptied["gone"][0]["id"],
            "removed": false,
            "deleted_before": true,
        }]),
        "{emptied}"
    );
}

#[tokio::test]
async fn a_field_changed_in_the_crm_and_the_file_keeps_the_crms_value() {
    let database = TestDatabase::migrated().await;
    let (_folder, path) = folder();
    let mut rows = accounts(5);
    save(&path, &workbook(&rows));
    let watcher = Watcher::start(&database, &path, &[]);
    assert_eq!(watcher.next_pass()["created"], 5);
    // Someone edits the phone in the CRM...
    in_the_crm(
        &database,
        "UPDATE organizations SET phone = '(312) 555-7777' WHERE name = 'Account 002'",
    )
    .await;
    // ... and the broker the same phone, and the website, in the file.
    rows[2][2] = "(312) 555-0000".to_owned();
    rows[2][3] = "https://new.example.com".to_owned();
    save(&path, &workbook(&rows));
    let pass = watcher.next_pass();
    counts_add_up(&pass);
    let conflicts = pass["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{pass}");
    assert_eq!(conflicts[0]["row"], 4);
    assert_eq!(conflicts[0]["record"], "Account 002 (Chicago)");
    assert_eq!(
        conflicts[0]["fields"],
        serde_json::json!([{"field": "phone", "crm": "(312) 555-7777", "file": "(312) 555-0000"}])
    );
    // The CRM's phone stays; the website, which only the file changed, goes in.
    let record = organization(&database, "Account 002").await;
    assert_eq!(record.get::<_, String>(0), "(312) 555-7777");
    assert_eq!(record.get::<_, String>(1), "https://new.example.com");
    assert_eq!(pass["updated"], 1);

    // Said once: a later save of another row does not list it again.
    rows[4][3] = "https://four.example.com".to_owned();
    save(&path, &workbook(&rows));
    let later = watcher.next_pass();
    assert_eq!(later["conflicts"], serde_json::json!([]), "{later}");
    assert_eq!(later["updated"], 1);

    // The same row edited again, its website only: the phone the CRM kept
    // in the conflict stays (only what the file changed is written).
    rows[2][3] = "https://newer.example.com".to_owned();
    save(&path, &workbook(&rows));
    let again = watcher.next_pass();
    assert_eq!(again["updated"], 1, "{again}");
    let record = organization(&database, "Account 002").await;
    assert_eq!(record.get::<_, String>(0), "(312) 555-7777");
    assert_eq!(record.get::<_, String>(1), "https://newer.example.com");

    // A row that fails (its name blanked) is not taken for gone: its
    // record stays, and the pass says why nothing is listed as gone.
    rows[3][0] = String::new();
    save(&path, &workbook(&rows));
    let failing = watcher.next_pass();
    assert_eq!(failing["failed"], 1, "{failing}");
    assert_eq!(failing["gone"], serde_json::json!([]), "{failing}");
    assert!(
        failing["notices"][0]
            .as_str()
            .unwrap()
            .contains("1 rows failed, so rows gone from the file are not looked for"),
        "{failing}"
    );
}

/// Every row read is counted once: created, updated, unchanged or failed.
fn counts_add_up(pass: &serde_json::Value) {
    let counted: u64 = ["created", "updated", "unchanged", "failed"]
        .iter()
        .map(|field| pass[field].as_u64().unwrap())
        .sum();
    assert_eq!(counted, pass["rows"].as_u64().unwrap(), "{pass}");
}

#[tokio::test]
async fn a_row_whose_record_was_deleted_in_the_crm_is_held_and_said_once() {
    let database = TestDatabase::migrated().await;
    let (_folder, path) = folder();
    let mut rows = accounts(4);
    save(&path, &workbook(&rows));
    let watcher = Watcher::start(&database, &path, &[]);
    assert_eq!(watcher.next_pass()["created"], 4);
    in_the_crm(
        &database,
        "UPDATE organizations SET deleted_at = now() WHERE name = 'Account 001'",
    )
    .await;
    count_writes(&database).await;
    rows[1][2] = "(312) 555-0101".to_owned();
    save(&path, &workbook(&rows));
    let pass = watcher.next_pass();
    counts_add_up(&pass);
    assert_eq!(pass["unchanged"], 4, "{pass}");
    let conflicts = pass["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{pass}");
    assert_eq!(conflicts[0]["row"], 3);
    assert!(
        conflicts[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("deleted in the CRM"),
        "{pass}"
    );
    assert_eq!(writes_since(&database).await, vec![]);

    // Said once: the next save, of another row, does not list it again and
    // brings no second record back.
    rows[3][3] = "https://three.example.com".to_owned();
    save(&path, &workbook(&rows));
    let later = watcher.next_pass();
    counts_add_up(&later);
    assert_eq!(later["conflicts"], serde_json::json!([]), "{later}");
    assert_eq!(later["updated"], 1, "{later}");
    assert_eq!(
        writes_since(&database).await,
        vec![("UPDATE".to_owned(), 1)]
    );

    // A new edit of the held row is said again, and still not written.
    rows[1][3] = "https://one.example.com".to_owned();
    save(&path, &workbook(&rows));
    let again = watcher.next_pass();
    assert_eq!(again["conflicts"].as_array().unwrap().len(), 1, "{again}");
    assert_eq!(again["created"], 0, "{again}");
    let live: i64 = database
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM organizations WHERE name = 'Account 001' AND deleted_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 0);
}

#[tokio::test]
async fn a_file_written_in_two_halves_is_never_half_imported() {
    let database = TestDatabase::migrated().await;
    let (_folder, path) = folder();
    save(&path, &workbook(&accounts(3)));
    let watcher = Watcher::start(&database, &path, &[]);
    assert_eq!(watcher.next_pass()["created"], 3);

    // A workbook written in place, half of it, then a pause longer than
    // the settling time, then the rest.
    let bytes = workbook(&accounts(400));
    let half = bytes.len() / 2;
    {
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(&bytes[..half]).unwrap();
        file.sync_all().unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        file.write_all(&bytes[half..]).unwrap();
    }
    let pass = watcher.next_pass();
    assert_eq!(pass["rows"], 400, "{pass}");
    assert_eq!(pass["created"], 397, "{pass}");
    assert!(
        watcher.stderr().contains("cannot be read as saved"),
        "the half was seen and waited out: {}",
        watcher.stderr()
    );

    // A text file written in two halves with a pause shorter than the
    // settling time: read whole, once.
    let csv_path = path.with_file_name("more.csv");
    std::fs::write(&csv_path, "Organization Name,City\nFirst Row Cafe,Austin\n").unwrap();
    let csv_watcher = Watcher::start(&database, &csv_path, &[]);
    assert_eq!(csv_watcher.next_pass()["created"], 1);
    {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&csv_path)
            .unwrap();
        file.write_all(b"Second Row Cafe,Austin\nThird Row ")
            .unwrap();
        file.sync_all().unwrap();
        std::thread::sleep(Duration::from_millis(150));
        file.write_all(b"Cafe,Austin\n").unwrap();
    }
    let pass = csv_watcher.next_pass();
    assert_eq!(
        (&pass["rows"], &pass["created"]),
        (&3.into(), &2.into()),
        "{pass}"
    );
    csv_watcher.no_pass_within(Duration::from_millis(1500));
    assert_eq!(
        database
            .count("SELECT count(*) FROM organizations WHERE name LIKE 'Third Row%'")
            .await,
        1
    );
    assert_eq!(
        database
            .count("SELECT count(*) FROM organizations WHERE name = 'Third Row'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_second_watcher_of_the_same_file_is_refused() {
    let database = TestDatabase::migrated().await;
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("accounts.csv");
    std::fs::write(&path, "Organization Name\nSysco\n").unwrap();
    let watcher = Watcher::start(&database, &path, &[]);
    assert_eq!(watcher.next_pass()["created"], 1);
    let second = pantry(&[
        "watch",
        path.to_str().unwrap(),
        "--passes",
        "1",
        "--database-url",
        &database.url,
    ]);
    assert_eq!(second.status.code(), Some(2));
    assert!(
        text(&second.stderr).contains("is being kept in step by another session (sync 1)"),
        "{}",
        text(&second.stderr)
    );
}

#[tokio::test]
async fn a_file_moved_away_is_said_once_and_waited_for() {
    let database = TestDatabase::migrated().await;
    let (folder, path) = folder();
    let mut rows = accounts(2);
    save(&path, &workbook(&rows));
    let watcher = Watcher::start(&database, &path, &[]);
    assert_eq!(watcher.next_pass()["created"], 2);
    let away = folder.path().join("elsewhere.xlsx");
    std::fs::rename(&path, &away).unwrap();
    let mut said = String::new();
    for _ in 0..300 {
        said = watcher.stderr();
        if said.contains("waiting until it can be read") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(said.contains("accounts.xlsx: "), "{said}");
    // Said once, however long it stays away.
    watcher.no_pass_within(Duration::from_secs(6));
    assert_eq!(
        watcher
            .stderr()
            .matches("waiting until it can be read")
            .count(),
        1
    );
    // Back, with a change: the watch goes on.
    rows[0][2] = "(312) 555-0042".to_owned();
    save(&path, &workbook(&rows));
    let pass = watcher.next_pass();
    assert_eq!(
        (&pass["updated"], &pass["unchanged"]),
        (&1.into(), &1.into()),
        "{pass}"
    );
}

#[tokio::test]
async fn a_link_changed_on_both_sides_is_shown_by_name_and_an_e_mail_keeps_the_row() {
    let database = TestDatabase::migrated().await;
    let folder = tempfile::tempdir().unwrap();
    let accounts = folder.path().join("accounts.csv");
    std::fs::write(
        &accounts,
        "Organization Name,City\nSysco Foods,Chicago\nBlue Plate,Boston\nNew Leaf,Austin\n",
    )
    .unwrap();
    let imported = pantry(&[
        "import",
        accounts.to_str().unwrap(),
        "--database-url",
        &database.url,
    ]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    let path = folder.path().join("buyers.csv");
    let buyers = |company: &str, phone: &str| {
        format!(
            "First Name,Last Name,Email,Company,Phone\n\
             Ana,Ruiz,ana@example.com,{company},{phone}\n\
             Bo,Chen,bo@example.com,Sysco Foods,(312) 555-0102\n"
        )
    };
    std::fs::write(&path, buyers("Sysco Foods", "(312) 555-0101")).unwrap();
    let watcher = Watcher::start(&database, &path, &["--entity", "contacts"]);
    assert_eq!(watcher.next_pass()["created"], 2);

    // In the CRM, Ana moves to Blue Plate; in the file, to New Leaf.
    in_the_crm(
        &database,
        "UPDATE contacts SET organization_id = (SELECT id FROM organizations WHERE name = 'Blue Plate') \
         WHERE email = 'ana@example.com'",
    )
    .await;
    let saving = folder.path().join("buyers.saving");
    std::fs::write(&saving, buyers("New Leaf", "(312) 555-0199")).unwrap();
    std::fs::rename(&saving, &path).unwrap();
    let pass = watcher.next_pass();
    counts_add_up(&pass);
    let conflicts = pass["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{pass}");
    // The link shows by name on both sides, and the phone, which only the
    // file changed, goes in: Ana is found by her e-mail, whatever her
    // organization.
    assert_eq!(
        conflicts[0]["fields"],
        serde_json::json!([{"field": "organization_id", "crm": "Blue Plate", "file": "New Leaf"}]),
        "{pass}"
    );
    assert_eq!(pass["updated"], 1, "{pass}");
    let ana = database
        .client()
        .await
        .query_one(
            "SELECT o.name, c.phone FROM contacts c JOIN organizations o ON o.id = c.organization_id \
             WHERE c.email = 'ana@example.com'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(ana.get::<_, String>(0), "Blue Plate");
    assert_eq!(ana.get::<_, String>(1), "(312) 555-0199");
}

#[tokio::test]
async fn a_crm_change_made_while_a_pass_writes_is_put_back_and_listed() {
    let database = TestDatabase::migrated().await;
    let (_folder, path) = folder();
    let mut rows = accounts(3);
    save(&path, &workbook(&rows));
    let watcher = Watcher::start(&database, &path, &[]);
    assert_eq!(watcher.next_pass()["created"], 3);
    // Someone changes Account 001's phone in the CRM after the pass looked
    // for changes and before it writes: as the pass's import begins.
    database
        .client()
        .await
        .batch_execute(
            "CREATE FUNCTION test_crm_edit() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN UPDATE organizations SET phone = '(312) 555-7777', updated_at = clock_timestamp() \
             WHERE name = 'Account 001'; RETURN NULL; END $$; \
             CREATE TRIGGER test_crm_edit AFTER INSERT ON import_batches \
             FOR EACH ROW EXECUTE FUNCTION test_crm_edit();",
        )
        .await
        .unwrap();
    rows[1][2] = "(312) 555-0000".to_owned();
    rows[1][3] = "https://one.example.com".to_owned();
    save(&path, &workbook(&rows));
    let pass = watcher.next_pass();
    let conflicts = pass["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{pass}");
    assert_eq!(conflicts[0]["row"], 3);
    assert!(
        conflicts[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("changed in the CRM while this pass was writing"),
        "{pass}"
    );
    assert_eq!(
        conflicts[0]["fields"],
        serde_json::json!([{"field": "phone", "crm": "(312) 555-7777", "file": "(312) 555-0000"}])
    );
    // The CRM's phone is back; the website, which only the file changed, stays.
    let record = organization(&database, "Account 001").await;
    assert_eq!(record.get::<_, String>(0), "(312) 555-7777");
    assert_eq!(record.get::<_, String>(1), "https://one.example.com");

    // Undoing the pass takes the website back too: the put-back is not
    // taken for an edit made since the pass.
    undo_pass(
        &database,
        &pass["sync"].to_string(),
        &pass["pass"].to_string(),
    );
    let record = organization(&database, "Account 001").await;
    assert_eq!(record.get::<_, String>(0), "(312) 555-7777");
    assert_eq!(record.get::<_, String>(1), "https://account1.example.com");
}

#[tokio::test]
async fn ctrl_c_stops_the_watch_with_every_pass_recorded() {
    let database = TestDatabase::migrated().await;
    let (_folder, path) = folder();
    save(&path, &workbook(&accounts(3)));
    let mut watcher = Watcher::start(&database, &path, &[]);
    assert_eq!(watcher.next_pass()["created"], 3);
    watcher.interrupt();
    let status = watcher.exit_within(Duration::from_secs(10));
    // It ends by itself, well: the status of its last pass, every pass
    // closed.
    assert_eq!(status, Some(0), "{}", watcher.stderr());
    assert!(
        watcher
            .stderr()
            .contains("stopping once the pass under way ends")
    );
    assert_eq!(
        database
            .count("SELECT count(*) FROM sync_passes WHERE finished_at IS NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn ctrl_c_during_a_pass_lets_it_end_and_record_its_rows() {
    let database = TestDatabase::migrated().await;
    let (_folder, path) = folder();
    save(&path, &workbook(&accounts(20_000)));
    let mut watcher = Watcher::start(&database, &path, &[]);
    // The first pass under way: its import has begun.
    let running = "SELECT count(*) FROM import_batches WHERE status = 'running'";
    let mut begun = false;
    for _ in 0..3000 {
        if database.count(running).await > 0 {
            begun = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(begun, "{}", watcher.stderr());
    let interrupted_at: String = database
        .client()
        .await
        .query_one("SELECT clock_timestamp()::text", &[])
        .await
        .unwrap()
        .get(0);
    watcher.interrupt();
    // The pass ends whole, is reported, and its rows are known.
    let pass = watcher.next_pass();
    assert_eq!(
        (&pass["created"], &pass["complete"]),
        (&20_000.into(), &true.into()),
        "{pass}"
    );
    let status = watcher.exit_within(Duration::from_secs(10));
    assert_eq!(status, Some(0), "{}", watcher.stderr());
    assert_eq!(database.count(running).await, 0);
    assert_eq!(
        database.count("SELECT count(*) FROM sync_rows").await,
        20_000
    );
    // The interrupt came while the pass was under way: it finished after.
    let finished_after: bool = database
        .client()
        .await
        .query_one(
            "SELECT bool_and(finished_at > $1::text::timestamptz) FROM import_batches",
            &[&interrupted_at],
        )
        .await
        .unwrap()
        .get(0);
    assert!(finished_after);
}
