//! The CRM's users in the Import card: who the import acts for ("Import
//! as"), and the Managers card, where each manager name of the sheet shows
//! the user it matches, with a picker to choose another or keep the text.

use std::collections::BTreeMap;

use eframe::egui::{self, RichText};
use pantry_core::database::ConnectionSettings;
use pantry_core::users::{self, UserDirectory, UserMatch};

use super::Action;
use super::task::{self, Task};
use super::theme::{self, OK_TEXT, WARN_TEXT};

/// The connected CRM's users, once read, and the one the import acts for.
#[derive(Default)]
pub struct CrmUsersState {
    task: Option<Task<Vec<users::CrmUser>>>,
    /// The users, by name and e-mail.
    pub directory: Option<UserDirectory>,
    /// Why they could not be read.
    pub error: Option<String>,
    /// The e-mail of the user imports act for (`None`: nobody; created_by
    /// stays empty).
    pub acting_as: Option<String>,
}

impl CrmUsersState {
    /// Reads the users of the database of `settings` in the background.
    pub fn load(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        settings: ConnectionSettings,
    ) {
        self.directory = None;
        self.error = None;
        self.task = Some(task::spawn(runtime, ctx, async move {
            let client = settings.connect().await.map_err(|e| e.to_string())?;
            let (_, list) = users::list_users(&client)
                .await
                .map_err(|e| e.to_string())?;
            Ok(list)
        }));
    }

    /// Picks up the users once read.
    pub fn poll(&mut self) {
        match task::take_ready(&mut self.task) {
            Some(Ok(list)) => {
                // A user chosen for another database is nobody here.
                let directory = UserDirectory::new(list);
                if let Some(email) = &self.acting_as
                    && directory.by_email(email).is_none()
                {
                    self.acting_as = None;
                }
                self.directory = Some(directory);
            }
            Some(Err(message)) => self.error = Some(message),
            None => {}
        }
    }

    /// Forgets the users of another database.
    pub fn forget(&mut self) {
        *self = CrmUsersState::default();
    }
}

/// "Import as: Dana Whitfield <dana@broker.com> ▾".
pub fn import_as_ui(ui: &mut egui::Ui, state: &CrmUsersState, actions: &mut Vec<Action>) {
    let Some(directory) = state.directory.as_ref().filter(|d| !d.users().is_empty()) else {
        return;
    };
    let nobody = "nobody (created_by left empty)";
    let shown = state
        .acting_as
        .as_deref()
        .and_then(|email| directory.by_email(email))
        .map_or_else(|| nobody.to_owned(), users::CrmUser::describe);
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(theme::bold("Import as:"));
        egui::ComboBox::from_id_salt("import-as")
            .selected_text(shown)
            .width(260.0)
            .truncate()
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(state.acting_as.is_none(), nobody)
                    .clicked()
                {
                    actions.push(Action::SetActingUser(None));
                }
                for user in directory.users() {
                    let chosen = state.acting_as.as_deref() == Some(user.email.as_str());
                    if ui.selectable_label(chosen, user.describe()).clicked() && !chosen {
                        actions.push(Action::SetActingUser(Some(user.email.clone())));
                    }
                }
            })
            .response
            .labelled_by(label.id)
            .on_hover_text(
                "The CRM user the import acts for: created_by and updated_by of every row it \
                 writes, and on a Supabase database the CRM's row-level security decides what \
                 this user may write",
            );
    });
}

/// The Managers card: each manager name of the sheet, its row count and
/// the user it stands for, with a picker. `chosen` is the mapping's
/// `users` (name → e-mail, empty to keep the text).
pub fn managers_card_ui(
    ui: &mut egui::Ui,
    directory: &UserDirectory,
    names: &[(String, u64)],
    chosen: &BTreeMap<String, String>,
    actions: &mut Vec<Action>,
) {
    if names.is_empty() {
        return;
    }
    ui.label(theme::bold(format!("Managers ({})", names.len())))
        .on_hover_text(
            "Account manager names become CRM users: the user's id is stored beside the name, \
             which is kept as written",
        );
    let rules = BTreeMap::new();
    // The pickers stay inside the panel, their text cut short (whole on
    // hover in the list), so the panel never grows under the preview.
    let picker_width = (ui.available_width() * 0.58).max(120.0);
    egui::Grid::new("managers")
        .num_columns(2)
        .spacing([8.0, 4.0])
        .show(ui, |ui| {
            for (name, rows) in names {
                let written = ui.label(format!(
                    "'{name}' · {} row{}",
                    theme::thousands(*rows),
                    if *rows == 1 { "" } else { "s" }
                ));
                let by_rules = directory.find(name, &rules);
                let now = directory.find(name, chosen);
                let shown = match &now {
                    UserMatch::User { user } if chosen.contains_key(name) => {
                        RichText::new(format!("→ {} (your choice)", user.describe()))
                            .color(theme::ACCENT)
                    }
                    UserMatch::User { user } => {
                        RichText::new(format!("→ {}", user.describe())).color(OK_TEXT)
                    }
                    UserMatch::KeptAsText => {
                        RichText::new("→ kept as text (your choice)").italics()
                    }
                    UserMatch::Several { candidates } => {
                        RichText::new(format!("→ {} users fit: kept as text", candidates.len()))
                            .color(WARN_TEXT)
                    }
                    UserMatch::NoUser { .. } => {
                        RichText::new("→ no user: kept as text").color(WARN_TEXT)
                    }
                };
                egui::ComboBox::from_id_salt(("manager", name.as_str()))
                    .width(picker_width)
                    .truncate()
                    .selected_text(shown)
                    .show_ui(ui, |ui| {
                        let automatic = format!(
                            "as the rules say: {}",
                            by_rules.user().map_or_else(
                                || "kept as text".to_owned(),
                                users::CrmUser::describe
                            )
                        );
                        if ui
                            .selectable_label(!chosen.contains_key(name), automatic)
                            .clicked()
                        {
                            actions.push(Action::PickUser(name.clone(), None));
                        }
                        if ui
                            .selectable_label(
                                chosen.get(name).is_some_and(String::is_empty),
                                "keep as text (no user)",
                            )
                            .clicked()
                        {
                            actions.push(Action::PickUser(name.clone(), Some(String::new())));
                        }
                        for user in directory.users() {
                            let this = chosen.get(name) == Some(&user.email);
                            if ui.selectable_label(this, user.describe()).clicked() && !this {
                                actions
                                    .push(Action::PickUser(name.clone(), Some(user.email.clone())));
                            }
                        }
                    })
                    .response
                    .labelled_by(written.id);
                ui.end_row();
            }
        });
}
