//! What a workbook holds (SPEC.md, "A whole workbook in one run"): which
//! sheet holds which entity, the [`RunPlan`] its recognised sheets make,
//! and what the link columns of its sheets name, in the workbook and in the
//! CRM, before anything is imported.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use crate::entity::{Entity, recognise};
use crate::import::ImportError;
use crate::links::{self, lookup_key, match_name, record_keys};
use crate::mapping::{MappedSheet, Record, Value};
use crate::progress::RunProgress;
use crate::run::{RunPlan, SheetPlan, survey};
use crate::spreadsheet::{FileNotice, ReadError, Spreadsheet};

/// Every sheet of a workbook, in the workbook's order, each with what it is
/// imported as (`None`: not imported) and the broker's choices for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkbookPlan {
    /// The sheets.
    pub sheets: Vec<SheetPlan>,
}

impl WorkbookPlan {
    /// Whether `path` names a workbook (by its extension), so a plan is
    /// worth reading: a text file is always one sheet.
    pub fn may_hold_sheets(path: &Path) -> bool {
        path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            ["xlsx", "xlsm", "xls", "xlsb", "ods"]
                .iter()
                .any(|w| e.eq_ignore_ascii_case(w))
        })
    }

    /// Looks at every sheet's name and header row: a sheet is recognised by
    /// its name ("Accounts", "People") or by at least two of its headers. A
    /// CSV file is one sheet with no name.
    pub fn read(path: &Path) -> Result<WorkbookPlan, ReadError> {
        let first = Spreadsheet::open(path, None)?;
        let names = first.sheet_names().to_vec();
        let mut sheets = vec![planned(&first)];
        if names.len() < 2 {
            return Ok(WorkbookPlan { sheets });
        }
        drop(first);
        sheets.extend(names.into_iter().skip(1).map(|name| {
            match Spreadsheet::open(path, Some(&name)) {
                Ok(spreadsheet) => planned(&spreadsheet),
                // A sheet that cannot be read (an empty one) holds nothing to import.
                Err(_) => SheetPlan {
                    header_row: 1,
                    ..SheetPlan::new(Some(name), None)
                },
            }
        }));
        Ok(WorkbookPlan { sheets })
    }

    /// The sheets to import, in dependency order (organizations, contacts,
    /// products, opportunities, interactions; workbook order within one).
    pub fn import_order(&self) -> Vec<(String, Entity)> {
        self.imported()
            .filter_map(|s| Some((s.sheet.clone().unwrap_or_default(), s.entity?)))
            .collect()
    }

    fn imported(&self) -> impl Iterator<Item = &SheetPlan> {
        let mut sheets: Vec<&SheetPlan> =
            self.sheets.iter().filter(|s| s.entity.is_some()).collect();
        sheets.sort_by_key(|s| {
            s.entity
                .and_then(|e| Entity::ALL.iter().position(|a| *a == e))
        });
        sheets.into_iter()
    }

    /// The run of every sheet imported, in dependency order.
    pub fn run_plan(&self, file: &Path) -> RunPlan {
        RunPlan {
            file: file.to_path_buf(),
            sheets: self.imported().cloned().collect(),
            passed_over: self.passed_over(),
            whole_workbook: true,
        }
    }

    /// The plan of the sheet named `name`.
    pub fn sheet(&self, name: &str) -> Option<&SheetPlan> {
        self.sheets
            .iter()
            .find(|s| s.sheet.as_deref() == Some(name))
    }

    /// The plan of the sheet named `name`, to change it.
    pub fn sheet_mut(&mut self, name: &str) -> Option<&mut SheetPlan> {
        self.sheets
            .iter_mut()
            .find(|s| s.sheet.as_deref() == Some(name))
    }

    /// The sheets left out.
    pub fn passed_over(&self) -> Vec<String> {
        self.sheets
            .iter()
            .filter(|s| s.entity.is_none())
            .filter_map(|s| s.sheet.clone())
            .collect()
    }

    /// Whether the file is a run of several sheets rather than one sheet.
    pub fn is_run(&self) -> bool {
        self.sheets.iter().filter(|s| s.entity.is_some()).count() >= 2
    }
}

/// The plan of one sheet as its name and header row show it.
fn planned(spreadsheet: &Spreadsheet) -> SheetPlan {
    SheetPlan {
        headers: spreadsheet.headers().to_vec(),
        header_row: spreadsheet.header_row(),
        ..SheetPlan::new(
            spreadsheet.sheet().map(str::to_owned),
            recognise(spreadsheet.name_hint(), spreadsheet.headers()).map(|(e, _)| e),
        )
    }
}

