//! A sheet opened for one entity: the read-map loop that `check`, `import`
//! and the preview run.

use std::path::Path;

use crate::clean::CleanUpTally;
use crate::edits::SheetEdits;
use crate::entity::{Entity, EntityChoice, FieldKind, detect_entity, recognise};
use crate::saved_mapping::SavedMapping;
use crate::spreadsheet::{FileNotice, ReadError, SheetRow, Spreadsheet};
use crate::values::{self, DateOrder};

use super::evidence::{ColumnSamples, SAMPLE_ROWS};
use super::*;

/// A sheet opened for one entity, with its column map, header problems and
/// notices: the one read-map loop behind `check`, `import` and the preview.
#[derive(Debug)]
pub struct MappedSheet {
    spreadsheet: Spreadsheet,
    mapper: RowMapper,
    choice: EntityChoice,
    header_issues: Vec<RowIssue>,
    notices: Vec<FileNotice>,
}

impl MappedSheet {
    /// Opens `path` (its sheet `sheet`, else the first) as `entity`, or as
    /// the entity its sheet name or headers say when `entity` is `None`.
    /// Date columns are looked through once first, for the day-first guess.
    pub fn open(
        path: &Path,
        sheet: Option<&str>,
        entity: Option<Entity>,
    ) -> Result<MappedSheet, ReadError> {
        MappedSheet::open_with(path, sheet, entity, &SavedMapping::default())
    }

