//! Each of the four other entities imported from a messy file of its own
//! into a real PostgreSQL: the stored values checked field by field, links
//! checked by joining, and history (resume, repeat, undo) as for
//! organizations.

mod common;

use chrono::{Local, NaiveDate, TimeZone};
use common::import_file;
use common::{TestDatabase, data, pantry, text};
use pantry_core::entity::Entity;
use pantry_core::import::{ImportError, ImportOptions};
use pantry_core::links::{LinkPolicies, LinkPolicy};
use pantry_core::progress::ImportProgress;
use pantry_core::report::SheetReport;
use tokio_postgres::Row;

/// A migrated database holding the CRM's organizations of
/// `tests/data/crm_organizations.csv` (two of them named Sysco).
async fn crm() -> TestDatabase {
    let db = TestDatabase::migrated().await;
    let report = import(&db, "crm_organizations.csv", ImportOptions::default()).await;
    assert_eq!(report.succeeded, 6);
    db
}

async fn import(db: &TestDatabase, file: &str, options: ImportOptions) -> SheetReport {
    import_file(
        &data(file),
        &db.settings(),
        &options,
        ImportProgress::new(None),
    )
    .await
    .unwrap_or_else(|e| panic!("{file}: {e}"))
}

async fn rows(db: &TestDatabase, sql: &str) -> Vec<Row> {
    db.client().await.query(sql, &[]).await.unwrap()
}

fn failures(report: &SheetReport) -> Vec<String> {
    report.failures.iter().map(ToString::to_string).collect()
}

