//! "Keep in step": an imported file imported again each time the broker
//! saves it, the passes listed as they happen (the core's
//! [`pantry_core::sync`]). The sync runs as a task on the window's runtime
//! and tells the window through a channel, waking it with
//! `request_repaint`; Stop aborts the task, which drops its connection and
//! so frees the file for another session.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use eframe::egui::{self, RichText};
use pantry_core::database::ConnectionSettings;
use pantry_core::history::UndoTarget;
use pantry_core::sync::watch::FileWatch;
use pantry_core::sync::{PassReport, StopWhen, Sync, SyncEvent, SyncOptions, keep_in_step};

use super::Action;
use super::theme::{self, FAIL_TEXT, OK_TEXT, WARN_TEXT};

/// A save must stay the same this long before it is read (a complete
/// workbook, a fifth of a second).
const SETTLE: Duration = Duration::from_secs(1);

/// What the sync's task tells the window.
enum SyncNews {
    Started { sync: i64, continued: bool },
    Event(SyncEvent),
    Ended(Option<String>),
}

/// Keep in step: start it, stop it, or choose what rows gone from the
/// file do (the sync starts again with the choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAction {
    Start,
    Stop,
    RemoveMissing(bool),
}

/// The file kept in step, and its passes so far.
#[derive(Default)]
pub struct KeepInStep {
    /// The file (shown while it runs and after).
    pub file: Option<PathBuf>,
    /// The sync's number, once started.
    pub sync: Option<i64>,
    /// Whether it went on with an earlier sync of the file.
    pub continued: bool,
    /// Passes, the newest first.
    pub passes: Vec<PassReport>,
    /// A pass is running (a save was seen).
    pub in_pass: bool,
    /// The last word on a save that could not be read yet.
    pub waiting: Option<String>,
    /// Why it stopped, when it stopped by itself.
    pub stopped: Option<String>,
    /// Passes undone.
    pub undone: std::collections::BTreeSet<i32>,
    /// The pass an undo is on its way for.
    pub undoing: Option<i32>,
    /// Whether a pass was asked to be undone (the history's word on it
    /// shows here).
    pub undo_asked: bool,
    /// Soft-delete the records the sync created whose rows leave the file
    /// (kept when it starts again).
    pub remove_missing: bool,
    /// Stop was asked for; the pass under way ends first.
    pub stopping: bool,
    /// Start again once stopped (a choice changed).
    pub restart: bool,
    task: Option<tokio::task::JoinHandle<()>>,
    news: Option<Receiver<SyncNews>>,
    ask_stop: Option<tokio::sync::watch::Sender<bool>>,
}

impl KeepInStep {
    /// Whether a file is being kept in step now.
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Starts keeping `file` in step with the CRM of `settings`, acting
    /// for the CRM user `acting_as` (an e-mail) when one is chosen.
    pub fn start(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        settings: ConnectionSettings,
        (file, acting_as): (PathBuf, Option<String>),
        mut options: SyncOptions,
    ) {
        // Started again (another choice): what runs is cut off; the next
        // start finishes a pass it cut off.
        if let Some(task) = self.task.take() {
            task.abort();
        }
        let before = std::mem::take(self);
        *self = KeepInStep {
            file: Some(file.clone()),
            remove_missing: before.remove_missing,
            ..KeepInStep::default()
        };
        if before.file.as_ref() == Some(&file) {
            // The same file started again: its passes so far stay listed
            // (until it turns out to be another sync).
            self.sync = before.sync;
            self.passes = before.passes;
            self.undone = before.undone;
        }
        options.remove_missing = self.remove_missing;
        let (sender, news) = channel();
        let ctx = ctx.clone();
        self.news = Some(news);
        let (ask_stop, asked) = tokio::sync::watch::channel(false);
        self.ask_stop = Some(ask_stop);
        self.task = Some(runtime.spawn(async move {
            let tell = |news: SyncNews| {
                let _ = sender.send(news);
                ctx.request_repaint();
            };
            let ended = run(
                &settings,
                (file, acting_as),
                options,
                asked,
                (&sender, &ctx),
            )
            .await
            .err();
            tell(SyncNews::Ended(ended));
        }));
    }

