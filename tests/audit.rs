//! Data quality in the CRM (SPEC.md): the audit of a CRM seeded with known
//! problems, clean-ups applied and undone, and merges of duplicates with
//! their undo, against real PostgreSQL.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{TestDatabase, import_file, pantry, text};
use pantry_core::audit::{self, FindingKind};
use pantry_core::clean::CleanUp;
use pantry_core::duplicates::DuplicatePolicy;
use pantry_core::entity::Entity;
use pantry_core::fixes::{self, FixError, MergeRequest};
use pantry_core::history::{self, UndoTarget};
use pantry_core::import::ImportOptions;
use pantry_core::progress::ImportProgress;
use uuid::Uuid;

/// Imports `body` as an organizations CSV, creating records for rows that
/// match (as an import made before duplicates were matched would have).
async fn import_organizations(db: &TestDatabase, dir: &std::path::Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    let options = ImportOptions {
        on_duplicate: DuplicatePolicy::Create,
        again: true,
        ..ImportOptions::default()
    };
    let report = import_file(&path, &db.settings(), &options, ImportProgress::new(None))
        .await
        .unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
}

/// A CRM with known problems, made by two imports and by hand; returns the
/// names of the records with no problem.
async fn seeded_crm(db: &TestDatabase, dir: &std::path::Path) -> Vec<&'static str> {
    import_organizations(
        db,
        dir,
        "first.csv",
        "Organization Name,City,State,Phone,Email\n\
         Sysco Foods,Chicago,IL,(312) 555-0101,orders@sysco.example\n\
         Blue Harbor Grill,Chicago,IL,(312) 555-0102,info@blueharbor.example\n\
         Cafe Gamma,Chicago,IL,(312) 555-0103,\n\
         Joe's Rusty Spoon,Hoboken,NJ,(201) 555-0104,\n",
    )
    .await;
    import_organizations(
        db,
        dir,
        "second.csv",
        "Organization Name,City,State,Phone,Email\n\
         SYSCO FOODS,Chicago,IL,(312) 555-0111,\n\
         Cafe Gamma,Denver,CO,(303) 555-0112,\n\
         Joes Rusty Spoon Inc.,Hoboken,NJ,(201) 555-0113,\n\
         Green Valley Market,Denver,CO,(303) 555-0114,hello@greenvalley.example\n",
    )
    .await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO organizations (name, city, state_province, phone, email) VALUES \
               ('Hoboken Provisions', 'Hoboken', 'NJ', '(201) 555-0120', 'orders@hoboken'), \
               ('Lakeside Catering', 'Madison', 'WI', '555-12', NULL), \
               ('Prairie Bistro', 'Peoria', 'Illinoiss', '(309) 555-0121', NULL), \
               ('Nowhere Deli', NULL, NULL, NULL, NULL), \
               ('Gone Co', 'Austin', 'TX', '(512) 555-0122', NULL), \
               ('Maple Leaf Foods', 'Toronto', 'Ontario', '+1 416-555-0123', NULL); \
             UPDATE organizations SET country = 'CA' WHERE name = 'Maple Leaf Foods'; \
             INSERT INTO contacts (organization_id, first_name, last_name, email, phone) \
               SELECT id, 'Ann', 'Lee', 'ann@blueharbor.example', NULL FROM organizations WHERE name = 'Blue Harbor Grill'; \
             INSERT INTO contacts (organization_id, first_name, last_name, email, phone) \
               SELECT id, 'Annie', 'Lee', ' ANN@blueharbor.example', NULL FROM organizations WHERE name = 'Blue Harbor Grill'; \
             INSERT INTO contacts (organization_id, first_name, last_name, email, phone) \
               SELECT id, 'Mary', 'Smith', 'mary@cafe', NULL FROM organizations WHERE name = 'Green Valley Market'; \
             INSERT INTO contacts (organization_id, first_name, last_name, email, phone) \
               SELECT id, 'Tom', 'Gone', 'tom@gone.example', NULL FROM organizations WHERE name = 'Gone Co'; \
             INSERT INTO contacts (organization_id, first_name, last_name, email, phone) \
               SELECT id, 'Quiet', 'Person', NULL, NULL FROM organizations WHERE name = 'Green Valley Market'; \
             INSERT INTO contacts (organization_id, first_name, last_name, email, phone) \
               SELECT id, 'Rita', 'Okafor', 'rita@greenvalley.example', '(303) 555-0130' FROM organizations WHERE name = 'Green Valley Market'; \
             UPDATE organizations SET deleted_at = now() WHERE name = 'Gone Co';",
        )
        .await
        .unwrap();
    vec![
        "Blue Harbor Grill (Chicago)",
        "Cafe Gamma (Chicago)",
        "Cafe Gamma (Denver)",
        "Green Valley Market (Denver)",
        "Maple Leaf Foods (Toronto)",
        "Rita Okafor <rita@greenvalley.example>",
    ]
}

