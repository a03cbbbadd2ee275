//! The CRM health view (SPEC.md, "Data quality in the CRM"): each entity's
//! score, its findings charted and listed with examples, its duplicate
//! groups side by side with a survivor to pick and Merge, the clean-ups
//! with Apply, and a check on a schedule while the window is open.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use eframe::egui::{self, RichText};
use pantry_core::audit::{self, Audit, DuplicateGroup, EntityAudit, FindingKind};
use pantry_core::clean::CleanUp;
use pantry_core::database::ConnectionSettings;
use pantry_core::entity::Entity;
use pantry_core::fixes::{self, MergeRequest};
use pantry_core::history::UndoTarget;
use uuid::Uuid;

use super::Action;
use super::task::{self, Task};
use super::theme::{self, ACCENT, FAIL_TEXT, OK_TEXT, WARN_TEXT};

/// What the broker asked of the health view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthAction {
    /// Check the CRM now.
    Check,
    /// Merge group `.1` of `.0`'s duplicate groups into its survivor.
    Merge(Entity, usize),
    /// Apply every clean-up kind to `.0`'s stored values.
    ApplyCleanUps(Entity),
}

/// The choices for "check every N hours".
pub const SCHEDULES: [u64; 5] = [0, 1, 4, 8, 24];

/// Groups shown per entity; the rest are counted (and in `audit --out`).
const GROUPS_SHOWN: usize = 25;

/// The health view's state.
#[derive(Default)]
pub struct HealthState {
    /// The last check.
    pub audit: Option<Audit>,
    checking: Option<Task<Audit>>,
    fixing: Option<Task<(String, i64)>>,
    /// The entity on screen.
    pub entity: Option<Entity>,
    /// The survivor picked per group (by entity and group number).
    pub survivors: HashMap<(Entity, usize), Uuid>,
    /// Hours between checks while the window is open (0: never).
    pub every_hours: u64,
    checked: Option<Instant>,
    /// What a scheduled check found that the one before did not.
    pub news: Vec<String>,
    /// What the last fix did (and its history entry, for Undo), or why it
    /// could not.
    pub message: Option<Result<(String, i64), String>>,
    /// What the last check could not do.
    pub failed: Option<String>,
    /// An undo that left records changed since alone, to offer forcing.
    pub left_alone: Option<UndoTarget>,
}

impl HealthState {
    /// Whether a check is running.
    pub fn is_checking(&self) -> bool {
        self.checking.is_some()
    }

    /// Whether a merge or clean-up is running.
    pub fn is_fixing(&self) -> bool {
        self.fixing.is_some()
    }

    /// Forgets what belonged to another database.
    pub fn forget(&mut self) {
        *self = HealthState {
            every_hours: self.every_hours,
            ..HealthState::default()
        };
    }

    /// An undo was asked for: what the view said of the last fix (and its
    /// Undo button) goes, so it cannot be asked twice.
    pub fn undo_started(&mut self) {
        self.message = None;
        self.left_alone = None;
    }

    /// The CRM changed by another way (an undo): say what happened, and
    /// check again when the view shows. `left_alone` is an undo that left
    /// records changed since alone (a merge then stays whole), offered to
    /// be forced.
    pub fn changed_elsewhere(
        &mut self,
        message: Option<String>,
        left_alone: Option<(UndoTarget, usize)>,
    ) {
        self.left_alone = left_alone.map(|(target, _)| target);
        self.message = message.map(|m| {
            if m.starts_with('✖') {
                Err(m.trim_start_matches('✖').trim().to_owned())
            } else {
                Ok((m, 0))
            }
        });
        if self.audit.is_some() {
            self.checked = None;
        }
    }

    /// Starts what `action` asks, in the background.
    pub fn handle(
        &mut self,
        action: HealthAction,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        settings: ConnectionSettings,
    ) {
        match action {
            HealthAction::Check => self.check(runtime, ctx, settings),
            HealthAction::Merge(entity, group) => self.merge(runtime, ctx, settings, entity, group),
            HealthAction::ApplyCleanUps(entity) => {
                if self.fixing.is_some() {
                    return;
                }
                self.message = None;
                self.left_alone = None;
                self.fixing = Some(task::spawn(runtime, ctx, async move {
                    let mut client = settings.connect().await.map_err(|e| e.to_string())?;
                    let kinds = CleanUp::ALL.into_iter().collect();
                    let report = fixes::apply_clean_ups(&mut client, entity, &kinds)
                        .await
                        .map_err(|e| e.to_string())?;
                    let entry = report.entry.unwrap_or_default();
                    let values: u64 = report.values.values().sum();
                    Ok((
                        format!(
                            "✔ {} cleaned up ({} values); the originals are in their import notes",
                            entity.count(report.records),
                            theme::thousands(values)
                        ),
                        entry,
                    ))
                }));
            }
        }
    }

