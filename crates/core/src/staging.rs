//! The two places a batch goes ([`crate::pipeline::BatchSink`]): the CRM's
//! table, straight or through the staging table that matches rows against
//! records already there ([`LoadSink`]); or the staging table alone, matched
//! and rolled back, for the look before an import ([`ScanSink`]).
//!
//! Both copy the batch into `pantry_stage` and match it with the entity's
//! [`StagedStatements`], each row one index probe; what follows differs:
//! an import inserts, updates and records what it did in one transaction,
//! a scan reads what matched and leaves nothing behind.

use futures_util::SinkExt;
use tokio_postgres::types::{ToSql, Type};

use crate::copy_format::{ReadyBatch, copy_statement};
use crate::database::database_reason;
use crate::duplicates::{
    DuplicatePolicy, MatchAction, MatchedRow, StagedStatements, match_message,
};
use crate::entity::{Entity, EntityDescription};
use crate::history;
use crate::import::ImportError;
use crate::mapping::RowIssue;
use crate::pipeline::{BatchResult, BatchSink};
use crate::scan::{CrmMatch, FieldComparison};
use crate::users::ActingUser;

/// Plans that reach every record through an index condition, whatever the
/// table's statistics say: a table loaded by a running import looks empty
/// to the planner, which then reads every record for every row (two
/// imports at once took minutes per batch). JIT off: a plan with a path
/// turned off costs over `jit_above_cost`, and compiling each statement
/// took 0.1-0.4 s for a batch of a few rows (a workbook's repeat import took
/// 4.6 s instead of 0.2 s).
const INDEX_PROBES_ONLY: &str =
    "SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off; SET LOCAL jit = off";

/// Sends the rows `rows` of `batch` into a COPY that was just started,
/// without ending it.
async fn feed(
    sink: std::pin::Pin<&mut tokio_postgres::CopyInSink<bytes::Bytes>>,
    batch: &ReadyBatch,
    rows: std::ops::Range<usize>,
) -> Result<(), tokio_postgres::Error> {
    let mut sink = sink;
    let [header, tuples, trailer] = batch.payload(rows);
    sink.feed(header).await?;
    sink.feed(tuples).await?;
    sink.send(trailer).await
}

/// How an import matches its rows against the CRM.
pub(crate) struct Matching {
    statements: StagedStatements,
    policy: DuplicatePolicy,
    /// Rows the broker decided for, and their policies.
    chosen_rows: Vec<i32>,
    chosen_policies: Vec<String>,
    /// Whether the CRM held live records of the entity (other than this
    /// import's) when the import started; if not, and no other import of
    /// the entity has run since, a batch goes straight into the table.
    live_before: bool,
    entity: Entity,
    /// Every batch goes through the staging table: under row-level
    /// security, which PostgreSQL's COPY into the table does not support.
    through_stage: bool,
}

impl Matching {
    /// How rows of `description`'s entity are matched under `policy` and
    /// the broker's choices per row; `None` when every row is created (the
    /// policy is create, and no row was decided otherwise) and nothing
    /// needs the staging table (`through_stage`).
    pub(crate) fn new(
        description: &'static EntityDescription,
        policy: DuplicatePolicy,
        choices: &std::collections::BTreeMap<u64, DuplicatePolicy>,
        (live_before, through_stage): (bool, bool),
    ) -> Option<Matching> {
        if policy == DuplicatePolicy::Create
            && choices.values().all(|p| *p == policy)
            && !through_stage
        {
            return None;
        }
        Some(Matching {
            statements: StagedStatements::new(description),
            policy,
            chosen_rows: choices
                .keys()
                .map(|row| i32::try_from(*row).unwrap_or(i32::MAX))
                .collect(),
            chosen_policies: choices.values().map(|p| p.as_str().to_owned()).collect(),
            live_before,
            entity: description.entity,
            through_stage,
        })
    }
}

/// A row the staging table matched, as the database reports it: row,
/// action, the records, how they show.
type StagedMatch = (i32, String, Vec<uuid::Uuid>, Vec<String>);

