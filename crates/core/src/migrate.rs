//! The CRM schema in `migrations/`, embedded in the binary and applied with
//! refinery, which records each applied file (and its checksum) in
//! `refinery_schema_history` and skips it next time.

use crate::database::{ConnectError, ConnectionSettings};

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// No connection.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A migration failed; nothing of it was kept.
    #[error("the schema migration failed: {0}")]
    Failed(String),
}

/// Applies every migration not yet applied; returns the names of those
/// applied now (empty when the database was already up to date).
pub async fn migrate(settings: &ConnectionSettings) -> Result<Vec<String>, MigrateError> {
    let mut client = settings.connect().await?;
    let report = embedded::migrations::runner()
        .run_async(&mut client)
        .await
        .map_err(|e| MigrateError::Failed(describe(&e)))?;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| format!("V{}__{}", m.version(), m.name()))
        .collect())
}

fn describe(error: &refinery::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