    fn check(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        settings: ConnectionSettings,
    ) {
        if self.checking.is_some() {
            return;
        }
        self.checked = Some(Instant::now());
        self.checking = Some(task::spawn(runtime, ctx, async move {
            let client = settings.connect().await.map_err(|e| e.to_string())?;
            audit::audit(&client, &[], &mut |_| Ok(()))
                .await
                .map_err(|e| e.to_string())
        }));
    }

    fn merge(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        settings: ConnectionSettings,
        entity: Entity,
        number: usize,
    ) {
        let Some(audit) = &self.audit else { return };
        let Some(group) = group(audit, entity, number) else {
            return;
        };
        if self.fixing.is_some() {
            return;
        }
        let request = MergeRequest {
            entity,
            ids: group.members.iter().map(|m| m.id).collect(),
            keep: Some(self.survivor(entity, number, group)),
            unchanged_since: Some(audit.as_of.clone()),
        };
        self.message = None;
        self.left_alone = None;
        self.fixing = Some(task::spawn(runtime, ctx, async move {
            let mut client = settings.connect().await.map_err(|e| e.to_string())?;
            let report = fixes::merge(&mut client, &request)
                .await
                .map_err(|e| e.to_string())?;
            Ok((
                format!(
                    "✔ Merged {} into '{}'; {} links moved to it",
                    report.merged.len(),
                    report.survivor_shown,
                    report.links_moved
                ),
                report.entry,
            ))
        }));
    }

    /// The survivor of group `number`: the one picked, else the suggested.
    pub fn survivor(&self, entity: Entity, number: usize, group: &DuplicateGroup) -> Uuid {
        self.survivors
            .get(&(entity, number))
            .copied()
            .or_else(|| group.suggested_survivor().map(|m| m.id))
            .unwrap_or_default()
    }

    /// Takes answers, and starts a check when one is due: the first time
    /// the view shows, and every `every_hours` while open. Returns whether
    /// a fix was made (the history has a new entry).
    pub fn poll(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        settings: Option<ConnectionSettings>,
        showing: bool,
    ) -> bool {
        if let Some(answer) = task::take_ready(&mut self.checking) {
            match answer {
                Ok(audit) => self.settle(audit),
                Err(message) => self.failed = Some(message),
            }
        }
        let mut fixed = false;
        if let Some(answer) = task::take_ready(&mut self.fixing) {
            fixed = answer.is_ok();
            self.message = Some(answer);
        }
        let Some(settings) = settings else {
            return fixed;
        };
        let period = Duration::from_secs(self.every_hours * 3600);
        let due = match self.checked {
            None => showing,
            Some(at) => fixed || (self.every_hours > 0 && at.elapsed() >= period),
        };
        if due && self.fixing.is_none() {
            self.check(runtime, ctx, settings);
        } else if self.every_hours > 0
            && let Some(at) = self.checked
        {
            // Wake for the next check even when nothing else moves.
            ctx.request_repaint_after(period.saturating_sub(at.elapsed()));
        }
        fixed
    }

    /// Keeps a new check, noting what grew since the one before.
    fn settle(&mut self, audit: Audit) {
        self.failed = None;
        if let Some(before) = &self.audit {
            self.news = news(before, &audit);
        }
        if self.entity.is_none() {
            // Open on the entity that needs the most attention.
            self.entity = audit
                .entities
                .iter()
                .filter(|e| e.records > 0)
                .min_by_key(|e| e.score)
                .map(|e| e.entity);
        }
        self.survivors.clear();
        self.audit = Some(audit);
    }
}

/// Findings that grew between two checks, in words.
fn news(before: &Audit, after: &Audit) -> Vec<String> {
    let mut news = Vec::new();
    for entity in &after.entities {
        let earlier = before.entities.iter().find(|e| e.entity == entity.entity);
        for finding in &entity.findings {
            let was = earlier
                .and_then(|e| e.finding(finding.kind))
                .map_or(0, |f| f.records);
            if finding.records > was {
                news.push(format!(
                    "{} more in {}: {}",
                    finding.records - was,
                    entity.entity.name(),
                    finding.kind.describe().to_lowercase()
                ));
            }
        }
    }
    news
}