/// The import's loader: each batch into the entity's table, straight or
/// through the staging table, in its own transaction with the import's
/// counts.
pub(crate) struct LoadSink<'a> {
    pub client: &'a tokio_postgres::Client,
    /// COPY into the entity's table.
    pub statement: String,
    /// `None` when nothing is matched (the policy is create, row by row too).
    pub matching: Option<Matching>,
    pub import_id: i64,
    /// The CRM user each batch acts for.
    pub acting: Option<&'a ActingUser>,
}

impl<'a> LoadSink<'a> {
    /// The same loader, acting for `acting` in each batch.
    pub(crate) fn acting(self, acting: Option<&'a ActingUser>) -> LoadSink<'a> {
        LoadSink { acting, ..self }
    }

    /// The loader of `description`'s rows for the import `import_id`.
    pub(crate) fn new(
        client: &'a tokio_postgres::Client,
        description: &'static EntityDescription,
        matching: Option<Matching>,
        import_id: i64,
    ) -> LoadSink<'a> {
        LoadSink {
            client,
            statement: copy_statement(description),
            matching,
            import_id,
            acting: None,
        }
    }
}

impl BatchSink for LoadSink<'_> {
    /// Loads one batch. A batch the database refuses is split in halves
    /// until the refused rows stand alone, so only they fail, each with the
    /// database's reason. A broken connection, or a refusal of the whole
    /// import (such as a missing privilege), ends the import. `unlinked`
    /// rows of the batch are added to the history's count with the refusals.
    async fn load(&mut self, batch: ReadyBatch, unlinked: u64) -> Result<BatchResult, ImportError> {
        let mut result = BatchResult::default();
        let mut pending = Vec::new();
        if !batch.is_empty() {
            pending.push(0..batch.len());
        }
        let entity = self
            .matching
            .as_ref()
            .map_or(Entity::Organizations, |m| m.entity);
        while let Some(rows) = pending.pop() {
            match self.copy_rows(&batch, rows.clone()).await {
                Ok(matches) => {
                    for (row, action, ids, shown) in matches {
                        let row = u64::try_from(row).unwrap_or_default();
                        let message = match_message(&action, &shown, entity.name());
                        match action.as_str() {
                            "ambiguous" => {
                                result
                                    .ambiguous
                                    .push(RowIssue::error(row, String::new(), message))
                            }
                            "forbidden" => result.ambiguous.push(RowIssue::error(
                                row,
                                String::new(),
                                format!(
                                    "Matches '{}' in the CRM, which row-level security does not let {} update; not updated",
                                    shown.first().map_or("", String::as_str),
                                    self.acting.map_or("this user", |a| a.user.email.as_str())
                                ),
                            )),
                            _ => result.matched.push(MatchedRow {
                                row,
                                action: if action == "updated" {
                                    MatchAction::Updated
                                } else {
                                    MatchAction::Skipped
                                },
                                record: ids.first().copied().unwrap_or_default(),
                                message,
                            }),
                        }
                    }
                }
                Err(error) if is_row_refusal(&error) && !self.client.is_closed() => {
                    if rows.len() == 1 {
                        result.refusals.push(RowIssue::error(
                            batch.source_rows()[rows.start],
                            String::new(),
                            format!("The database refused the row: {}", database_reason(&error)),
                        ));
                    } else {
                        let middle = rows.start + rows.len() / 2;
                        // Later half first on the stack so rows settle in order.
                        pending.push(middle..rows.end);
                        pending.push(rows.start..middle);
                    }
                }
                Err(error) => {
                    return Err(
                        match crate::users::row_security_refusal(&error, self.acting, "insert into")
                        {
                            Some(words) => ImportError::RowSecurity(words),
                            None => error.into(),
                        },
                    );
                }
            }
        }
        let failed = result.refusals.len() as u64 + unlinked;
        if failed > 0 {
            history::record_batch(self.client, self.import_id, 0, failed).await?;
        }
        Ok(result)
    }
}