    /// Stops keeping the file in step: at once while it waits for a save,
    /// else once the pass under way ends (so what it wrote is recorded).
    pub fn stop(&mut self) {
        if let Some(ask_stop) = &self.ask_stop {
            let _ = ask_stop.send(true);
            self.stopping = self.is_running();
        }
    }

    /// Whether the sync stopped to start again (a choice changed), once:
    /// the caller starts it.
    pub fn take_restart(&mut self) -> bool {
        let due = self.restart && !self.is_running();
        if due {
            self.restart = false;
        }
        due
    }

    /// An undo finished: `Some` with what it took back when it went
    /// through.
    pub fn undo_finished(&mut self, undone: Option<UndoTarget>) {
        if let (Some(UndoTarget::Pass(sync, pass)), Some(ours)) = (undone, self.sync)
            && sync == ours
        {
            self.undone.insert(pass);
        }
        self.undoing = None;
    }

    /// Takes in what the task said; `true` when a pass ended (the history
    /// changed).
    pub fn poll(&mut self) -> bool {
        let Some(news) = &self.news else {
            return false;
        };
        let mut passed = false;
        while let Ok(item) = news.try_recv() {
            match item {
                SyncNews::Started { sync, continued } => {
                    if self.sync != Some(sync) {
                        self.passes.clear();
                        self.undone.clear();
                    }
                    self.sync = Some(sync);
                    self.continued = continued;
                }
                SyncNews::Event(SyncEvent::Saved) => self.in_pass = true,
                SyncNews::Event(SyncEvent::Pass(report)) => {
                    self.in_pass = false;
                    self.waiting = None;
                    passed = true;
                    self.passes.insert(0, *report);
                }
                SyncNews::Event(SyncEvent::Waiting(why) | SyncEvent::GaveUp(why)) => {
                    self.in_pass = false;
                    self.waiting = Some(why);
                }
                SyncNews::Ended(why) => {
                    self.in_pass = false;
                    self.stopping = false;
                    self.stopped = why;
                    self.task = None;
                }
            }
        }
        passed
    }
}

/// The task: watch, start the sync, and pass at each save.
async fn run(
    settings: &ConnectionSettings,
    (file, acting_as): (PathBuf, Option<String>),
    mut options: SyncOptions,
    asked: tokio::sync::watch::Receiver<bool>,
    (sender, ctx): (&Sender<SyncNews>, &egui::Context),
) -> Result<(), String> {
    if let Some(email) = acting_as {
        // Said before anything starts, as for an import: an unknown user,
        // or a role that cannot act as one.
        let client = settings.connect().await.map_err(|e| e.to_string())?;
        let acting = pantry_core::users::ActingUser::resolve(&client, &email)
            .await
            .map_err(|e| e.to_string())?;
        options.acting = Some(acting);
    }
    let mut watch = FileWatch::new(&file, SETTLE).map_err(|e| e.to_string())?;
    let mut sync = Sync::start(settings, &file, options)
        .await
        .map_err(|e| e.to_string())?;
    let tell = |news: SyncNews| {
        let _ = sender.send(news);
        ctx.request_repaint();
    };
    tell(SyncNews::Started {
        sync: sync.id(),
        continued: sync.continued(),
    });
    let stop = StopWhen {
        passes: None,
        asked,
    };
    keep_in_step(&mut sync, &mut watch, stop, |event| {
        tell(SyncNews::Event(event));
    })
    .await
    .map_err(|e| e.to_string())
}