#[tokio::test]
async fn the_audit_finds_every_planted_problem_and_flags_nothing_clean() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let clean = seeded_crm(&db, dir.path()).await;
    let client = db.client().await;
    let mut found: BTreeMap<(Entity, FindingKind), BTreeSet<String>> = BTreeMap::new();
    let mut sink = |row: &audit::FindingRow<'_>| {
        found
            .entry((row.entity, row.kind))
            .or_default()
            .insert(row.shown.to_owned());
        Ok(())
    };
    let report = audit::audit(
        &client,
        &[Entity::Organizations, Entity::Contacts],
        &mut sink,
    )
    .await
    .unwrap();
    let names = |entity, kind| -> Vec<&str> {
        found
            .get(&(entity, kind))
            .map(|s| s.iter().map(String::as_str).collect())
            .unwrap_or_default()
    };
    use FindingKind::*;
    let orgs = Entity::Organizations;
    assert_eq!(
        names(orgs, Duplicates),
        ["SYSCO FOODS (Chicago)", "Sysco Foods (Chicago)"]
    );
    assert_eq!(
        names(orgs, NearDuplicates),
        [
            "Joe's Rusty Spoon (Hoboken)",
            "Joes Rusty Spoon Inc. (Hoboken)"
        ]
    );
    assert_eq!(names(orgs, InvalidEmails), ["Hoboken Provisions (Hoboken)"]);
    assert_eq!(names(orgs, InvalidPhones), ["Lakeside Catering (Madison)"]);
    assert_eq!(names(orgs, UnknownStates), ["Prairie Bistro (Peoria)"]);
    assert_eq!(names(orgs, MissingFields), ["Nowhere Deli"]);
    let contacts = Entity::Contacts;
    assert_eq!(
        names(contacts, Duplicates),
        [
            "Ann Lee <ann@blueharbor.example>",
            "Annie Lee <ANN@blueharbor.example>"
        ]
    );
    assert_eq!(names(contacts, InvalidEmails), ["Mary Smith <mary@cafe>"]);
    assert_eq!(names(contacts, MissingFields), ["Quiet Person"]);
    assert_eq!(
        names(contacts, LinksToDeleted),
        ["Tom Gone <tom@gone.example>"]
    );
    assert_eq!(found.len(), 10, "no other kind of finding: {found:?}");
    let flagged: BTreeSet<&String> = found.values().flatten().collect();
    for name in &clean {
        assert!(
            !flagged.iter().any(|f| f == name),
            "{name} is clean but flagged"
        );
    }

    // Scores: 13 live organizations, 8 with a finding; 6 contacts, 5.
    let organizations = &report.entities[0];
    assert_eq!(
        (organizations.records, organizations.with_findings),
        (13, 8)
    );
    assert_eq!(organizations.score, 38);
    let contacts = &report.entities[1];
    assert_eq!((contacts.records, contacts.with_findings), (6, 5));
    assert_eq!(contacts.score, 16);
    // The detail names what is wrong, and the deleted record.
    let example = &contacts.finding(LinksToDeleted).unwrap().examples[0];
    assert_eq!(
        example.detail,
        "Organization 'Gone Co (Austin)' was deleted"
    );
    assert_eq!(
        organizations.finding(MissingFields).unwrap().examples[0].detail,
        "no city, no state, no phone"
    );
    // The duplicate group side by side, the most complete record first choice.
    let group = &organizations.groups[0];
    assert!(!group.near);
    assert_eq!(group.members.len(), 2);
    assert_eq!(
        group.suggested_survivor().unwrap().shown,
        "Sysco Foods (Chicago)"
    );
    // The checklist's distributions and the clean-ups that would apply.
    let states = organizations
        .distributions
        .iter()
        .find(|d| d.field == "state_province")
        .unwrap();
    assert_eq!(states.values[0], ("IL".to_owned(), 4));
    let phones = organizations
        .clean_ups
        .iter()
        .find(|c| c.kind == CleanUp::Phones)
        .unwrap();
    assert_eq!(phones.values, 1, "{phones:?}");
}

