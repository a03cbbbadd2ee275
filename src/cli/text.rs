//! How the headless commands print what they did, as text for a person.

use pantry_core::audit::Audit;
use pantry_core::entity::Entity;
use pantry_core::fixes::{CleanUpReport, MergeReport};
use pantry_core::history::{EntryKind, ImportBatch, UndoReport};
use pantry_core::users;
use pantry_core::verify::Verification;

/// `history` as a table, newest first.
pub fn print_history(imports: &[ImportBatch]) {
    if imports.is_empty() {
        println!("no imports yet");
        return;
    }
    println!(
        "{:>6}  {:>4}  {:<16}  {:<13}  {:<9}  {:>9}  {:>7}  {:>7}  {:>7}  file",
        "import", "run", "started", "entity", "status", "stored", "updated", "skipped", "failed"
    );
    for batch in imports {
        let sheet = if batch.sheet.is_empty() {
            String::new()
        } else {
            format!(" [{}]", batch.sheet)
        };
        println!(
            "{:>6}  {:>4}  {:<16}  {:<13}  {:<9}  {:>9}  {:>7}  {:>7}  {:>7}  {}{sheet}",
            batch.id,
            batch.run_id.map_or_else(String::new, |r| r.to_string()),
            batch.started_at,
            batch.entity.name(),
            batch.status.as_str(),
            batch.succeeded,
            batch.updated,
            batch.skipped,
            batch.failed,
            batch.file_name
        );
    }
}

/// What `undo` did, import by import; returns how many rows were left
/// alone because they were edited since.
pub fn print_undo(reports: &[UndoReport]) -> usize {
    let mut left_alone = 0;
    for report in reports {
        let entry = match report.kind {
            EntryKind::Import => "import",
            EntryKind::LinkManagers => "manager link",
            EntryKind::CleanUp => "clean-up",
            EntryKind::Merge => "merge",
            EntryKind::Removal => "removal",
        };
        if report.kind == EntryKind::Merge && !report.edited_left_alone.is_empty() {
            left_alone += report.edited_left_alone.len();
            println!(
                "merge {}: not undone: {} of its records were edited since (pass --force to undo it anyway):",
                report.import_id,
                report.edited_left_alone.len()
            );
            for (_, name) in &report.edited_left_alone {
                println!("    {name}");
            }
            continue;
        }
        match (report.kind, report.restored) {
            (EntryKind::Import, 0) => println!(
                "import {}: {} rows soft-deleted",
                report.import_id, report.soft_deleted
            ),
            (EntryKind::Import, restored) => println!(
                "import {}: {} rows soft-deleted, {restored} updated records given back their values from before",
                report.import_id, report.soft_deleted
            ),
            (EntryKind::Removal, restored) => println!(
                "removal {}: {restored} {} the sync soft-deleted given back",
                report.import_id,
                if restored == 1 { "record" } else { "records" },
            ),
            (_, restored) => println!(
                "{entry} {}: {restored} {} given back {} values from before",
                report.import_id,
                if restored == 1 { "record" } else { "records" },
                if restored == 1 { "its" } else { "their" }
            ),
        }
        if report.edited_left_alone.is_empty() {
            continue;
        }
        left_alone += report.edited_left_alone.len();
        println!(
            "  {} records were edited since the {entry} and were left alone (pass --force to undo them too):",
            report.edited_left_alone.len()
        );
        for (row, name) in &report.edited_left_alone {
            if *row > 0 {
                println!("    row {row}: {name}");
            } else {
                println!("    {name}");
            }
        }
    }
    left_alone
}

/// `audit` as text: per entity its score, findings with examples, the
/// duplicate groups, distributions and clean-ups.
pub fn print_audit(audit: &Audit, out: Option<&std::path::Path>) {
    println!("CRM health, checked {}", audit.checked_at);
    for entity in &audit.entities {
        println!(
            "\n{}: {}, score {} ({} with findings)",
            entity.entity.title(),
            entity.entity.count(entity.records),
            entity.score,
            entity.with_findings
        );
        for finding in &entity.findings {
            println!("  {:<36} {:>8}", finding.kind.describe(), finding.records);
            for example in finding.examples.iter().take(3) {
                println!("      {}: {}", example.shown, example.detail);
            }
        }
        for distribution in &entity.distributions {
            let values: Vec<String> = distribution
                .values
                .iter()
                .take(8)
                .map(|(value, count)| format!("{value} {count}"))
                .collect();
            println!("  {}: {}", distribution.field, values.join(", "));
        }
        for clean_up in &entity.clean_ups {
            println!(
                "  clean-up: {} values: {} ({})",
                clean_up.values,
                clean_up.kind.describe(),
                pantry_core::clean::examples_text(&clean_up.examples, 2)
            );
        }
    }
    if let Some(out) = out {
        println!("\nevery finding written to {}", out.display());
    }
    if audit.entities.iter().any(|e| !e.clean_ups.is_empty()) {
        println!("apply the clean-ups with: pantry-import audit --fix clean-ups");
    }
}

/// `audit --fix clean-ups` as text.
pub fn print_clean_ups(reports: &[CleanUpReport]) {
    for report in reports {
        match report.entry {
            None => println!("{}: nothing to clean up", report.entity.title()),
            Some(entry) => {
                let kinds: Vec<String> = report
                    .values
                    .iter()
                    .map(|(kind, count)| format!("{count} {kind}"))
                    .collect();
                println!(
                    "{}: {} cleaned ({}); undo with: pantry-import undo {entry}",
                    report.entity.title(),
                    report.entity.count(report.records),
                    kinds.join(", ")
                );
            }
        }
    }
}