/// The Keep in step view: what is watched, the passes as they happen with
/// their conflicts and gone rows, each pass undoable.
pub fn keep_in_step_ui(
    ui: &mut egui::Ui,
    state: &KeepInStep,
    undo_message: Option<&str>,
    actions: &mut Vec<Action>,
) {
    ui.add_space(8.0);
    ui.label(theme::bold("Keep in step").size(24.0));
    let Some(file) = &state.file else {
        ui.label(
            "Import a file first; then \"Keep in step\" imports it again each time you save it.",
        );
        return;
    };
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    ui.horizontal_wrapped(|ui| {
        if state.stopping {
            let what = if state.restart {
                "Starting again"
            } else {
                "Stopping"
            };
            ui.label(
                RichText::new(format!("{what} once the pass under way ends ({name})"))
                    .color(WARN_TEXT),
            );
        } else if state.is_running() {
            // No spinner: it would redraw the window all day while it waits.
            ui.label(RichText::new(format!("● Watching {name}")).color(OK_TEXT));
            if ui.button("Stop").clicked() {
                actions.push(Action::KeepInStep(KeepAction::Stop));
            }
        } else {
            ui.label(RichText::new(format!("{name} is not watched")).color(WARN_TEXT));
            if ui.button("Start again").clicked() {
                actions.push(Action::KeepInStep(KeepAction::Start));
            }
        }
    });
    ui.add(
        egui::Label::new(RichText::new(
            "Each time you save the file, its changed rows go into the CRM: rows you did not change are not written. \
             A record changed in the CRM and in the file keeps the CRM's value, and is listed below with both.",
        ).weak())
        .wrap(),
    );
    let mut remove_missing = state.remove_missing;
    if ui
        .checkbox(
            &mut remove_missing,
            "Remove from the CRM the records this sync created when you delete their rows from the file",
        )
        .on_hover_text(
            "Marked deleted, not erased: undoing the pass brings them back. \
             Without it, rows you delete are only listed. Changing this starts the sync again.",
        )
        .changed()
    {
        actions.push(Action::KeepInStep(KeepAction::RemoveMissing(remove_missing)));
    }
    if let Some(sync) = state.sync {
        ui.weak(format!(
            "Sync #{sync}{} · {}",
            if state.continued {
                ", going on from last time"
            } else {
                ""
            },
            file.display()
        ));
    }
    if state.in_pass {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Saved: bringing the changes in…");
        });
    }
    if let Some(waiting) = &state.waiting {
        ui.add(egui::Label::new(RichText::new(format!("… {waiting}")).color(WARN_TEXT)).wrap());
    }
    if let (Some(message), true) = (undo_message, state.undo_asked) {
        let color = if message.starts_with('✖') {
            FAIL_TEXT
        } else {
            OK_TEXT
        };
        ui.add(egui::Label::new(RichText::new(message).color(color)).wrap());
    }
    if let Some(stopped) = &state.stopped {
        ui.add(
            egui::Label::new(RichText::new(format!("✖ Stopped: {stopped}")).color(FAIL_TEXT))
                .wrap(),
        );
    }
    ui.add_space(8.0);
    if state.passes.is_empty() && state.is_running() {
        ui.weak("The first pass is on its way.");
    }
    egui::ScrollArea::vertical().show(ui, |ui| {
        for pass in &state.passes {
            pass_ui(ui, pass, state, actions);
        }
    });
}