impl LoadSink<'_> {
    /// One transaction: the rows, what they did to matching records, and
    /// the import's counts move together, so the history never disagrees
    /// with the tables. Statements are pipelined so a batch costs three
    /// round trips (each is 30 ms to a far database): BEGIN, the entity's
    /// lock, the look for other imports and the COPY's preparation travel
    /// together; then the COPY; then its end, the matching and the COMMIT
    /// (after a refused statement, PostgreSQL answers that COMMIT with a
    /// rollback). Statements are prepared and the staging table made inside
    /// the transaction, which keeps transaction-mode poolers happy.
    async fn copy_rows(
        &self,
        batch: &ReadyBatch,
        rows: std::ops::Range<usize>,
    ) -> Result<Vec<StagedMatch>, tokio_postgres::Error> {
        let client = self.client;
        let copied = async {
            let Some(matching) = &self.matching else {
                let (begun, entered, prepared) = tokio::join!(
                    client.batch_execute("BEGIN"),
                    ActingUser::enter_if_any(self.acting, client),
                    client.prepare(&self.statement)
                );
                begun?;
                entered?;
                return self.copy_straight(&prepared?, batch, rows).await;
            };
            let entity = matching.entity.name();
            let lock_params: [(&(dyn ToSql + Sync), Type); 1] = [(&entity, Type::TEXT)];
            let table = matching.statements.table;
            let look_params: [(&(dyn ToSql + Sync), Type); 3] = [
                (&entity, Type::TEXT),
                (&self.import_id, Type::INT8),
                (&table, Type::TEXT),
            ];
            // The look is its own statement, after the lock: its snapshot
            // then holds every batch committed under the lock before. It
            // also tells whether the table has more than doubled since the
            // planner's statistics were taken.
            let (begun, entered, locked, others, created, prepared, prepared_stage) = tokio::join!(
                client.batch_execute("BEGIN"),
                ActingUser::enter_if_any(self.acting, client),
                client.query_typed(
                    "SELECT pg_advisory_xact_lock(hashtext('pantry-import ' || $1::text)::bigint)::text",
                    &lock_params,
                ),
                client.query_typed_one(
                    "SELECT EXISTS (SELECT 1 FROM import_batches o WHERE o.entity = $1 AND o.id <> $2 \
                     AND (o.status = 'running' OR o.finished_at >= \
                     (SELECT started_at FROM import_batches WHERE id = $2))), \
                     (SELECT pg_relation_size(c.oid) / current_setting('block_size')::int > 2 * c.relpages + 8 \
                      FROM pg_class c WHERE c.oid = to_regclass($3))",
                    &look_params,
                ),
                client.batch_execute(&matching.statements.create_stage),
                client.prepare(&self.statement),
                client.prepare(&matching.statements.copy_stage),
            );
            begun?;
            entered?;
            locked?;
            created?;
            let others = others?;
            let (grown, others): (Option<bool>, bool) = (others.try_get(1)?, others.try_get(0)?);
            let (direct, stage) = (prepared?, prepared_stage?);
            // Nothing in the CRM to match: straight into the table.
            if !matching.live_before && !others {
                return if matching.through_stage {
                    self.copy_through_stage(matching, &stage, batch, rows).await
                } else {
                    self.copy_straight(&direct, batch, rows).await
                };
            }
            if grown == Some(true) {
                // Another import is filling the table: without new
                // statistics the planner takes it for empty and matches each
                // row by reading every record.
                client.batch_execute(&format!("ANALYZE {table}")).await?;
            }
            self.copy_staged(matching, &stage, batch, rows).await
        }
        .await;
        if copied.is_err() && !client.is_closed() {
            // Leave the connection usable for the next batch or bisection
            // step; the server rolls back a dead session's transaction by itself.
            let _ = client.batch_execute("ROLLBACK").await;
        }
        copied
    }

    /// The COPY of `rows` straight into the entity's table, its count in
    /// the import's history, and the COMMIT: the last two round trips of a
    /// batch.
    async fn copy_straight(
        &self,
        statement: &tokio_postgres::Statement,
        batch: &ReadyBatch,
        rows: std::ops::Range<usize>,
    ) -> Result<Vec<StagedMatch>, tokio_postgres::Error> {
        let count = rows.len() as u64;
        let sink = self.client.copy_in::<_, bytes::Bytes>(statement).await?;
        let mut sink = std::pin::pin!(sink);
        feed(sink.as_mut(), batch, rows).await?;
        let (finished, counted, committed) = tokio::join!(
            sink.as_mut().finish(),
            history::record_batch(self.client, self.import_id, count, 0),
            self.client.batch_execute("COMMIT"),
        );
        finished?;
        counted?;
        committed?;
        Ok(Vec::new())
    }

    /// With nothing to match but the table closed to COPY (row-level
    /// security): the COPY of `rows` into the staging table, one INSERT of
    /// them all, the count and the COMMIT.
    async fn copy_through_stage(
        &self,
        matching: &Matching,
        stage: &tokio_postgres::Statement,
        batch: &ReadyBatch,
        rows: std::ops::Range<usize>,
    ) -> Result<Vec<StagedMatch>, tokio_postgres::Error> {
        let count = rows.len() as u64;
        let sink = self.client.copy_in::<_, bytes::Bytes>(stage).await?;
        let mut sink = std::pin::pin!(sink);
        feed(sink.as_mut(), batch, rows).await?;
        let (finished, inserted, counted, committed) = tokio::join!(
            sink.as_mut().finish(),
            self.client
                .execute_typed(&matching.statements.insert_all, &[]),
            history::record_batch(self.client, self.import_id, count, 0),
            self.client.batch_execute("COMMIT"),
        );
        finished?;
        inserted?;
        counted?;
        committed?;
        Ok(Vec::new())
    }

    /// The COPY of `rows` into the staging table, then in one go: the
    /// matching, the inserts and updates, the record of what matched, the
    /// counts and the COMMIT.
    async fn copy_staged(
        &self,
        matching: &Matching,
        stage: &tokio_postgres::Statement,
        batch: &ReadyBatch,
        rows: std::ops::Range<usize>,
    ) -> Result<Vec<StagedMatch>, tokio_postgres::Error> {
        let client = self.client;
        let sink = client.copy_in::<_, bytes::Bytes>(stage).await?;
        let mut sink = std::pin::pin!(sink);
        feed(sink.as_mut(), batch, rows.clone()).await?;
        let source_rows: Vec<i32> = batch.source_rows()[rows.clone()]
            .iter()
            .map(|r| i32::try_from(*r).unwrap_or(i32::MAX))
            .collect();
        let given = &batch.given()[rows];
        let policy = matching.policy.as_str();
        let statements = &matching.statements;
        let import: [(&(dyn ToSql + Sync), Type); 1] = [(&self.import_id, Type::INT8)];
        let decide: [(&(dyn ToSql + Sync), Type); 3] = [
            (&matching.chosen_rows, Type::INT4_ARRAY),
            (&matching.chosen_policies, Type::TEXT_ARRAY),
            (&policy, Type::TEXT),
        ];
        let update: [(&(dyn ToSql + Sync), Type); 2] =
            [(&source_rows, Type::INT4_ARRAY), (&given, Type::INT8_ARRAY)];
        // Under row-level security an update the policies refuse leaves
        // its record as it was, with no error: such rows are found and
        // said as failed.
        let forbidden = async {
            match self.acting.filter(|a| a.row_level_security) {
                Some(_) => client
                    .execute_typed(&statements.forbidden, &import)
                    .await
                    .map(|_| ()),
                None => Ok(()),
            }
        };
        let (
            finished,
            planned,
            matched,
            decided,
            inserted,
            locked,
            recorded,
            updated,
            refused,
            counted,
            report,
            committed,
        ) = tokio::join!(
            sink.as_mut().finish(),
            client.batch_execute(INDEX_PROBES_ONLY),
            client.execute_typed(&statements.matched, &import),
            client.execute_typed(&statements.decided, &decide),
            client.execute_typed(&statements.insert, &[]),
            client.execute_typed(&statements.lock_updated, &[]),
            client.execute_typed(&statements.record_matches, &import),
            client.execute_typed(&statements.update, &update),
            forbidden,
            client.execute_typed(&statements.counts, &import),
            client.query_typed(&statements.report, &[]),
            client.batch_execute("COMMIT"),
        );
        finished?;
        planned?;
        matched?;
        decided?;
        inserted?;
        locked?;
        recorded?;
        updated?;
        refused?;
        counted?;
        let report = report?;
        committed?;
        report
            .iter()
            .map(|row| {
                Ok((
                    row.try_get(0)?,
                    row.try_get(1)?,
                    row.try_get(2)?,
                    row.try_get(3)?,
                ))
            })
            .collect()
    }
}