fn warnings(report: &SheetReport) -> Vec<String> {
    report
        .warning_list
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[tokio::test]
async fn contacts_store_every_field_and_link_to_their_organization_by_name() {
    let db = crm().await;
    let report = import(&db, "contacts.csv", ImportOptions::default()).await;
    assert_eq!(
        report.entity,
        Entity::Contacts,
        "recognised from the headers"
    );
    assert_eq!((report.total, report.succeeded, report.failed), (5, 3, 2));
    assert_eq!(
        failures(&report),
        [
            "row 3, Company: 'Sysco' matches 2 organizations in the CRM: Sysco (Chicago), Sysco (Columbus)",
            "row 4, Contact Name: 'Cher' is one word: a contact needs a first and a last name",
        ]
    );
    let warned = warnings(&report);
    assert!(
        warned.contains(&"row 5, Company: No organization 'Nowhere Inc' in the CRM; left empty (the name is kept in import notes)".to_owned()),
        "{warned:?}"
    );
    assert!(warned.contains(&"row 2, Contact Name: 'Mary Ann Smith' split into first name 'Mary Ann' and last name 'Smith'".to_owned()));

    let stored = rows(
        &db,
        "SELECT c.first_name, c.last_name, o.name, o.city, c.title, c.role::text, c.email, c.phone,
                c.mobile_phone, c.is_primary_contact, c.department, c.linkedin_url, c.notes,
                c.import_notes, c.import_source_row
         FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id
         ORDER BY c.import_source_row",
    )
    .await;
    assert_eq!(stored.len(), 3);
    let mary = &stored[0];
    assert_eq!(mary.get::<_, String>(0), "Mary Ann");
    assert_eq!(mary.get::<_, String>(1), "Smith");
    assert_eq!(
        mary.get::<_, Option<String>>(2).as_deref(),
        Some("Acme Foods")
    );
    assert_eq!(mary.get::<_, Option<String>>(3).as_deref(), Some("Chicago"));
    assert_eq!(mary.get::<_, Option<String>>(4).as_deref(), Some("Chef"));
    assert_eq!(
        mary.get::<_, Option<String>>(5).as_deref(),
        Some("decision_maker")
    );
    assert_eq!(
        mary.get::<_, Option<String>>(6).as_deref(),
        Some("MARY@ACME.COM")
    );
    assert_eq!(
        mary.get::<_, Option<String>>(7).as_deref(),
        Some("(312) 555-0100")
    );
    assert_eq!(
        mary.get::<_, Option<String>>(8).as_deref(),
        Some("312-555-0101")
    );
    assert!(mary.get::<_, bool>(9));
    assert_eq!(
        mary.get::<_, Option<String>>(10).as_deref(),
        Some("Kitchen")
    );
    assert_eq!(
        mary.get::<_, Option<String>>(11).as_deref(),
        Some("https://linkedin.com/in/mas")
    );
    assert_eq!(
        mary.get::<_, Option<String>>(12).as_deref(),
        Some("Met at show")
    );
    assert_eq!(
        mary.get::<_, Option<String>>(13).as_deref(),
        Some(r#"{"Contact Name":"Mary Ann Smith","Favorite Dish":"Risotto","Role":"DM"}"#)
    );
    assert_eq!(mary.get::<_, i32>(14), 2);

    let bob = &stored[1];
    assert_eq!(
        bob.get::<_, Option<String>>(2),
        None,
        "not found: left empty"
    );
    assert_eq!(bob.get::<_, Option<String>>(5), None, "unknown role: empty");
    assert!(!bob.get::<_, bool>(9));
    assert_eq!(
        bob.get::<_, Option<String>>(13).as_deref(),
        Some(
            r#"{"Contact Name":"Bob Stone","Role":"Chef","Primary Contact":"maybe","Company":"Nowhere Inc"}"#
        )
    );
    let ann = &stored[2];
    assert_eq!(ann.get::<_, Option<String>>(5).as_deref(), Some("end_user"));
    assert!(ann.get::<_, bool>(9));
}

#[tokio::test]
async fn a_failing_link_policy_fails_rows_whose_organization_is_not_found() {
    let db = crm().await;
    let options = ImportOptions {
        links: LinkPolicies {
            all: Some(LinkPolicy::Fail),
            ..LinkPolicies::default()
        },
        ..ImportOptions::default()
    };
    let report = import(&db, "contacts.csv", options).await;
    assert_eq!((report.succeeded, report.failed), (2, 3));
    assert!(
        failures(&report)
            .contains(&"row 5, Company: No organization 'Nowhere Inc' in the CRM".to_owned()),
        "{:?}",
        failures(&report)
    );
    assert_eq!(
        db.count("SELECT count(*) FROM contacts WHERE last_name = 'Stone'")
            .await,
        0
    );
}

#[tokio::test]
async fn products_store_money_days_and_categories_and_can_create_their_principal() {
    let db = crm().await;
    let options = ImportOptions {
        links: LinkPolicies {
            all: Some(LinkPolicy::Create),
            ..LinkPolicies::default()
        },
        ..ImportOptions::default()
    };
    let report = import(&db, "products.csv", options).await;
    assert_eq!(report.entity, Entity::Products);
    assert_eq!((report.total, report.succeeded, report.failed), (6, 4, 2));
    assert_eq!(
        failures(&report),
        [
            "row 4, Category: Unknown category 'Linens': use one of beverages, dairy, frozen, fresh_produce, meat_poultry, seafood, dry_goods, spices_seasonings, baking_supplies, cleaning_supplies, paper_products, equipment",
            "row 5, Cost: Negative amount '(5.00)': amounts must be 0 or more",
        ]
    );
    assert_eq!(report.created_links.len(), 1);
    assert_eq!(report.created_links[0].name, "New Paper Co");
    assert_eq!(report.created_links[0].organization_type, "principal");
    assert!(
        warnings(&report).contains(
            &"row 7, Manufacturer: 'Blue Plate Diner' is a customer in the CRM, not a principal; linked anyway".to_owned()
        ),
        "{:?}",
        warnings(&report)
    );
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["created_links"], 1);
    assert_eq!(json["created_organizations"][0]["name"], "New Paper Co");

    let stored = rows(
        &db,
        "SELECT p.name, o.name, o.type::text, p.sku, p.category::text, p.unit_cost::text,
                p.list_price::text, p.min_order_quantity, p.shelf_life_days, p.is_active,
                p.specifications, p.storage_requirements, p.import_notes
         FROM products p JOIN organizations o ON o.id = p.principal_id
         ORDER BY p.import_source_row",
    )
    .await;
    assert_eq!(stored.len(), 4);
    let ketchup = &stored[0];
    assert_eq!(ketchup.get::<_, String>(0), "Tomato Ketchup");
    assert_eq!(ketchup.get::<_, String>(1), "Heinz");
    assert_eq!(
        ketchup.get::<_, Option<String>>(3).as_deref(),
        Some("00123")
    );
    assert_eq!(ketchup.get::<_, String>(4), "dry_goods");
    assert_eq!(
        ketchup.get::<_, Option<String>>(5).as_deref(),
        Some("1234.57")
    );
    assert_eq!(
        ketchup.get::<_, Option<String>>(6).as_deref(),
        Some("24.00")
    );
    assert_eq!(ketchup.get::<_, Option<i32>>(7), Some(1000));
    assert_eq!(ketchup.get::<_, Option<i32>>(8), Some(180));
    assert!(ketchup.get::<_, bool>(9));
    assert_eq!(
        ketchup.get::<_, Option<String>>(10).as_deref(),
        Some("6/#10")
    );
    assert_eq!(ketchup.get::<_, Option<String>>(11).as_deref(), Some("Dry"));
    assert_eq!(
        ketchup.get::<_, Option<String>>(12).as_deref(),
        Some(r#"{"Category":"Grocery","Cost":"$1,234.567","Shelf Life":"6 months"}"#)
    );
    let mustard = &stored[1];
    assert_eq!(mustard.get::<_, String>(4), "spices_seasonings");
    assert_eq!(mustard.get::<_, Option<String>>(5).as_deref(), Some("2.50"));
    assert_eq!(mustard.get::<_, Option<i32>>(8), Some(90));
    assert!(mustard.get::<_, bool>(9), "blank Active is true");
    let napkins = &stored[2];
    assert_eq!(napkins.get::<_, String>(1), "New Paper Co");
    assert_eq!(napkins.get::<_, String>(2), "principal");
    assert_eq!(napkins.get::<_, Option<i32>>(8), Some(365));
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE name = 'New Paper Co' AND import_batch_id IS NOT NULL AND import_source_row IS NULL")
            .await,
        1
    );

    // Undo removes the products and the organization created for them.
    let import_id = report.import_id.unwrap().to_string();
    let undo = pantry(&["undo", &import_id, "--database-url", &db.url]);
    assert_eq!(undo.status.code(), Some(0), "{}", text(&undo.stderr));
    assert!(
        text(&undo.stdout).contains("5 rows soft-deleted"),
        "{}",
        text(&undo.stdout)
    );
    assert_eq!(
        db.count("SELECT count(*) FROM products WHERE deleted_at IS NULL")
            .await,
        0
    );
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE deleted_at IS NULL")
            .await,
        6,
        "the created principal is undone, the CRM's own stay"
    );
}