/// One pass: when, its counts, its conflicts, gone rows and failures, and
/// its undo.
fn pass_ui(ui: &mut egui::Ui, pass: &PassReport, state: &KeepInStep, actions: &mut Vec<Action>) {
    ui.separator();
    ui.horizontal_wrapped(|ui| {
        ui.label(theme::bold(format!("Pass {}", pass.pass)));
        let color = if pass.failed > 0 || !pass.conflicts.is_empty() {
            WARN_TEXT
        } else {
            OK_TEXT
        };
        let summary = pass.summary();
        let counts = summary
            .split_once(": ")
            .map_or(summary.as_str(), |(_, c)| c);
        ui.label(RichText::new(counts).color(color));
        ui.weak(format!("{:.2} s", pass.seconds));
        if state.undone.contains(&pass.pass) {
            ui.weak("undone");
        } else if state.undoing == Some(pass.pass) {
            ui.weak("undoing…");
        } else if !pass.imports.is_empty()
            && ui
                .small_button("Undo this pass")
                .on_hover_text("Takes back what this save wrote to the CRM")
                .clicked()
        {
            actions.push(Action::Undo(UndoTarget::Pass(pass.sync, pass.pass)));
        }
    });
    for conflict in &pass.conflicts {
        let row = sheet_row(&conflict.sheet, conflict.row);
        ui.label(
            RichText::new(format!("⚠ {row}, {}: {}", conflict.record, conflict.reason))
                .color(WARN_TEXT),
        );
        if conflict.fields.is_empty() {
            // Deleted in the CRM: no field to set side by side.
            continue;
        }
        egui::Grid::new(("conflict", pass.pass, conflict.row, &conflict.sheet))
            .striped(true)
            .show(ui, |ui| {
                ui.weak("field");
                ui.weak("in the CRM (kept)");
                ui.weak("in the file");
                ui.end_row();
                for field in &conflict.fields {
                    ui.label(&field.field);
                    ui.label(theme::bold(&field.crm));
                    ui.label(&field.file);
                    ui.end_row();
                }
            });
    }
    for gone in &pass.gone {
        let what = if gone.removed {
            "removed from the CRM (undo brings it back)"
        } else if gone.deleted_before {
            "gone from the file, and already deleted in the CRM"
        } else {
            "gone from the file, left in the CRM"
        };
        ui.label(format!("↳ {}: {what}", gone.record));
    }
    for failure in pass.failures.iter().take(20) {
        ui.label(
            RichText::new(format!(
                "✖ {}, {}: {}",
                sheet_row(&failure.sheet, failure.row),
                failure.column,
                failure.message
            ))
            .color(FAIL_TEXT),
        );
    }
    if pass.failures.len() > 20 {
        ui.weak(format!(
            "… and {} more failed rows",
            pass.failures.len() - 20
        ));
    }
    for notice in &pass.notices {
        ui.weak(notice);
    }
    if let Some(stopped) = &pass.stopped {
        ui.label(RichText::new(format!("Stopped part way: {stopped}")).color(FAIL_TEXT));
    }
}

/// "Row 4", or "Sheet 'Accounts', row 4" in a workbook.
fn sheet_row(sheet: &str, row: u64) -> String {
    if sheet.is_empty() {
        format!("Row {row}")
    } else {
        format!("Sheet '{sheet}', row {row}")
    }
}

impl super::PantryApp {
    /// Starts keeping the last imported file in step (with the choices it
    /// was imported with: its sheet, entity and mapping; row edits name
    /// rows of that save only, and are not carried on), or stops it.
    pub(crate) fn keep_in_step(&mut self, action: KeepAction) {
        match action {
            KeepAction::Stop => {
                self.keep.stop();
                return;
            }
            KeepAction::RemoveMissing(remove) => {
                self.keep.remove_missing = remove;
                if self.keep.is_running() {
                    // Started again with the choice once the pass under
                    // way (if any) ends: a pass is never cut off.
                    self.keep.restart = true;
                    self.keep.stop();
                }
                return;
            }
            KeepAction::Start => {}
        }
        let settings = match self.connection.settings() {
            Ok(settings) => settings,
            Err(message) => {
                self.error = Some(message);
                return;
            }
        };
        let Some(plan) = self.run.as_ref().map(|run| run.plan.clone()) else {
            return;
        };
        let mut options = SyncOptions {
            links: self
                .file
                .as_ref()
                .map(|f| f.link_policies.clone())
                .unwrap_or_default(),
            ..SyncOptions::default()
        };
        if let (false, Some(sheet)) = (plan.whole_workbook, plan.sheets.first()) {
            options.sheet = sheet.sheet.clone();
            options.entity = sheet.entity;
            options.mapping = sheet.mapping.clone();
        }
        let acting_as = self.crm_users.acting_as.clone();
        self.keep.start(
            &self.runtime,
            &self.ctx,
            settings,
            (plan.file, acting_as),
            options,
        );
        self.view = super::View::KeepInStep;
    }
}