/// `merge` as text.
pub fn print_merge(entity: Entity, report: &MergeReport) {
    let merged: Vec<&str> = report
        .merged
        .iter()
        .map(|(_, shown)| shown.as_str())
        .collect();
    println!(
        "merge {}: '{}' kept; merged into it and soft-deleted: '{}'",
        report.entry,
        report.survivor_shown,
        merged.join("', '")
    );
    if !report.filled.is_empty() {
        println!("  it took from them: {}", report.filled.join(", "));
    }
    println!(
        "  {} links moved to it; undo with: pantry-import undo {} ({})",
        report.links_moved,
        report.entry,
        entity.name()
    );
}

/// `verify` as text: the counts, each distribution, the links that ended
/// empty and the sample beside its spreadsheet cells.
pub fn print_verification(verification: &Verification) {
    let sheet = if verification.sheet.is_empty() {
        String::new()
    } else {
        format!(" [{}]", verification.sheet)
    };
    println!(
        "import {}: {}{sheet}, {}",
        verification.import,
        verification.file_name,
        verification.entity.name()
    );
    let file_rows = verification
        .file_rows
        .map_or_else(|| "not read to the end".to_owned(), |rows| rows.to_string());
    println!("  rows in the file      {file_rows:>9}");
    println!("  stored (in the CRM)   {:>9}", verification.stored_rows);
    println!("  updated records       {:>9}", verification.updated_rows);
    println!("  skipped (in the CRM)  {:>9}", verification.skipped_rows);
    println!("  failed                {:>9}", verification.failed_rows);
    if verification.undone_rows > 0 {
        println!("  undone since          {:>9}", verification.undone_rows);
    }
    for chart in &verification.charts {
        println!("\n  {}", chart.field);
        let most = chart
            .values
            .iter()
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(1)
            .max(1);
        for (value, count) in &chart.values {
            let shown = if value.is_empty() { "(empty)" } else { value };
            let bar = "#".repeat(((*count * 30).div_ceil(most)) as usize);
            println!("    {shown:<24} {count:>9}  {bar}");
        }
    }
    if !verification.empty_links.is_empty() {
        println!("\n  links that ended empty");
        for link in &verification.empty_links {
            println!(
                "    row {}: {} '{}' not found",
                link.row, link.column, link.name
            );
        }
    }
    for row in &verification.sample {
        println!("\n  row {} (stored | file)", row.row);
        for cell in &row.cells {
            if cell.stored.is_empty() && cell.file.as_deref().is_none_or(str::is_empty) {
                continue;
            }
            let mark = if cell.file.is_some() && !cell.same {
                "*"
            } else {
                " "
            };
            println!(
                "   {mark}{:<24} {} | {}",
                cell.field,
                cell.stored,
                cell.file.as_deref().unwrap_or("")
            );
        }
    }
}

/// `users`: the users, then each manager name with its user.
pub fn print_users(report: &users::UsersReport) {
    let source = match report.source {
        users::UserSource::SupabaseAuth => "auth.users (Supabase)",
        users::UserSource::CrmUsers => "crm_users",
    };
    println!("{} users, in {source}:", report.users.len());
    for user in &report.users {
        println!("  {}", user.describe());
    }
    if report.managers.is_empty() {
        println!("no manager names in the CRM's organizations");
        return;
    }
    println!("manager names in the CRM's organizations:");
    for manager in &report.managers {
        let records = format!(
            "{} record{}{}",
            manager.records,
            if manager.records == 1 { "" } else { "s" },
            if manager.without_user > 0 {
                format!(", {} without its user id", manager.without_user)
            } else {
                String::new()
            }
        );
        println!(
            "  '{}' ({records}): {}",
            manager.name,
            describe_match(&manager.matched)
        );
    }
    println!(
        "unmapped names: {}{}",
        report.unmapped_names,
        if report.unmapped_names == 0 {
            " (every record's manager names have their user id)"
        } else {
            " (users --link fills the ids; --map NAME=EMAIL for a name the rules cannot place)"
        }
    );
}

fn describe_match(matched: &users::UserMatch) -> String {
    let all = |list: &[users::CrmUser]| {
        list.iter()
            .map(users::CrmUser::describe)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match matched {
        users::UserMatch::User { user } => user.describe(),
        users::UserMatch::Several { candidates } => {
            format!("several users fit ({})", all(candidates))
        }
        users::UserMatch::NoUser { closest } if closest.is_empty() => "no user".to_owned(),
        users::UserMatch::NoUser { closest } => format!("no user (closest: {})", all(closest)),
        users::UserMatch::KeptAsText => "kept as text".to_owned(),
    }
}

/// `users --link`: what it filled, and what it left.
pub fn print_linked_managers(linked: &users::LinkedManagers) {
    match linked.import_id {
        Some(id) => println!(
            "{} organizations got their manager ids (import {id}; `undo {id}` gives back the ids they had)",
            linked.records
        ),
        None => println!("every organization already has the manager ids its names give"),
    }
    for manager in &linked.names_left {
        println!(
            "  left as text: '{}' ({} records): {}",
            manager.name,
            manager.records,
            describe_match(&manager.matched)
        );
    }
}