fn group(audit: &Audit, entity: Entity, number: usize) -> Option<&DuplicateGroup> {
    audit
        .entities
        .iter()
        .find(|e| e.entity == entity)
        .and_then(|e| e.groups.get(number))
}

/// The health view.
pub fn health_ui(
    ui: &mut egui::Ui,
    state: &mut HealthState,
    connected: bool,
    actions: &mut Vec<Action>,
) {
    ui.add_space(8.0);
    header_ui(ui, state, connected, actions);
    if let Some(failed) = &state.failed {
        ui.label(RichText::new(format!("✖ Could not check the CRM: {failed}")).color(FAIL_TEXT));
    }
    message_ui(ui, state, actions);
    let Some(audit) = &state.audit else {
        if state.is_checking() {
            ui.add_space(12.0);
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Checking every record in the CRM…");
            });
        } else if !connected {
            ui.weak("Connect to the CRM to check it.");
        }
        return;
    };
    ui.add_space(8.0);
    scores_ui(ui, audit, &mut state.entity);
    let Some(entity) = state.entity else { return };
    let Some(audited) = audit.entities.iter().find(|e| e.entity == entity) else {
        return;
    };
    ui.add_space(12.0);
    ui.separator();
    findings_ui(ui, audited);
    let busy = state.is_fixing() || state.is_checking();
    groups_ui(ui, audited, &mut state.survivors, busy, actions);
    clean_ups_ui(ui, audited, busy, actions);
    if !audited.distributions.is_empty() {
        ui.add_space(12.0);
        ui.label(theme::bold("How the records spread"));
        ui.horizontal_wrapped(|ui| {
            for chart in &audited.distributions {
                super::verification::chart_ui(ui, ("health", entity.name()), chart);
            }
        });
    }
}

/// The title, Check now, the schedule and what a scheduled check found.
fn header_ui(
    ui: &mut egui::Ui,
    state: &mut HealthState,
    connected: bool,
    actions: &mut Vec<Action>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label(theme::bold("CRM health").size(24.0));
        ui.add_space(16.0);
        let checking = state.is_checking();
        let check = ui
            .add_enabled(connected && !checking, theme::primary_button("Check now"))
            .on_hover_text("Read every live record and score it (nothing is changed)")
            .on_disabled_hover_text(if checking {
                "A check is running"
            } else {
                "Connect to the CRM first"
            });
        if check.clicked() {
            actions.push(Action::Health(HealthAction::Check));
        }
        ui.label("Check every");
        egui::ComboBox::from_id_salt("health schedule")
            .selected_text(schedule_text(state.every_hours))
            .show_ui(ui, |ui| {
                for hours in SCHEDULES {
                    ui.selectable_value(&mut state.every_hours, hours, schedule_text(hours));
                }
            })
            .response
            .on_hover_text(
                "While the window is open; a check that finds something new says so here",
            );
    });
    if let Some(audit) = &state.audit {
        ui.weak(format!(
            "Checked {} · duplicates, e-mails, phones, states, empty fields, deleted links, managers",
            audit.checked_at
        ));
    }
    if !state.news.is_empty() {
        ui.label(
            RichText::new(format!(
                "New since the check before: {}",
                state.news.join("; ")
            ))
            .color(WARN_TEXT),
        );
    }
}

fn schedule_text(hours: u64) -> String {
    match hours {
        0 => "never (by hand)".to_owned(),
        1 => "hour".to_owned(),
        n => format!("{n} hours"),
    }
}

/// What the last merge or clean-up did, with Undo.
fn message_ui(ui: &mut egui::Ui, state: &HealthState, actions: &mut Vec<Action>) {
    match &state.message {
        Some(Ok((message, entry))) => {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(message).color(OK_TEXT));
                if *entry > 0
                    && ui
                        .button("Undo")
                        .on_hover_text(format!("Put everything back (history entry {entry})"))
                        .clicked()
                {
                    actions.push(Action::Undo(UndoTarget::Import(*entry)));
                }
            });
        }
        Some(Err(message)) => {
            ui.label(RichText::new(format!("✖ {message}")).color(FAIL_TEXT));
        }
        None => {}
    }
    if let Some(target) = state.left_alone
        && ui
            .button("Undo anyway")
            .on_hover_text(
                "Put back every record as it was before, the changes made since included",
            )
            .clicked()
    {
        actions.push(Action::UndoForced(target));
    }
    if state.is_fixing() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Changing the records…");
        });
    }
}

