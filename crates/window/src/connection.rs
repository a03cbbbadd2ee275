//! The connection form: a URL or separate fields, TLS mode, "Test
//! connection" that says plainly what is wrong, and creating the CRM tables
//! when they are missing. Remembered between runs without the password.

use eframe::egui::{self, RichText};
use pantry_core::database::{ConnectionSettings, TlsMode, without_password};
use pantry_core::entity::Entity;
use pantry_core::import::{ImportError, ensure_schema};
use pantry_core::migrate::migrate;
use serde::{Deserialize, Serialize};

use super::Action;
use super::task::{self, Task};
use super::theme::{self, FAIL_TEXT, OK_TEXT, WARN_TEXT};

/// What "Test connection" found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ConnectionStatus {
    #[default]
    Untested,
    Testing,
    Migrating,
    Ready(String),
    NeedsMigration(String),
    Failed(String),
}

/// What is written to the settings file: never the password.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RememberedConnection {
    pub use_url: bool,
    pub url: String,
    pub host: String,
    pub port: String,
    pub database: String,
    pub user: String,
    pub tls: TlsMode,
}

/// The form as the broker fills it.
pub struct ConnectionForm {
    pub use_url: bool,
    pub url: String,
    pub host: String,
    pub port: String,
    pub database: String,
    pub user: String,
    pub password: String,
    pub tls: TlsMode,
    pub status: ConnectionStatus,
    check: Option<Task<ConnectionStatus>>,
}

impl Default for ConnectionForm {
    fn default() -> Self {
        ConnectionForm::from(RememberedConnection {
            use_url: false,
            url: String::new(),
            host: "localhost".to_owned(),
            port: "5432".to_owned(),
            database: "postgres".to_owned(),
            user: "postgres".to_owned(),
            tls: TlsMode::Prefer,
        })
    }
}

impl From<RememberedConnection> for ConnectionForm {
    fn from(saved: RememberedConnection) -> Self {
        ConnectionForm {
            use_url: saved.use_url,
            url: saved.url,
            host: saved.host,
            port: saved.port,
            database: saved.database,
            user: saved.user,
            password: String::new(),
            tls: saved.tls,
            status: ConnectionStatus::Untested,
            check: None,
        }
    }
}

impl ConnectionForm {
    /// Fills the form from a URL (as from `DATABASE_URL`).
    pub fn fill_from_url(&mut self, url: &str) {
        self.use_url = true;
        self.url = url.trim().to_owned();
        self.status = ConnectionStatus::Untested;
    }

    /// Copies host, port, database, user and TLS mode from the connection
    /// string into the fields, when it can be read.
    pub fn fill_fields_from_url(&mut self) {
        if let Ok(settings) = ConnectionSettings::parse(&self.url) {
            self.host = settings.host();
            self.port = settings.port().to_string();
            self.database = settings.database().to_owned();
            self.user = settings.user().to_owned();
            self.tls = settings.tls();
        }
    }

    /// What to remember: the form without its password.
    pub fn remembered(&self) -> RememberedConnection {
        RememberedConnection {
            use_url: self.use_url,
            url: without_password(&self.url),
            host: self.host.clone(),
            port: self.port.clone(),
            database: self.database.clone(),
            user: self.user.clone(),
            tls: self.tls,
        }
    }

    /// Everything the broker can type, to notice an edit (which makes the
    /// last test's answer stale).
    fn typed(&self) -> (bool, [String; 6], TlsMode) {
        (
            self.use_url,
            [
                self.url.clone(),
                self.host.clone(),
                self.port.clone(),
                self.database.clone(),
                self.user.clone(),
                self.password.clone(),
            ],
            self.tls,
        )
    }

    /// Whether the last test connected to a migrated CRM.
    pub fn is_verified(&self) -> bool {
        matches!(self.status, ConnectionStatus::Ready(_))
    }