/// Whether the database refused the rows themselves (bad data, a constraint,
/// a trigger), as opposed to the whole import (privileges, missing table).
fn is_row_refusal(error: &tokio_postgres::Error) -> bool {
    error.as_db_error().is_some_and(|db| {
        let code = db.code().code();
        // 22 data exception, 23 integrity constraint, P0 raised by a trigger,
        // 54 program limit (a value too large for an index).
        ["22", "23", "P0", "54"]
            .iter()
            .any(|class| code.starts_with(class))
    })
}

/// The read-only look for a file's rows in the CRM: each batch copied into
/// the staging table, matched as an import would match it, and rolled back.
pub(crate) struct ScanSink<'a> {
    pub client: &'a tokio_postgres::Client,
    pub description: &'static EntityDescription,
    pub statements: StagedStatements,
    /// The rows that match, as they are found.
    pub matches: Vec<CrmMatch>,
}

impl BatchSink for ScanSink<'_> {
    async fn load(
        &mut self,
        batch: ReadyBatch,
        _unlinked: u64,
    ) -> Result<BatchResult, ImportError> {
        if batch.is_empty() {
            return Ok(BatchResult::default());
        }
        let stored: Vec<&'static str> =
            self.description.stored_fields().map(|f| f.column).collect();
        for (row, records, file, crm) in self.scan_batch(&batch).await? {
            // Rows are staged in the file's order.
            let Ok(position) = batch.source_rows().binary_search(&row) else {
                continue;
            };
            let given = batch.given()[position];
            let fields = stored
                .iter()
                .enumerate()
                .filter(|(bit, _)| (given >> bit) & 1 == 1)
                .map(|(_, column)| {
                    let text = |json: &serde_json::Value| match &json[*column] {
                        serde_json::Value::Null => String::new(),
                        serde_json::Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    let (crm, file) = (text(&crm), text(&file));
                    FieldComparison {
                        field: column,
                        changes: crate::duplicates::update_writes(
                            self.description,
                            column,
                            &crm,
                            &file,
                        ),
                        crm,
                        file,
                    }
                })
                .collect();
            self.matches.push(CrmMatch {
                row,
                records,
                fields,
            });
        }
        Ok(BatchResult::default())
    }
}