/// One card per entity: its score and records, the one on screen picked.
fn scores_ui(ui: &mut egui::Ui, audit: &Audit, picked: &mut Option<Entity>) {
    ui.horizontal_wrapped(|ui| {
        for entity in &audit.entities {
            let color = score_color(entity.score);
            let detail = if entity.records == 0 {
                "no records".to_owned()
            } else {
                format!(
                    "{} of {} with findings",
                    theme::thousands(entity.with_findings),
                    theme::thousands(entity.records)
                )
            };
            // The score large, what it counts small beside it.
            let mut text = egui::text::LayoutJob::default();
            for part in [
                RichText::new(format!("{}\n", entity.entity.title())),
                RichText::new(format!("{}  ", entity.score))
                    .size(22.0)
                    .strong(),
                RichText::new(detail).small(),
            ] {
                part.color(color).append_to(
                    &mut text,
                    ui.style(),
                    egui::FontSelection::Default,
                    egui::Align::Center,
                );
            }
            let selected = *picked == Some(entity.entity);
            if ui
                .add(egui::Button::selectable(selected, text).min_size(egui::vec2(150.0, 44.0)))
                .on_hover_text("Score: the share of records with no finding, 0 to 100")
                .clicked()
            {
                *picked = Some(entity.entity);
            }
        }
    });
}

fn score_color(score: u8) -> egui::Color32 {
    match score {
        90.. => OK_TEXT,
        70..90 => WARN_TEXT,
        _ => FAIL_TEXT,
    }
}

/// The entity's findings: a bar per kind, then each with its examples.
fn findings_ui(ui: &mut egui::Ui, audited: &EntityAudit) {
    ui.label(theme::bold(format!(
        "{}: score {}",
        audited.entity.title(),
        audited.score
    )));
    if audited.findings.is_empty() {
        ui.label(RichText::new("✔ Nothing found: every record passes every check.").color(OK_TEXT));
        return;
    }
    findings_chart_ui(ui, audited);
    for finding in &audited.findings {
        egui::CollapsingHeader::new(format!(
            "{}: {}",
            finding.kind.describe(),
            theme::thousands(finding.records)
        ))
        .id_salt(("finding", audited.entity.name(), finding.kind.name()))
        .show(ui, |ui| {
            for example in &finding.examples {
                ui.horizontal_wrapped(|ui| {
                    ui.label(theme::bold(&example.shown));
                    ui.weak(&example.detail);
                });
            }
            if finding.records > finding.examples.len() as u64 {
                ui.weak("`pantry-import audit --out findings.xlsx` lists every one");
            }
        });
    }
}

fn findings_chart_ui(ui: &mut egui::Ui, audited: &EntityAudit) {
    let bars: Vec<(String, u64, egui::Color32)> = audited
        .findings
        .iter()
        .map(|f| (f.kind.describe().to_owned(), f.records, kind_color(f.kind)))
        .collect();
    let width = ui.available_width().min(640.0);
    super::verification::bars_ui(ui, ("findings", audited.entity.name()), width, &bars);
}

fn kind_color(kind: FindingKind) -> egui::Color32 {
    match kind {
        FindingKind::Duplicates | FindingKind::NearDuplicates => FAIL_TEXT,
        FindingKind::InvalidEmails | FindingKind::InvalidPhones | FindingKind::UnknownStates => {
            WARN_TEXT
        }
        _ => ACCENT,
    }
}