    /// As [`MappedSheet::open`], applying a saved mapping: its header row,
    /// its entity (when `entity` is `None`), its column targets and values.
    pub fn open_with(
        path: &Path,
        sheet: Option<&str>,
        entity: Option<Entity>,
        mapping: &SavedMapping,
    ) -> Result<MappedSheet, ReadError> {
        let entity = entity.or_else(|| mapping.entity());
        let (mut spreadsheet, passed_over) = match (sheet, entity, mapping.header_row) {
            (None, None, None) => open_recognised_sheet(path)?,
            _ => (
                Spreadsheet::open_with_header(path, sheet, mapping.header_row)?,
                None,
            ),
        };
        let sheet = spreadsheet.sheet().map(str::to_owned);
        let sheet = sheet.as_deref();
        let (entity, choice) = match entity {
            Some(entity) => (entity, EntityChoice::Given),
            None => detect_entity(spreadsheet.name_hint(), spreadsheet.headers()),
        };
        let headers = spreadsheet.headers().to_vec();
        let samples = ColumnSamples::of(headers.len(), spreadsheet.peek_rows(SAMPLE_ROWS)?);
        let columns = ColumnMap::build(entity, &headers, mapping, &samples);
        let mut mapper = RowMapper::with_columns(columns, &headers, mapping);
        let header_issues = mapper
            .columns()
            .header_issues(spreadsheet.header_row(), spreadsheet.headers());
        let mut notices = spreadsheet.notices().to_vec();
        notices.extend(passed_over);
        notices.extend(mapper.columns().notices().iter().map(|message| FileNotice {
            row: None,
            message: message.clone(),
        }));
        if mapper.columns().splits_full_name() {
            notices.push(FileNotice {
                row: None,
                message: "The sheet has one name column: each name is split at its last space into first and last name ('Mary Ann Smith' is Mary Ann + Smith)".to_owned(),
            });
        }
        let date_fields: Vec<(usize, usize)> = entity
            .description()
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| matches!(f.kind, FieldKind::Date | FieldKind::DateTime))
            .filter_map(|(i, _)| mapper.columns().column_of(i).map(|c| (i, c)))
            .collect();
        if !date_fields.is_empty() {
            let guesses = survey_dates(path, sheet, mapping.header_row, &date_fields)?;
            for ((field, column), survey) in date_fields.iter().zip(guesses) {
                let label = mapper.columns().label(*column);
                if let Some((order, message)) = survey.decide(&label) {
                    mapper.set_date_order(*field, order);
                    notices.push(FileNotice { row: None, message });
                }
            }
        }
        Ok(MappedSheet {
            spreadsheet,
            mapper,
            choice,
            header_issues,
            notices,
        })
    }

    /// Applies the broker's edits to particular rows ([`SheetEdits`]).
    pub fn with_edits(mut self, edits: &SheetEdits) -> MappedSheet {
        self.mapper.set_edits(edits);
        self
    }

    /// Counts the values of enumerated fields that need mapping as the
    /// rows are read ([`ValueTally`]).
    pub fn tally_values(&mut self) {
        self.mapper.tally_values();
    }

    /// Counts what each clean-up kind not applied would change as the rows
    /// are read ([`CleanUpTally`]).
    pub fn suggest_clean_ups(&mut self) {
        self.mapper.suggest_clean_ups();
    }

    /// The clean-ups counted so far, after [`MappedSheet::suggest_clean_ups`].
    pub fn clean_up_tally(&self) -> Option<&CleanUpTally> {
        self.mapper.clean_up_tally()
    }

    /// What reading the rows found to say about the whole sheet, once they
    /// are read: other systems' words translated, one notice each, and the
    /// clean-ups counted, saying how to apply them.
    pub fn read_notices(&self) -> Vec<FileNotice> {
        let translations = self.mapper.translation_notices();
        let clean_ups = self.clean_up_tally().into_iter().flat_map(|tally| {
            tally
                .kinds
                .iter()
                .filter(|(_, count)| count.cells > 0)
                .map(|(kind, count)| kind.suggestion(count))
        });
        translations
            .into_iter()
            .chain(clean_ups)
            .map(|message| FileNotice { row: None, message })
            .collect()
    }

    /// The values counted so far, after [`MappedSheet::tally_values`].
    pub fn value_tally(&self) -> Option<&ValueTally> {
        self.mapper.value_tally()
    }

    /// The entity the rows are read as.
    pub fn entity(&self) -> Entity {
        self.mapper.columns().entity()
    }

    /// Why the sheet is read as that entity.
    pub fn entity_choice(&self) -> EntityChoice {
        self.choice
    }

    /// How the columns are used.
    pub fn columns(&self) -> &ColumnMap {
        self.mapper.columns()
    }

    /// The file being read.
    pub fn spreadsheet(&self) -> &Spreadsheet {
        &self.spreadsheet
    }

    /// Problems of the header row.
    pub fn header_issues(&self) -> &[RowIssue] {
        &self.header_issues
    }

    /// The header problem that stops an import (a required field with no column).
    pub fn fatal_issue(&self) -> Option<&RowIssue> {
        self.header_issues
            .iter()
            .find(|i| i.severity == Severity::Error)
    }

    /// Notes about the whole file: its encoding, guesses made for columns.
    pub fn notices(&self) -> &[FileNotice] {
        &self.notices
    }

    /// A note naming the link columns, whose names only a database can
    /// check: for a check or preview made without one.
    pub fn offline_link_notice(&self) -> Option<FileNotice> {
        let columns = self.columns();
        let named: Vec<String> = self
            .entity()
            .description()
            .fields
            .iter()
            .filter(|f| f.link().is_some())
            .filter_map(|f| columns.column_of_field(f.column))
            .map(|column| format!("'{}'", columns.label(column)))
            .collect();
        (!named.is_empty()).then(|| FileNotice {
            row: None,
            message: format!(
                "The names in {} are looked up in the CRM when importing, not before",
                named.join(", ")
            ),
        })
    }

    /// Reads every row, maps it, and hands both to `each`, which returns
    /// `false` to stop early.
    pub fn map_rows(
        &mut self,
        mut each: impl FnMut(&SheetRow, RowOutcome) -> bool,
    ) -> Result<(), ReadError> {
        let mut row = SheetRow::default();
        while self.spreadsheet.read_row(&mut row)? {
            let outcome = self.mapper.map_row(&row);
            if !each(&row, outcome) {
                break;
            }
        }
        Ok(())
    }
}

