//! The CRM health view, driven headless with egui_kittest against the test
//! PostgreSQL: a check of a CRM with a duplicate, the group merged by a
//! click, its undo refused for a record edited since, then forced.

mod common;

use common::TestDatabase;
use common::window::{connect, wait_for, window};
use egui_kittest::kittest::Queryable;
use pantry_window::PantryApp;

async fn crm_with_a_duplicate() -> TestDatabase {
    let db = TestDatabase::migrated().await;
    db.client()
        .await
        .batch_execute(
            "INSERT INTO organizations (name, city, state_province, phone, created_at) VALUES \
               ('Sysco Foods', 'Chicago', 'IL', '(312) 555-0101', now() - interval '1 day'), \
               ('SYSCO FOODS', 'Chicago', 'IL', NULL, now()), \
               ('Blue Harbor Grill', 'Chicago', 'IL', '(312) 555-0102', now()); \
             INSERT INTO contacts (organization_id, first_name, last_name, email) \
               SELECT id, 'Sam', 'Buyer', 'sam@sysco.example' FROM organizations WHERE name = 'SYSCO FOODS';",
        )
        .await
        .unwrap();
    db
}

fn live_syscos(db: &TestDatabase) -> i64 {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(db.count(
            "SELECT count(*) FROM organizations WHERE name ILIKE 'sysco foods' AND deleted_at IS NULL",
        ))
}

fn checked(app: &PantryApp) -> bool {
    app.health.audit.is_some() && !app.health.is_checking()
}

#[test]
fn the_health_view_scores_the_crm_and_merges_a_group_by_a_click() {
    let db = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(crm_with_a_duplicate());
    let mut harness = window(None);
    harness.get_by_label("    Check the CRM…").click();
    harness.run_steps(2);
    connect(&mut harness, &db.url);
    wait_for(&mut harness, "the first check", checked);
    // Two of three organizations are one record entered twice: score 33.
    harness.get_by_label_contains("Organizations: score 33");
    harness.get_by_label("Same record: Sysco Foods (Chicago)");
    // The most complete record (it has the phone) is the one kept.
    let audit = harness.state().health.audit.clone().unwrap();
    let group = &audit.entities[0].groups[0];
    assert_eq!(
        group.suggested_survivor().unwrap().shown,
        "Sysco Foods (Chicago)"
    );

    harness.get_by_label("Merge 1 into the one kept").click();
    wait_for(&mut harness, "the merge and the check after it", |app| {
        app.health.message.is_some() && checked(app) && !app.health.is_fixing()
    });
    harness.get_by_label("✔ Merged 1 into 'Sysco Foods (Chicago)'; 1 links moved to it");
    harness.get_by_label_contains("Organizations: score 100");
    assert_eq!(live_syscos(&db), 1);

    // Someone edits the record kept: Undo refuses to take the merge apart,
    // says so, and offers to force it.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            db.client()
                .await
                .batch_execute(
                    "UPDATE organizations SET website = 'sysco.example' WHERE name = 'Sysco Foods'",
                )
                .await
                .unwrap()
        });
    harness.get_by_label("Undo").click();
    wait_for(&mut harness, "the refusal", |app| {
        app.health.message.as_ref().is_some_and(Result::is_err)
    });
    harness.get_by_label_contains("was not undone: 1 of its records were changed since the merge");
    assert_eq!(live_syscos(&db), 1);
    harness.get_by_label("Undo anyway").click();
    wait_for(&mut harness, "the forced undo", |app| {
        app.health
            .message
            .as_ref()
            .is_some_and(|m| m.as_ref().is_ok_and(|(text, _)| text.contains("undone")))
    });
    assert_eq!(live_syscos(&db), 2);
}