#[tokio::test]
async fn opportunities_read_day_first_dates_and_link_contacts_within_their_organization() {
    let db = crm().await;
    import(&db, "contacts.csv", ImportOptions::default()).await;
    let report = import(&db, "opportunities.csv", ImportOptions::default()).await;
    assert_eq!(report.entity, Entity::Opportunities);
    assert_eq!((report.total, report.succeeded, report.failed), (5, 3, 2));
    assert_eq!(
        failures(&report),
        [
            "row 4, Win %: Probability '120' must be between 0 and 100",
            "row 6, Distributor: 'Sysco' matches 2 organizations in the CRM: Sysco (Chicago), Sysco (Columbus)",
        ]
    );
    let notices: Vec<&str> = report.notices.iter().map(|n| n.message.as_str()).collect();
    assert!(
        notices
            .iter()
            .any(|n| n.contains("'Close Date'") && n.contains("day first")),
        "{notices:?}"
    );
    let stored = rows(
        &db,
        "SELECT o.name, org.name, c.first_name || ' ' || c.last_name, p.name, d.name, d.city,
                o.stage::text, o.estimated_value::text, o.probability, o.expected_close_date,
                o.next_action, o.competition, o.import_notes
         FROM opportunities o
         JOIN organizations org ON org.id = o.organization_id
         LEFT JOIN contacts c ON c.id = o.contact_id
         LEFT JOIN organizations p ON p.id = o.principal_id
         LEFT JOIN organizations d ON d.id = o.distributor_id
         ORDER BY o.import_source_row",
    )
    .await;
    assert_eq!(stored.len(), 3);
    let q3 = &stored[0];
    assert_eq!(q3.get::<_, String>(1), "Acme Foods");
    assert_eq!(
        q3.get::<_, Option<String>>(2).as_deref(),
        Some("Mary Ann Smith"),
        "by email"
    );
    assert_eq!(q3.get::<_, Option<String>>(3).as_deref(), Some("Heinz"));
    assert_eq!(q3.get::<_, String>(6), "Closed - Won");
    assert_eq!(q3.get::<_, Option<String>>(7).as_deref(), Some("12500.00"));
    assert_eq!(q3.get::<_, Option<i32>>(8), Some(75));
    assert_eq!(
        q3.get::<_, Option<NaiveDate>>(9),
        NaiveDate::from_ymd_opt(2025, 3, 25)
    );
    assert_eq!(
        q3.get::<_, Option<String>>(10).as_deref(),
        Some("Call back")
    );
    assert_eq!(q3.get::<_, Option<String>>(11).as_deref(), Some("Kraft"));
    let q4 = &stored[1];
    assert_eq!(
        q4.get::<_, Option<String>>(2).as_deref(),
        Some("Mary Ann Smith"),
        "by full name"
    );
    assert_eq!(q4.get::<_, String>(6), "New Lead", "unknown stage");
    assert_eq!(
        q4.get::<_, Option<NaiveDate>>(9),
        NaiveDate::from_ymd_opt(2025, 4, 3),
        "day first"
    );
    assert_eq!(
        q4.get::<_, Option<String>>(12).as_deref(),
        Some(r#"{"Stage":"negotiating","Close Date":"3/4/2025"}"#)
    );
    let brunch = &stored[2];
    assert_eq!(
        brunch.get::<_, Option<String>>(2),
        None,
        "Ann Lee is not at Blue Plate Diner"
    );
    assert_eq!(
        brunch.get::<_, Option<String>>(4).as_deref(),
        Some("US Foods")
    );
    assert_eq!(
        brunch.get::<_, Option<String>>(5).as_deref(),
        Some("Rosemont")
    );
    assert!(
        warnings(&report).contains(&"row 5, Contact: No contact 'Ann Lee' in the CRM; left empty (the name is kept in import notes)".to_owned()),
        "{:?}",
        warnings(&report)
    );
    assert_eq!(
        brunch.get::<_, Option<String>>(7).as_deref(),
        Some("1000.50")
    );
    assert_eq!(brunch.get::<_, String>(6), "Demo Scheduled");
}

#[tokio::test]
async fn interactions_store_dates_durations_and_links() {
    let db = crm().await;
    import(&db, "contacts.csv", ImportOptions::default()).await;
    import(&db, "opportunities.csv", ImportOptions::default()).await;
    let report = import(&db, "interactions.csv", ImportOptions::default()).await;
    assert_eq!(report.entity, Entity::Interactions);
    assert_eq!((report.total, report.succeeded, report.failed), (5, 3, 2));
    assert_eq!(
        failures(&report),
        [
            "row 4, Activity Type: Unknown type 'Smoke Signal': use one of call, email, meeting, demo, proposal, follow_up, trade_show, site_visit, contract_review",
            "row 5, Date: Missing required field 'interaction_date'",
        ]
    );
    let stored = rows(
        &db,
        "SELECT i.type::text, i.subject, extract(epoch FROM i.interaction_date)::bigint,
                i.duration_minutes, i.follow_up_required, i.follow_up_date, i.outcome,
                c.email, org.name, opp.name, i.import_notes
         FROM interactions i
         LEFT JOIN contacts c ON c.id = i.contact_id
         LEFT JOIN organizations org ON org.id = i.organization_id
         LEFT JOIN opportunities opp ON opp.id = i.opportunity_id
         ORDER BY i.import_source_row",
    )
    .await;
    assert_eq!(stored.len(), 3);
    let local = |y, m, d, h, min| {
        Local
            .from_local_datetime(
                &NaiveDate::from_ymd_opt(y, m, d)
                    .unwrap()
                    .and_hms_opt(h, min, 0)
                    .unwrap(),
            )
            .earliest()
            .unwrap()
            .timestamp()
    };
    let call = &stored[0];
    assert_eq!(call.get::<_, String>(0), "call");
    assert_eq!(call.get::<_, String>(1), "Menu review");
    assert_eq!(
        call.get::<_, i64>(2),
        local(2025, 3, 14, 14, 30),
        "the broker's wall clock"
    );
    assert_eq!(call.get::<_, Option<i32>>(3), Some(90));
    assert!(call.get::<_, bool>(4));
    assert_eq!(
        call.get::<_, Option<NaiveDate>>(5),
        NaiveDate::from_ymd_opt(2025, 3, 20)
    );
    assert_eq!(call.get::<_, Option<String>>(6).as_deref(), Some("Good"));
    assert_eq!(
        call.get::<_, Option<String>>(7).as_deref(),
        Some("MARY@ACME.COM")
    );
    assert_eq!(
        call.get::<_, Option<String>>(8).as_deref(),
        Some("Acme Foods")
    );
    assert_eq!(call.get::<_, Option<String>>(9).as_deref(), Some("Q3 Menu"));
    let visit = &stored[1];
    assert_eq!(visit.get::<_, String>(0), "site_visit");
    assert_eq!(visit.get::<_, i64>(2), local(2025, 3, 15, 0, 0));
    assert_eq!(visit.get::<_, Option<i32>>(3), Some(45));
    assert!(!visit.get::<_, bool>(4));
    assert_eq!(
        visit.get::<_, Option<String>>(9).as_deref(),
        Some("Q4 Menu")
    );
    // Contact and opportunity are looked up within the row's organization.
    let demo = &stored[2];
    assert_eq!(demo.get::<_, Option<i32>>(3), Some(75));
    assert_eq!(demo.get::<_, Option<String>>(7), None);
    assert_eq!(
        demo.get::<_, Option<String>>(8).as_deref(),
        Some("Blue Plate Diner")
    );
    assert_eq!(demo.get::<_, Option<String>>(9), None);
    assert_eq!(
        demo.get::<_, Option<String>>(10).as_deref(),
        Some(
            // "2025-03-17 09:00" is the stored moment written plainly: no original kept.
            r#"{"Activity Type":"Demo","Duration":"1:15","Contact":"Mary Ann Smith","Opportunity":"Q3 Menu"}"#
        )
    );
}

/// Rows of `entity` that all import, linking to "Acme Foods".
fn write_rows(dir: &std::path::Path, entity: Entity, rows: usize) -> std::path::PathBuf {
    let path = dir.join(format!("{entity}.csv"));
    let mut text = String::from(match entity {
        Entity::Organizations => "Organizations,CITY\n",
        Entity::Contacts => "First Name,Last Name,Company\n",
        Entity::Products => "Product,Principal,Category\n",
        Entity::Opportunities => "Opportunity,Organization,Amount\n",
        Entity::Interactions => "Type,Subject,Date,Organization\n",
    });
    for i in 0..rows {
        text.push_str(&match entity {
            Entity::Organizations => format!("Account {i},Chicago\n"),
            Entity::Contacts => format!("Person,Number {i},Acme Foods\n"),
            Entity::Products => format!("Item {i},Heinz,dairy\n"),
            Entity::Opportunities => format!("Deal {i},Acme Foods,{i}.50\n"),
            Entity::Interactions => format!("call,Call {i},2025-01-02,Acme Foods\n"),
        });
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// For every entity as for organizations: a cancelled import resumes to
/// exactly the file's rows, a finished one is not repeated, undo removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_resumes_refuses_a_repeat_and_undoes_every_entity() {
    let db = crm().await;
    let dir = tempfile::tempdir().unwrap();
    for entity in [
        Entity::Contacts,
        Entity::Products,
        Entity::Opportunities,
        Entity::Interactions,
    ] {
        let table = entity.description().table;
        let path = write_rows(dir.path(), entity, 3_000);
        let options = ImportOptions {
            batch_size: 500,
            ..ImportOptions::default()
        };
        let progress = ImportProgress::new(None);
        let canceller = common::cancel_after(&progress, 2);
        let first = import_file(&path, &db.settings(), &options, progress)
            .await
            .unwrap();
        canceller.await.unwrap();
        assert!(first.cancelled, "{entity}");
        assert_eq!(first.entity, entity);
        let partial = db.count(&format!("SELECT count(*) FROM {table}")).await;
        assert!(
            (1_000..3_000).contains(&partial),
            "{entity}: {partial} stored before the cancel"
        );
        assert_eq!(partial as u64, first.succeeded);

        let resumed = import_file(&path, &db.settings(), &options, ImportProgress::new(None))
            .await
            .unwrap();
        assert_eq!(
            resumed.import_id, first.import_id,
            "{entity}: the same import resumes"
        );
        assert_eq!(resumed.already_stored, partial as u64);
        assert_eq!(
            (resumed.total, resumed.succeeded, resumed.failed),
            (3_000, 3_000, 0)
        );
        assert_eq!(
            db.count(&format!("SELECT count(*) FROM {table}")).await,
            3_000,
            "{entity}"
        );
        assert_eq!(
            db.count(&format!(
                "SELECT count(DISTINCT import_source_row) FROM {table}"
            ))
            .await,
            3_000
        );
        let history = rows(
            &db,
            &format!(
                "SELECT entity, status, succeeded FROM import_batches WHERE id = {}",
                first.import_id.unwrap()
            ),
        )
        .await;
        assert_eq!(history[0].get::<_, String>(0), entity.name());
        assert_eq!(history[0].get::<_, String>(1), "finished");
        assert_eq!(history[0].get::<_, i32>(2), 3_000);

        let repeat = import_file(&path, &db.settings(), &options, ImportProgress::new(None)).await;
        assert!(
            matches!(repeat, Err(ImportError::AlreadyImported { .. })),
            "{entity}"
        );

        let id = first.import_id.unwrap().to_string();
        let undo = pantry(&["undo", &id, "--database-url", &db.url]);
        assert_eq!(undo.status.code(), Some(0), "{}", text(&undo.stderr));
        assert_eq!(
            db.count(&format!(
                "SELECT count(*) FROM {table} WHERE deleted_at IS NULL"
            ))
            .await,
            0,
            "{entity}"
        );
        let status = rows(
            &db,
            &format!("SELECT status FROM import_batches WHERE id = {id}"),
        )
        .await;
        assert_eq!(status[0].get::<_, String>(0), "undone");
    }
}

#[test]
fn check_names_the_entity_and_a_contacts_sheet_is_never_organizations() {
    let output = pantry(&["check", data("contacts.csv").to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["entity"], "contacts");
    assert_eq!(json["total"], 5);
    assert_eq!(json["failed"], 1, "offline, only the one-word name fails");
    let notices = json["notices"].to_string();
    assert!(
        notices.contains("'Company' are looked up in the CRM when importing"),
        "{notices}"
    );

    let forced = pantry(&[
        "check",
        data("products.csv").to_str().unwrap(),
        "--entity",
        "organizations",
        "--json",
    ]);
    assert_eq!(forced.status.code(), Some(2), "no organization name column");
    assert!(text(&forced.stderr).contains("No column holds the organization name"));
    let wrong = pantry(&[
        "check",
        data("contacts.csv").to_str().unwrap(),
        "--entity",
        "deals",
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        text(&wrong.stderr).contains("unknown entity 'deals'"),
        "{}",
        text(&wrong.stderr)
    );
}