#[tokio::test]
async fn audit_writes_every_finding_to_a_file_and_json_to_scripts() {
    let db = TestDatabase::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    seeded_crm(&db, dir.path()).await;
    let out = dir.path().join("findings.csv");
    let output = pantry(&[
        "audit",
        "--database-url",
        &db.url,
        "--entity",
        "organizations",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["entities"][0]["records"], 13);
    assert_eq!(json["entities"][0]["score"], 38);
    let written = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines[0], "\u{feff}Entity,Finding,Record,Id,Detail,Group");
    // Two duplicates, two near ones, one each of e-mail, phone, state, empty.
    assert_eq!(lines.len(), 1 + 8, "{written}");
    assert!(written.contains("organizations,unknown-states,Prairie Bistro (Peoria),"));
    let plain = pantry(&[
        "audit",
        "--database-url",
        &db.url,
        "--entity",
        "organizations",
    ]);
    let plain = text(&plain.stdout);
    assert!(
        plain.contains("Organizations: 13 organizations, score 38 (8 with findings)"),
        "{plain}"
    );
}

#[tokio::test]
async fn clean_ups_of_stored_values_keep_the_originals_and_undo() {
    let db = TestDatabase::migrated().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO organizations (name, city, state_province, phone, email, import_notes) VALUES \
               ('Prairie  Bistro', 'Peoria', 'Illinois', '309.555.0121', ' Orders@Prairie.example ', NULL), \
               ('Tidy Place', 'Denver', 'CO', '(303) 555-0100', 'tidy@place.example', '{\"Source\":\"fair\"}')",
        )
        .await
        .unwrap();
    let before: Vec<String> = rows(&db, "organizations").await;
    let mut client = db.client().await;
    let kinds: BTreeSet<CleanUp> = CleanUp::ALL.into_iter().collect();
    let report = fixes::apply_clean_ups(&mut client, Entity::Organizations, &kinds)
        .await
        .unwrap();
    assert_eq!(report.records, 1);
    assert_eq!(report.values.values().sum::<u64>(), 4);
    let row = client
        .query_one(
            "SELECT name, state_province, phone, email, import_notes FROM organizations WHERE city = 'Peoria'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Prairie Bistro");
    assert_eq!(row.get::<_, String>(1), "IL");
    assert_eq!(row.get::<_, String>(2), "(309) 555-0121");
    assert_eq!(row.get::<_, String>(3), "orders@prairie.example");
    let notes: serde_json::Value = serde_json::from_str(row.get(4)).unwrap();
    assert_eq!(notes["STATE (as written)"], "Illinois");
    assert_eq!(notes["PHONE (as written)"], "309.555.0121");
    // A clean record is not touched, nor recorded.
    let entry = report.entry.unwrap();
    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM import_matches WHERE import_batch_id = {entry}"
        ))
        .await,
        1
    );
    let undone = history::undo(&mut client, UndoTarget::Import(entry), false)
        .await
        .unwrap();
    assert_eq!(undone[0].restored, 1);
    assert_eq!(rows(&db, "organizations").await, before);
}

