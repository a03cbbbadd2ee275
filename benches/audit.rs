//! `cargo bench --bench audit`: how long `pantry-import audit` takes over a
//! CRM of organizations, against hand-written SQL that does the same GROUP
//! BYs and pattern checks in `psql`, in the same run on the same database.
//!
//! The CRM holds N organizations (default 1,000,000; `cargo bench --bench
//! audit -- 200000` for others), generated in the server: 1% of them a
//! second copy of another (the same name in capitals, same city), 1% with an
//! e-mail address that is not one. The audit is timed as a whole command
//! (connect, read every record, check it, print JSON) under
//! `/usr/bin/time -v` for its peak memory; so is `psql -f` of the SQL. The
//! audit also looks for near-duplicates (names alike but for a suffix or a
//! typo), which no SQL here does. A benchmark, not a test: it prints
//! figures and never fails on a slow machine.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

mod common;
use common::{drop_database, fresh_database, path, psql, timed};

fn main() {
    let rows = std::env::args()
        .skip(1)
        .find_map(|a| a.replace(['_', ','], "").parse::<u64>().ok())
        .unwrap_or(1_000_000);
    let admin = std::env::var("PANTRY_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_pantry-import"));
    let name = format!("pantry_bench_audit_{rows}");
    let url = fresh_database(&admin, &binary, &name);
    let started = Instant::now();
    psql(&url, &generate_sql(rows));
    psql(&url, "VACUUM ANALYZE organizations");
    eprintln!(
        "{rows} organizations generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let script =
        std::env::temp_dir().join(format!("pantry-bench-audit-{}.sql", std::process::id()));
    std::fs::write(&script, HAND_WRITTEN).expect("the script is written");

    let mut figures = Vec::new();
    // Twice each, alternating, so a cold cache favours neither.
    for _ in 0..2 {
        let audit = timed(Command::new(&binary).args([
            "audit",
            "--entity",
            "organizations",
            "--json",
            "--database-url",
            &url,
        ]));
        let by_hand = timed(Command::new("psql").args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            &url,
            "-f",
            path(&script),
        ]));
        figures.push((audit, by_hand));
    }
    let report: serde_json::Value = serde_json::from_str(&figures[0].0.stdout).unwrap_or_default();
    let organizations = &report["entities"][0];
    let found = |kind: &str| {
        organizations["findings"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["kind"] == kind))
            .map_or(0, |f| f["records"].as_u64().unwrap_or(0))
    };
    eprintln!(
        "  audit: {} records, score {}, duplicates {}, near-duplicates {}, invalid e-mails {}",
        organizations["records"],
        organizations["score"],
        found("duplicates"),
        found("near-duplicates"),
        found("invalid-emails"),
    );
    let (audit, by_hand) = figures
        .into_iter()
        .min_by(|a, b| a.0.seconds.total_cmp(&b.0.seconds))
        .expect("two runs");
    println!(
        "\n{:>9} | {:>8} | {:>10} | {:>8} | {:>6} | {:>10}",
        "records", "audit s", "audit r/s", "SQL s", "ratio", "audit peak"
    );
    println!(
        "{:>9} | {:>8.3} | {:>10.0} | {:>8.3} | {:>6.2} | {:>7.1} MB",
        rows,
        audit.seconds,
        rows as f64 / audit.seconds,
        by_hand.seconds,
        audit.seconds / by_hand.seconds,
        audit.peak_kib as f64 / 1024.0
    );
    println!(
        "ratio = audit time / hand-written SQL time (duplicate GROUP BY on the match key, e-mail, phone and state patterns, empty fields, deleted links, four distributions); the better of two runs each"
    );
    let _ = std::fs::remove_file(&script);
    drop_database(&admin, &name);
}

/// N organizations: every 100th a copy of the one before in capitals, every
/// 100th (another) with a bad e-mail.
fn generate_sql(rows: u64) -> String {
    format!(
        "INSERT INTO organizations (name, city, state_province, phone, email, priority, segment, primary_manager_name) \
         SELECT CASE WHEN i % 100 = 0 THEN upper('Account ' || (i - 1) || ' Grill') ELSE 'Account ' || i || ' Grill' END, \
           (ARRAY['Chicago','Hoboken','Boston','Houston','Denver','Seattle'])[(CASE WHEN i % 100 = 0 THEN i - 1 ELSE i END) % 6 + 1], \
           (ARRAY['IL','NJ','MA','TX','CO','WA'])[(CASE WHEN i % 100 = 0 THEN i - 1 ELSE i END) % 6 + 1], \
           '(312) 555-' || lpad((i % 10000)::text, 4, '0'), \
           CASE WHEN i % 100 = 1 THEN 'orders@account' || i ELSE 'orders@account' || i || '.example' END, \
           (ARRAY['A','B','C','D'])[i % 4 + 1]::priority_level, \
           (ARRAY['Casual Dining','Fine Dining','Distributor','Catering'])[i % 4 + 1], \
           (ARRAY['Jane Doe','Bob Smith','Ana Ruiz','Li Wei'])[i % 4 + 1] \
         FROM generate_series(1, {rows}) AS i"
    )
}

/// What a DBA would write for the same audit of organizations.
const HAND_WRITTEN: &str = r"
SELECT key, count(*) FROM (
  SELECT pantry_match_key(name) AS key, coalesce(pantry_match_key(city), '') AS city
  FROM organizations WHERE deleted_at IS NULL) k
GROUP BY key, city HAVING count(*) > 1;
SELECT
  count(*) FILTER (WHERE email IS NOT NULL AND btrim(email) <> ''
    AND email !~ '^[^@\s]+@[^@\s]+\.[^@\s.]+$'),
  count(*) FILTER (WHERE phone IS NOT NULL AND btrim(phone) <> ''
    AND phone !~ '^\([2-9][0-9]{2}\) [2-9][0-9]{2}-[0-9]{4}$'),
  count(*) FILTER (WHERE state_province IS NOT NULL AND btrim(state_province) <> ''
    AND upper(btrim(state_province)) NOT IN ('AL','AK','AZ','AR','CA','CO','CT','DE','DC','FL','GA','HI',
    'ID','IL','IN','IA','KS','KY','LA','ME','MD','MA','MI','MN','MS','MO','MT','NE','NV','NH','NJ','NM',
    'NY','NC','ND','OH','OK','OR','PA','RI','SC','SD','TN','TX','UT','VT','VA','WA','WV','WI','WY')),
  count(*) FILTER (WHERE coalesce(btrim(city), '') = '' OR coalesce(btrim(state_province), '') = ''
    OR coalesce(btrim(phone), '') = ''),
  count(*)
FROM organizations WHERE deleted_at IS NULL;
SELECT count(*) FROM organizations o JOIN organizations p ON p.id = o.parent_organization_id
WHERE o.deleted_at IS NULL AND p.deleted_at IS NOT NULL;
SELECT priority, count(*) FROM organizations WHERE deleted_at IS NULL GROUP BY 1;
SELECT state_province, count(*) FROM organizations WHERE deleted_at IS NULL GROUP BY 1;
SELECT segment, count(*) FROM organizations WHERE deleted_at IS NULL GROUP BY 1;
SELECT primary_manager_name, count(*) FROM organizations WHERE deleted_at IS NULL GROUP BY 1;
";