/// Each duplicate group side by side: the fields that differ, a survivor
/// to pick, and Merge.
fn groups_ui(
    ui: &mut egui::Ui,
    audited: &EntityAudit,
    survivors: &mut HashMap<(Entity, usize), Uuid>,
    busy: bool,
    actions: &mut Vec<Action>,
) {
    if audited.groups.is_empty() {
        return;
    }
    let total: u64 = [FindingKind::Duplicates, FindingKind::NearDuplicates]
        .iter()
        .filter_map(|k| audited.finding(*k))
        .map(|f| f.records)
        .sum();
    ui.add_space(12.0);
    ui.label(theme::bold("Duplicate groups"));
    ui.weak(
        "Merging keeps the record picked: it takes the others' values where its own are empty, \
         every contact, product, deal and activity of theirs moves to it, and they are deleted. \
         Undo puts it all back.",
    );
    for (number, group) in audited.groups.iter().enumerate().take(GROUPS_SHOWN) {
        let entity = audited.entity;
        let picked = survivors
            .get(&(entity, number))
            .copied()
            .or_else(|| group.suggested_survivor().map(|m| m.id));
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(theme::bold(format!(
                    "{} {}",
                    if group.near {
                        "Similar names:"
                    } else {
                        "Same record:"
                    },
                    group.members.first().map_or("", |m| m.shown.as_str())
                )));
                let merge = ui
                    .add_enabled(
                        !busy,
                        egui::Button::new(format!(
                            "Merge {} into the one kept",
                            group.members.len().saturating_sub(1)
                        )),
                    )
                    .on_disabled_hover_text("Wait for the check or change running now");
                if merge.clicked() {
                    actions.push(Action::Health(HealthAction::Merge(entity, number)));
                }
            });
            group_grid_ui(ui, audited, number, group, picked, survivors);
        });
    }
    if audited.groups.len() > GROUPS_SHOWN
        || total > audited.groups.iter().map(|g| g.members.len() as u64).sum()
    {
        ui.weak(format!(
            "{} records are in duplicate groups; the first {GROUPS_SHOWN} groups are shown. \
             Merge these and check again for the next.",
            theme::thousands(total)
        ));
    }
}

/// One group's records in columns, the fields that differ in rows.
fn group_grid_ui(
    ui: &mut egui::Ui,
    audited: &EntityAudit,
    number: usize,
    group: &DuplicateGroup,
    picked: Option<Uuid>,
    survivors: &mut HashMap<(Entity, usize), Uuid>,
) {
    egui::ScrollArea::horizontal()
        .id_salt(("group", audited.entity.name(), number))
        .show(ui, |ui| {
            egui::Grid::new(("group grid", audited.entity.name(), number))
                .striped(true)
                .spacing([18.0, 4.0])
                .show(ui, |ui| {
                    ui.weak("Keep");
                    for member in &group.members {
                        let kept = picked == Some(member.id);
                        if ui.radio(kept, &member.shown).clicked() {
                            survivors.insert((audited.entity, number), member.id);
                        }
                    }
                    ui.end_row();
                    ui.weak("Linked records");
                    for member in &group.members {
                        ui.label(theme::thousands(member.linked));
                    }
                    ui.end_row();
                    ui.weak("Last changed");
                    for member in &group.members {
                        ui.label(&member.updated_at);
                    }
                    ui.end_row();
                    for (field, label) in audited.group_fields.iter().enumerate() {
                        let values: Vec<Option<&str>> = group
                            .members
                            .iter()
                            .map(|m| {
                                m.values
                                    .get(field)
                                    .and_then(|v| v.as_deref())
                                    .filter(|v| !v.trim().is_empty())
                            })
                            .collect();
                        if values.iter().all(|v| *v == values[0]) {
                            continue;
                        }
                        ui.weak(theme::capitalise(&label.to_lowercase()));
                        for value in values {
                            match value {
                                Some(value) => ui.label(value),
                                None => ui.weak("(empty)"),
                            };
                        }
                        ui.end_row();
                    }
                });
        });
}

/// The clean-ups the stored values would take, with examples and Apply.
fn clean_ups_ui(ui: &mut egui::Ui, audited: &EntityAudit, busy: bool, actions: &mut Vec<Action>) {
    if audited.clean_ups.is_empty() {
        return;
    }
    ui.add_space(12.0);
    ui.label(theme::bold("Clean-ups"));
    for clean_up in &audited.clean_ups {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "{}: {} {}",
                clean_up.kind.describe(),
                theme::thousands(clean_up.values),
                if clean_up.values == 1 {
                    "value"
                } else {
                    "values"
                }
            ));
            ui.weak(pantry_core::clean::examples_text(&clean_up.examples, 3));
        });
    }
    let apply = ui
        .add_enabled(
            !busy,
            egui::Button::new(format!("Apply clean-ups to {}", audited.entity.name())),
        )
        .on_hover_text("The originals go to each record's import notes; Undo gives them back");
    if apply.clicked() {
        actions.push(Action::Health(HealthAction::ApplyCleanUps(audited.entity)));
    }
}