/// What a check of a workbook learns of its link columns, sheet by sheet:
/// the records each entity's sheets would store (by the keys a later sheet
/// may name them by), and per link column what it names.
#[derive(Default)]
pub(crate) struct WorkbookLinks {
    /// Per entity, the keys of the records its sheets would store, and
    /// those sheets.
    known: HashMap<Entity, (HashSet<String>, Vec<String>)>,
    summaries: Vec<LinkColumnSummary>,
}

/// One sheet's link columns while it is checked.
pub(crate) struct SheetLinks {
    sheet: String,
    entity: Entity,
    /// Per link column: the field, what it names, its header, its tally.
    columns: Vec<(&'static str, Entity, String, LinkTally)>,
    /// Keys of the sheet's own records.
    own_keys: HashSet<String>,
}

impl WorkbookLinks {
    /// Starts tallying the link columns of an opened sheet.
    pub(crate) fn sheet(&self, mapped: &MappedSheet, sheet: String) -> SheetLinks {
        let columns = mapped.columns();
        SheetLinks {
            sheet,
            entity: mapped.entity(),
            columns: mapped
                .entity()
                .description()
                .fields
                .iter()
                .filter_map(|f| f.link().map(|target| (f, target.entity)))
                .filter_map(|(f, target)| {
                    columns
                        .column_of_field(f.column)
                        .map(|c| (f.column, target, columns.label(c), LinkTally::default()))
                })
                .collect(),
            own_keys: HashSet::new(),
        }
    }

    /// Counts the names one record's link cells give.
    pub(crate) fn tally(&self, sheet: &mut SheetLinks, record: &Record) {
        sheet.own_keys.extend(record_keys(record));
        for (column, target, _, tally) in &mut sheet.columns {
            let Some(Value::LinkName(name)) = record.get(column) else {
                continue;
            };
            if self
                .known
                .get(target)
                .is_some_and(|(keys, _)| keys.contains(&match_name(*target, name)))
            {
                tally.in_workbook += 1;
            } else {
                tally
                    .elsewhere
                    .entry(lookup_key(*target, name))
                    .or_insert_with(|| (name.clone(), 0))
                    .1 += 1;
            }
        }
    }

    /// Ends a sheet: what its link columns named, as notices, and its
    /// records known to the sheets after it.
    pub(crate) fn finish(&mut self, sheet: SheetLinks) -> Vec<FileNotice> {
        let mut notices = Vec::new();
        for (field, target, label, tally) in sheet.columns {
            let sheets_of_target = self.known.get(&target).map(|(_, s)| s.as_slice());
            notices.extend(link_notice(&label, target, sheets_of_target, &tally));
            self.summaries.push(LinkColumnSummary {
                sheet: sheet.sheet.clone(),
                entity: sheet.entity,
                column: label,
                field,
                target,
                in_workbook: tally.in_workbook,
                in_crm: 0,
                ambiguous: Vec::new(),
                not_found: tally
                    .elsewhere
                    .into_values()
                    .map(|(name, cells)| LinkName {
                        name,
                        cells,
                        candidates: Vec::new(),
                        ids: Vec::new(),
                    })
                    .collect(),
            });
        }
        let entry = self.known.entry(sheet.entity).or_default();
        entry.0.extend(sheet.own_keys);
        entry.1.push(sheet.sheet);
        notices
    }