/// Every row of `table` as JSON, ordered by id, without `updated_at`: the
/// CRM's own trigger stamps it on every change, an undo included.
async fn rows(db: &TestDatabase, table: &str) -> Vec<String> {
    db.client()
        .await
        .query(
            &format!("SELECT (to_jsonb(t) - 'updated_at')::text FROM {table} t ORDER BY id"),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn every_table(db: &TestDatabase) -> Vec<Vec<String>> {
    let mut tables = Vec::new();
    for entity in Entity::ALL {
        tables.push(rows(db, entity.name()).await);
    }
    tables
}

/// Three organizations, the same buyer entered thrice, each with a contact,
/// a product, an opportunity and an interaction; one is the parent of
/// another customer. Returns their ids, in order.
async fn three_copies(db: &TestDatabase) -> Vec<Uuid> {
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO organizations (name, city, state_province, phone, email, website, import_notes) VALUES \
               ('Hoboken Provisions', 'Hoboken', 'NJ', NULL, NULL, NULL, '{\"Region\":\"East\"}'), \
               ('Hoboken Provisions LLC', NULL, NULL, '(201) 555-0140', NULL, NULL, NULL), \
               ('HOBOKEN PROVISIONS', 'Hoboken', NULL, NULL, 'orders@hoboken.example', 'hoboken.example', '{\"Region\":\"North\",\"Rep\":\"Dana\"}'), \
               ('Hoboken Annex', 'Hoboken', 'NJ', '(201) 555-0141', NULL, NULL, NULL); \
             UPDATE organizations SET parent_organization_id = (SELECT id FROM organizations WHERE name = 'HOBOKEN PROVISIONS') \
               WHERE name = 'Hoboken Annex'; \
             INSERT INTO contacts (organization_id, first_name, last_name, email) \
               SELECT id, 'Buyer', name, NULL FROM organizations WHERE name LIKE 'Hoboken P%' OR name = 'HOBOKEN PROVISIONS'; \
             INSERT INTO products (principal_id, name, category) \
               SELECT id, 'Olive oil of ' || name, 'dry_goods' FROM organizations WHERE name LIKE 'Hoboken P%' OR name = 'HOBOKEN PROVISIONS'; \
             INSERT INTO opportunities (organization_id, name) \
               SELECT id, 'Deal with ' || name FROM organizations WHERE name LIKE 'Hoboken P%' OR name = 'HOBOKEN PROVISIONS'; \
             INSERT INTO interactions (organization_id, type, subject) \
               SELECT id, 'call', 'Call to ' || name FROM organizations WHERE name LIKE 'Hoboken P%' OR name = 'HOBOKEN PROVISIONS';",
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for name in [
        "Hoboken Provisions",
        "Hoboken Provisions LLC",
        "HOBOKEN PROVISIONS",
    ] {
        ids.push(
            client
                .query_one("SELECT id FROM organizations WHERE name = $1", &[&name])
                .await
                .unwrap()
                .get(0),
        );
    }
    ids
}

#[tokio::test]
async fn a_merge_of_three_moves_every_link_and_undo_puts_every_table_back() {
    let db = TestDatabase::migrated().await;
    let ids = three_copies(&db).await;
    let before = every_table(&db).await;
    let mut client = db.client().await;
    let report = fixes::merge(
        &mut client,
        &MergeRequest {
            entity: Entity::Organizations,
            ids: ids.clone(),
            keep: Some(ids[0]),
            unchanged_since: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(report.survivor, ids[0]);
    assert_eq!(report.merged.len(), 2);
    // 3 contacts, products, opportunities, interactions: the 2 of each not
    // on the survivor moved; and the annex's parent.
    assert_eq!(report.links_moved, 9);
    assert_eq!(report.filled, ["LINKEDIN", "PHONE", "Email"]);
    let survivor = client
        .query_one(
            "SELECT name, phone, email, website, import_notes, deleted_at IS NULL FROM organizations WHERE id = $1",
            &[&ids[0]],
        )
        .await
        .unwrap();
    assert_eq!(survivor.get::<_, String>(0), "Hoboken Provisions");
    assert_eq!(survivor.get::<_, String>(1), "(201) 555-0140");
    assert_eq!(survivor.get::<_, String>(2), "orders@hoboken.example");
    let notes: serde_json::Value = serde_json::from_str(survivor.get(4)).unwrap();
    assert_eq!(notes, serde_json::json!({"Region": "East", "Rep": "Dana"}));
    assert!(survivor.get::<_, bool>(5));
    for table in ["contacts", "products", "opportunities", "interactions"] {
        let column = if table == "products" {
            "principal_id"
        } else {
            "organization_id"
        };
        let on_survivor = client
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE {column} = $1"),
                &[&ids[0]],
            )
            .await
            .unwrap()
            .get::<_, i64>(0);
        assert_eq!(on_survivor, 3, "{table}");
    }
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE deleted_at IS NOT NULL")
            .await,
        2
    );
    assert_eq!(
        db.count(&format!(
            "SELECT count(*) FROM organizations WHERE name = 'Hoboken Annex' AND parent_organization_id = '{}'",
            ids[0]
        ))
        .await,
        1
    );
    // The history lists it as a merge, and undo takes it all back.
    let listed = history::list(&client, 5).await.unwrap();
    assert_eq!(listed[0].kind, history::EntryKind::Merge);
    let undone = history::undo(&mut client, UndoTarget::Import(report.entry), false)
        .await
        .unwrap();
    assert_eq!(undone[0].restored, 3 + 9);
    assert!(undone[0].edited_left_alone.is_empty());
    assert_eq!(every_table(&db).await, before);
}

#[tokio::test]
async fn a_merge_is_refused_for_a_record_edited_since() {
    let db = TestDatabase::migrated().await;
    let ids = three_copies(&db).await;
    let mut client = db.client().await;
    // Chosen from an audit: a record changed after it is not merged blind.
    let as_of: String = client
        .query_one("SELECT now()::text", &[])
        .await
        .unwrap()
        .get(0);
    client
        .execute(
            "UPDATE organizations SET phone = '(201) 555-0199' WHERE id = $1",
            &[&ids[1]],
        )
        .await
        .unwrap();
    let request = MergeRequest {
        entity: Entity::Organizations,
        ids: ids.clone(),
        keep: None,
        unchanged_since: Some(as_of),
    };
    let refused = fixes::merge(&mut client, &request).await.unwrap_err();
    assert!(
        matches!(refused, FixError::ChangedSince { ref shown, .. } if shown == "Hoboken Provisions LLC")
    );
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE deleted_at IS NOT NULL")
            .await,
        0
    );

    // Merged, then the survivor edited: undo refuses the whole merge and
    // names it, until forced.
    let merged = fixes::merge(
        &mut client,
        &MergeRequest {
            unchanged_since: None,
            ..request
        },
    )
    .await
    .unwrap();
    // The most complete record survives: the third (city, e-mail, website, notes).
    assert_eq!(merged.survivor, ids[2]);
    let after_merge = every_table(&db).await;
    client
        .execute(
            "UPDATE organizations SET website = 'hoboken.example/new' WHERE id = $1",
            &[&ids[2]],
        )
        .await
        .unwrap();
    let output = pantry(&["undo", &merged.entry.to_string(), "--database-url", &db.url]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let said = text(&output.stdout);
    assert!(
        said.contains(&format!(
            "merge {}: not undone: 1 of its records were edited since (pass --force to undo it anyway):\n    HOBOKEN PROVISIONS (Hoboken)",
            merged.entry
        )),
        "{said}"
    );
    // All as the merge left it, but for the survivor's edit.
    let survivor = format!("{{\"id\": \"{}\"", ids[2]);
    let mut now = every_table(&db).await;
    now[0].retain(|r| !r.starts_with(&survivor));
    let mut expected = after_merge.clone();
    expected[0].retain(|r| !r.starts_with(&survivor));
    assert_eq!(now, expected, "nothing of the merge was undone");
    let forced = pantry(&[
        "undo",
        &merged.entry.to_string(),
        "--database-url",
        &db.url,
        "--force",
    ]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert_eq!(
        db.count("SELECT count(*) FROM organizations WHERE deleted_at IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn merge_on_the_command_line_says_what_it_did() {
    let db = TestDatabase::migrated().await;
    let ids = three_copies(&db).await;
    let output = pantry(&[
        "merge",
        "organizations",
        &ids[0].to_string(),
        &ids[1].to_string(),
        "--database-url",
        &db.url,
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let said = text(&output.stdout);
    assert!(said.contains("'Hoboken Provisions (Hoboken)' kept; merged into it and soft-deleted: 'Hoboken Provisions LLC'"), "{said}");
    assert!(said.contains("it took from them: PHONE"), "{said}");
    let missing = pantry(&[
        "merge",
        "organizations",
        &ids[0].to_string(),
        &Uuid::nil().to_string(),
        "--database-url",
        &db.url,
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr)
            .contains("there is no organization with the id 00000000-0000-0000-0000-000000000000"),
        "{}",
        text(&missing.stderr)
    );
}

#[tokio::test]
async fn manager_names_with_no_crm_user_are_found_once_the_crm_has_users() {
    let db = TestDatabase::migrated().await;
    let client = db.client().await;
    let clean = "INSERT INTO organizations (name, city, state_province, phone, primary_manager_name) VALUES \
         ('Blue Harbor Grill', 'Chicago', 'IL', '(312) 555-0102', 'Dana Whitfield'), \
         ('Green Valley Market', 'Denver', 'CO', '(303) 555-0114', 'Pat Unknown')";
    client.batch_execute(clean).await.unwrap();
    let names = |audit: &audit::Audit| -> Vec<String> {
        audit.entities[0]
            .finding(FindingKind::ManagersWithoutUser)
            .map(|f| f.examples.iter().map(|e| e.detail.clone()).collect())
            .unwrap_or_default()
    };
    // No users yet: a name cannot be told to have none.
    let before = audit::audit(&client, &[Entity::Organizations], &mut |_| Ok(()))
        .await
        .unwrap();
    assert!(names(&before).is_empty());
    assert_eq!(before.entities[0].score, 100);
    client
        .batch_execute(
            "INSERT INTO crm_users (full_name, email) VALUES ('Dana Whitfield', 'dana@broker.com')",
        )
        .await
        .unwrap();
    let after = audit::audit(&client, &[Entity::Organizations], &mut |_| Ok(()))
        .await
        .unwrap();
    assert_eq!(names(&after), ["manager 'Pat Unknown' is no CRM user"]);
    assert_eq!(after.entities[0].score, 50);
    // The manager names are charted too, as the checklist asks.
    let managers = after.entities[0]
        .distributions
        .iter()
        .find(|d| d.field == "primary_manager_name")
        .unwrap();
    assert_eq!(managers.values.len(), 2);
}