    /// The settings the form describes, or what is wrong with it.
    pub fn settings(&self) -> Result<ConnectionSettings, String> {
        let mut settings = if self.use_url {
            if self.url.trim().is_empty() {
                return Err(
                    "Paste the database's connection string (postgres://…) first.".to_owned(),
                );
            }
            let mut settings = ConnectionSettings::parse(&self.url)
                .map_err(|e| theme::capitalise(&e.to_string()))?;
            if !self.password.is_empty() && !settings.has_password() {
                settings.set_password(&self.password);
            }
            settings
        } else {
            let port = self.port.trim().parse::<u16>().map_err(|_| {
                format!(
                    "The port '{}' is not a number between 1 and 65535.",
                    self.port.trim()
                )
            })?;
            if self.host.trim().is_empty() {
                return Err("Enter the database server's host name.".to_owned());
            }
            ConnectionSettings::from_parts(
                &self.host,
                port,
                &self.database,
                &self.user,
                &self.password,
                self.tls,
            )
        };
        // Supabase only accepts encrypted connections.
        if settings.host().contains("supabase.") && settings.tls() == TlsMode::Prefer {
            settings.set_tls(TlsMode::Require);
        }
        Ok(settings)
    }

    /// Connects in the background and checks the CRM tables are there.
    pub fn test(&mut self, runtime: &tokio::runtime::Runtime, ctx: &egui::Context) {
        self.run_check(runtime, ctx, false);
    }

    /// Creates (or updates) the CRM tables, then tests again.
    pub fn migrate(&mut self, runtime: &tokio::runtime::Runtime, ctx: &egui::Context) {
        self.run_check(runtime, ctx, true);
    }

    fn run_check(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        ctx: &egui::Context,
        migrate_first: bool,
    ) {
        let settings = match self.settings() {
            Ok(settings) => settings,
            Err(message) => {
                self.status = ConnectionStatus::Failed(message);
                return;
            }
        };
        self.check = Some(task::spawn(runtime, ctx, async move {
            Ok(check(&settings, migrate_first).await)
        }));
        self.status = if migrate_first {
            ConnectionStatus::Migrating
        } else {
            ConnectionStatus::Testing
        };
    }

    /// Picks up the answer of a running test.
    pub fn poll(&mut self) {
        match task::take_ready(&mut self.check) {
            Some(Ok(status)) => self.status = status,
            Some(Err(message)) => {
                self.status = ConnectionStatus::Failed(theme::capitalise(&message))
            }
            None => {}
        }
    }
}

async fn check(settings: &ConnectionSettings, migrate_first: bool) -> ConnectionStatus {
    if migrate_first && let Err(error) = migrate(settings).await {
        return ConnectionStatus::Failed(theme::capitalise(&error.to_string()));
    }
    let client = match settings.connect().await {
        Ok(client) => client,
        Err(error) => return ConnectionStatus::Failed(theme::capitalise(&error.to_string())),
    };
    let description = settings.describe();
    for entity in Entity::ALL {
        match ensure_schema(&client, entity).await {
            Ok(()) => {}
            Err(ImportError::NotMigrated { .. }) => {
                return ConnectionStatus::NeedsMigration(description);
            }
            Err(error) => return ConnectionStatus::Failed(theme::capitalise(&error.to_string())),
        }
    }
    ConnectionStatus::Ready(description)
}

/// Draws the form.
pub fn connection_ui(ui: &mut egui::Ui, form: &mut ConnectionForm, actions: &mut Vec<Action>) {
    ui.add_space(8.0);
    ui.label(theme::bold("CRM database").size(17.0));
    ui.weak("The Kitchen Pantry CRM's database: local PostgreSQL or Supabase.");
    ui.add_space(6.0);
    let before = form.typed();
    ui.horizontal(|ui| {
        ui.selectable_value(&mut form.use_url, false, "Host and user");
        ui.selectable_value(&mut form.use_url, true, "Connection string");
    });
    if before.0 && !form.use_url {
        // The same database, field by field (the password stays to be typed).
        form.fill_fields_from_url();
    }
    ui.add_space(4.0);
    if form.use_url {
        url_fields_ui(ui, form);
    } else {
        host_fields_ui(ui, form);
    }
    let after = form.typed();
    if before != after
        && !matches!(
            form.status,
            ConnectionStatus::Testing | ConnectionStatus::Migrating
        )
    {
        form.status = ConnectionStatus::Untested;
    }
    ui.add_space(6.0);
    let busy = matches!(
        form.status,
        ConnectionStatus::Testing | ConnectionStatus::Migrating
    );
    if ui
        .add_enabled(!busy, egui::Button::new("Test connection"))
        .clicked()
    {
        actions.push(Action::TestConnection);
    }
    status_ui(ui, &form.status, actions);
}