/// A workbook's first sheet that holds something recognisable (its name or
/// its headers name an entity), and a notice naming the sheets passed over
/// (a ReadMe, a Lists sheet). When no sheet is recognised, the first.
fn open_recognised_sheet(path: &Path) -> Result<(Spreadsheet, Option<FileNotice>), ReadError> {
    let first = Spreadsheet::open(path, None)?;
    if recognise(first.name_hint(), first.headers()).is_some() || first.sheet_names().len() < 2 {
        return Ok((first, None));
    }
    let names = first.sheet_names().to_vec();
    let mut passed_over = vec![first.sheet().unwrap_or_default().to_owned()];
    for name in names.iter().skip(1) {
        // A sheet that cannot be read (empty, say) is passed over like a ReadMe.
        let Ok(candidate) = Spreadsheet::open(path, Some(name)) else {
            passed_over.push(name.clone());
            continue;
        };
        if recognise(candidate.name_hint(), candidate.headers()).is_some() {
            let notice = FileNotice {
                row: None,
                message: format!(
                    "Opened the sheet '{name}': the sheet{} {} before it hold{} nothing recognisable as accounts, contacts, products, deals or activities",
                    if passed_over.len() == 1 { "" } else { "s" },
                    passed_over
                        .iter()
                        .map(|n| format!("'{n}'"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if passed_over.len() == 1 { "s" } else { "" },
                ),
            };
            return Ok((candidate, Some(notice)));
        }
        passed_over.push(name.clone());
    }
    Ok((first, None))
}

/// What a date column's numeric dates say about their order.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct DateSurvey {
    numeric: u64,
    /// First part over 12, second not: only day-first makes sense.
    day_first_only: u64,
    /// Second part over 12: only month-first makes sense.
    month_first_only: u64,
    /// An example of each, for the notice.
    day_first_example: Option<(u32, u32)>,
    ambiguous_example: Option<(u32, u32)>,
}

impl DateSurvey {
    pub(super) fn add(&mut self, cell: &str) {
        let Some((first, second)) = values::numeric_date_parts(cell.trim()) else {
            return;
        };
        self.numeric += 1;
        if first > 12 && second <= 12 {
            self.day_first_only += 1;
            self.day_first_example.get_or_insert((first, second));
        } else if second > 12 && first <= 12 {
            self.month_first_only += 1;
        } else if first <= 12 && second <= 12 {
            self.ambiguous_example.get_or_insert((first, second));
        }
    }

    /// The order to read the column in, and the notice that says so, when
    /// the column needs one.
    pub(super) fn decide(&self, label: &str) -> Option<(DateOrder, String)> {
        if self.day_first_only > 0 && self.month_first_only == 0 {
            let (day, month) = self.day_first_example.unwrap_or((13, 1));
            return Some((
                DateOrder::DayFirst,
                format!(
                    "The '{label}' column has dates such as {day}/{month} that only make sense day first, so every date in it is read day first (3/4 is 3 April)"
                ),
            ));
        }
        if self.numeric > 0 && self.day_first_only == 0 && self.month_first_only == 0 {
            let (first, second) = self.ambiguous_example.unwrap_or((3, 4));
            return Some((
                DateOrder::MonthFirst,
                format!(
                    "Every date in the '{label}' column (such as {first}/{second}) could be month or day first; they are read month first, as in the US ({first}/{second} is month {first}, day {second})"
                ),
            ));
        }
        None
    }
}

/// Reads the date columns once, for the column-level order guess.
fn survey_dates(
    path: &Path,
    sheet: Option<&str>,
    header_row: Option<u64>,
    columns: &[(usize, usize)],
) -> Result<Vec<DateSurvey>, ReadError> {
    let mut surveys = vec![DateSurvey::default(); columns.len()];
    let mut spreadsheet = Spreadsheet::open_with_header(path, sheet, header_row)?;
    let mut row = SheetRow::default();
    while spreadsheet.read_row(&mut row)? {
        for (survey, (_, column)) in surveys.iter_mut().zip(columns) {
            survey.add(row.get(*column));
        }
    }
    Ok(surveys)
}