/// One scanned row: its number, the records as they show, the staged row
/// and the first record, as JSON.
type ScannedRow = (u64, Vec<String>, serde_json::Value, serde_json::Value);

impl ScanSink<'_> {
    /// One batch staged, matched, each match's row and record read as JSON,
    /// and rolled back.
    async fn scan_batch(
        &self,
        batch: &ReadyBatch,
    ) -> Result<Vec<ScannedRow>, tokio_postgres::Error> {
        let client = self.client;
        let statements = &self.statements;
        let scanned = async {
            let (begun, created, prepared) = tokio::join!(
                client.batch_execute("BEGIN READ WRITE"),
                client.batch_execute(&statements.create_stage),
                client.prepare(&statements.copy_stage),
            );
            begun?;
            created?;
            let sink = client.copy_in::<_, bytes::Bytes>(&prepared?).await?;
            let mut sink = std::pin::pin!(sink);
            feed(sink.as_mut(), batch, 0..batch.len()).await?;
            let import: i64 = -1;
            let params: [(&(dyn ToSql + Sync), Type); 1] = [(&import, Type::INT8)];
            let (finished, planned, matched, rows) = tokio::join!(
                sink.as_mut().finish(),
                client.batch_execute(INDEX_PROBES_ONLY),
                client.execute_typed(&statements.matched, &params),
                client.query_typed(&statements.scan_report, &[]),
            );
            finished?;
            planned?;
            matched?;
            rows
        }
        .await;
        // Nothing a scan did stays: the staging table goes with the rollback.
        let _ = client.batch_execute("ROLLBACK").await;
        scanned?
            .iter()
            .map(|row| {
                let source: i32 = row.try_get(0)?;
                let json = |i: usize| -> Result<serde_json::Value, tokio_postgres::Error> {
                    Ok(row
                        .try_get::<_, Option<String>>(i)?
                        .and_then(|t| serde_json::from_str(&t).ok())
                        .unwrap_or_default())
                };
                Ok((
                    u64::try_from(source).unwrap_or(0),
                    row.try_get(1)?,
                    json(2)?,
                    json(3)?,
                ))
            })
            .collect()
    }
}