    /// Every link column's summary, sheet by sheet.
    pub(crate) fn into_summaries(self) -> Vec<LinkColumnSummary> {
        self.summaries
    }
}

/// What a check says of one link column: how many cells name a record of
/// the workbook, and which names must wait for the CRM.
fn link_notice(
    label: &str,
    target: Entity,
    sheets: Option<&[String]>,
    tally: &LinkTally,
) -> Option<FileNotice> {
    let elsewhere: u64 = tally.elsewhere.values().map(|(_, n)| n).sum();
    if tally.in_workbook == 0 && elsewhere == 0 {
        return None;
    }
    let examples: Vec<String> = tally
        .elsewhere
        .values()
        .take(5)
        .map(|(name, _)| format!("'{name}'"))
        .collect();
    let more = tally.elsewhere.len().saturating_sub(examples.len());
    let listed = if more > 0 {
        format!("{} and {more} more", examples.join(", "))
    } else {
        examples.join(", ")
    };
    let message = match sheets {
        Some(sheets) => {
            let sheets = sheets
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ");
            if elsewhere == 0 {
                format!(
                    "'{label}': every name is one of the {} of this workbook ({sheets})",
                    target.name()
                )
            } else {
                format!(
                    "'{label}': {} cells name {} of this workbook ({sheets}); {elsewhere} name {} it lacks, looked up in the CRM when importing: {listed}",
                    tally.in_workbook,
                    target.name(),
                    target.name()
                )
            }
        }
        None => format!(
            "'{label}': the workbook has no sheet of {}, so its {} names are looked up in the CRM when importing",
            target.name(),
            tally.elsewhere.len()
        ),
    };
    Some(FileNotice { row: None, message })
}

/// What the link cells of one column of a checked sheet named.
#[derive(Default)]
struct LinkTally {
    /// Cells naming a record of an earlier sheet of the workbook.
    in_workbook: u64,
    /// Names found in no earlier sheet, by key: as written, and how often.
    elsewhere: BTreeMap<String, (String, u64)>,
}

/// A name of a link column and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkName {
    /// As the sheet writes it (its first spelling).
    pub name: String,
    /// Cells that name it.
    pub cells: u64,
    /// Ambiguous: the records it matches. Not found: the closest names.
    pub candidates: Vec<String>,
    /// Ambiguous: the keys of the records in `candidates`, to pick one
    /// ([`crate::links::LinkPolicies::picked`]).
    pub ids: Vec<uuid::Uuid>,
}

/// What one link column of a workbook's sheet names, before import: the
/// preview's links summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkColumnSummary {
    /// The sheet.
    pub sheet: String,
    /// What the sheet's rows are.
    pub entity: Entity,
    /// The column's header.
    pub column: String,
    /// The field it fills (`organization_id`).
    pub field: &'static str,
    /// What it names.
    pub target: Entity,
    /// Cells naming a record of an earlier sheet of the workbook.
    pub in_workbook: u64,
    /// Cells naming exactly one live record of the CRM.
    pub in_crm: u64,
    /// Names matching several records of the CRM.
    pub ambiguous: Vec<LinkName>,
    /// Names found in neither (without a CRM: not in the workbook).
    pub not_found: Vec<LinkName>,
}

impl LinkColumnSummary {
    /// Cells whose name was found nowhere.
    pub fn not_found_cells(&self) -> u64 {
        self.not_found.iter().map(|n| n.cells).sum()
    }

    /// Cells whose name matches several records.
    pub fn ambiguous_cells(&self) -> u64 {
        self.ambiguous.iter().map(|n| n.cells).sum()
    }
}

/// Names of a not-found list given their closest CRM names (each costs a
/// scan of the names sharing its first letters).
const CLOSEST_LOOKUPS: usize = 10;

/// The links summary of `plan`'s sheets against the CRM behind `client`:
/// per link column, cells naming a record of the workbook, of the CRM, of
/// several CRM records, or of none (with the closest CRM names). The
/// workbook is read once; the CRM is asked once per column, in bulk.
pub async fn link_summary(
    plan: &RunPlan,
    client: &tokio_postgres::Client,
) -> Result<Vec<LinkColumnSummary>, ImportError> {
    let open_plan = plan.clone();
    let mut summaries = tokio::task::spawn_blocking(move || {
        let progress = RunProgress::new(&open_plan, None);
        survey(&open_plan, &progress).map(|(_, summaries)| summaries)
    })
    .await??;
    for summary in &mut summaries {
        let keys: Vec<String> = summary
            .not_found
            .iter()
            .map(|n| lookup_key(summary.target, &n.name))
            .collect();
        let found = links::crm_matches(client, summary.target, &keys).await?;
        let mut not_found = Vec::new();
        for (mut name, key) in std::mem::take(&mut summary.not_found).into_iter().zip(keys) {
            match found.get(&key).map(Vec::as_slice) {
                Some([_]) => summary.in_crm += name.cells,
                Some(several) if several.len() > 1 => {
                    (name.ids, name.candidates) = several.iter().cloned().unzip();
                    summary.ambiguous.push(name);
                }
                _ => not_found.push(name),
            }
        }
        for name in not_found.iter_mut().take(CLOSEST_LOOKUPS) {
            name.candidates = links::closest_names(client, summary.target, &name.name, 3).await?;
        }
        summary.not_found = not_found;
    }
    Ok(summaries)
}