/// The connection as one string (the password apart when not in it).
fn url_fields_ui(ui: &mut egui::Ui, form: &mut ConnectionForm) {
    let label = ui.label("Connection string");
    ui.add(
        egui::TextEdit::singleline(&mut form.url)
            .hint_text("postgresql://user:password@host:5432/postgres")
            .desired_width(f32::INFINITY),
    )
    .labelled_by(label.id);
    ui.label(
        RichText::new("For Supabase: Project Settings → Database → Connection string. TLS is required there and turned on for you.")
            .small()
            .weak(),
    );
    ui.horizontal(|ui| {
        field(
            ui,
            "Password",
            egui::TextEdit::singleline(&mut form.password)
                .password(true)
                .hint_text("if not in the string")
                .desired_width(f32::INFINITY),
        );
    });
}

/// The connection field by field.
fn host_fields_ui(ui: &mut egui::Ui, form: &mut ConnectionForm) {
    egui::Grid::new("connection-fields")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            field(
                ui,
                "Host",
                egui::TextEdit::singleline(&mut form.host).desired_width(f32::INFINITY),
            );
            ui.end_row();
            field(
                ui,
                "Port",
                egui::TextEdit::singleline(&mut form.port).desired_width(80.0),
            );
            ui.end_row();
            field(
                ui,
                "Database",
                egui::TextEdit::singleline(&mut form.database).desired_width(f32::INFINITY),
            );
            ui.end_row();
            field(
                ui,
                "User",
                egui::TextEdit::singleline(&mut form.user).desired_width(f32::INFINITY),
            );
            ui.end_row();
            field(
                ui,
                "Password",
                egui::TextEdit::singleline(&mut form.password)
                    .password(true)
                    .desired_width(f32::INFINITY),
            );
            ui.end_row();
            let label = ui.label("TLS");
            egui::ComboBox::from_id_salt("tls")
                .selected_text(tls_label(form.tls))
                .show_ui(ui, |ui| {
                    for mode in TlsMode::ALL {
                        ui.selectable_value(&mut form.tls, mode, tls_label(mode));
                    }
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
        });
}

/// What the last test or migration said.
fn status_ui(ui: &mut egui::Ui, status: &ConnectionStatus, actions: &mut Vec<Action>) {
    match status {
        ConnectionStatus::Untested => {}
        ConnectionStatus::Testing => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Connecting…");
            });
        }
        ConnectionStatus::Migrating => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Creating the CRM tables…");
            });
        }
        ConnectionStatus::Ready(description) => {
            ui.label(RichText::new(format!("✔ Connected: {description}")).color(OK_TEXT));
        }
        ConnectionStatus::NeedsMigration(description) => {
            ui.label(
                RichText::new(format!(
                    "⚠ Connected to {description}, but the CRM tables are not there yet."
                ))
                .color(WARN_TEXT),
            );
            if ui.button("Create the CRM tables").clicked() {
                actions.push(Action::Migrate);
            }
        }
        ConnectionStatus::Failed(message) => {
            ui.add(egui::Label::new(RichText::new(format!("✖ {message}")).color(FAIL_TEXT)).wrap());
        }
    }
}

/// A text field announced by its label, so screen readers name it.
fn field(ui: &mut egui::Ui, label: &str, edit: egui::TextEdit<'_>) {
    let label = ui.label(label);
    ui.add(edit).labelled_by(label.id);
}

fn tls_label(mode: TlsMode) -> &'static str {
    match mode {
        TlsMode::Disable => "Off",
        TlsMode::Prefer => "When offered (prefer)",
        TlsMode::Require => "Required (require)",
        TlsMode::VerifyCa => "Required, check authority (verify-ca)",
        TlsMode::VerifyFull => "Required, check authority and host (verify-full)",
    }
}
