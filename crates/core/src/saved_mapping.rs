//! Saved mappings (SPEC.md, "Saved mappings"): what a broker chose for one
//! shape of sheet (the entity, the header row, each column's target and
//! replacements for unrecognised values), as a JSON file that `check` and
//! `import --mapping FILE` apply and the history records.
//!
//! ```json
//! {"entity": "organizations", "header_row": 3,
//!  "columns": {"Acct Mgr": "primary_manager_name", "Internal ID": null, "Region": "import_notes"},
//!  "values": {"segment": {"Food Truck": "Casual Dining"}}}
//! ```
//! `null` skips a column; a header not named keeps its automatic target.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::entity::Entity;

/// The target that keeps a column in `import_notes`.
pub const IMPORT_NOTES: &str = "import_notes";

/// A broker's choices for one shape of sheet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedMapping {
    /// What the rows are (`organizations`, ...); `None`: recognised as usual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// The header's row number, when not the one found automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_row: Option<u64>,
    /// By header as written: the field's column, `import_notes`, or `null`
    /// to skip the column.
    #[serde(default)]
    pub columns: BTreeMap<String, Option<String>>,
    /// By field's column: a value as written and the allowed value it
    /// stands for.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// By field's column: the value every row gets when no column of the
    /// sheet fills the field (`"type": "principal"` for a principals list
    /// without a TYPE column).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fixed: BTreeMap<String, String>,
    /// Manager names as written and the e-mail of the CRM user each stands
    /// for (empty: keep the name as text), over the matching rules.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub users: BTreeMap<String, String>,
    /// Headers whose target the broker picked in the window (said as
    /// `chosen`, where a mapping file's are `mapping`); never saved.
    #[serde(skip)]
    pub picked: std::collections::BTreeSet<String>,
}

/// Why a mapping file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The file could not be read.
    #[error("cannot read the mapping {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a mapping.
    #[error("the mapping {} is not valid: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
}

impl SavedMapping {
    /// Maps `written`, a value of the enumerated `field` as a sheet writes
    /// it, to `target` (`None`: leave it to the field's rule again).
    pub fn map_value(&mut self, field: &str, written: String, target: Option<String>) {
        let values = self.values.entry(field.to_owned()).or_default();
        values.retain(|from, _| !from.trim().eq_ignore_ascii_case(written.trim()));
        if let Some(target) = target {
            values.insert(written, target);
        }
        if values.is_empty() {
            self.values.remove(field);
        }
    }

    /// Reads and checks a mapping file: its entity and every field it
    /// names must exist.
    pub fn read(path: &Path) -> Result<SavedMapping, MappingError> {
        let text = std::fs::read_to_string(path).map_err(|source| MappingError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |reason: String| MappingError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let mapping: SavedMapping =
            serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        mapping.check().map_err(invalid)?;
        Ok(mapping)
    }

    /// The mapping as the JSON of SPEC.md.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Whether the mapping chooses nothing (whatever its entity).
    pub fn chooses_nothing(&self) -> bool {
        self.header_row.is_none()
            && self.columns.is_empty()
            && self.values.is_empty()
            && self.fixed.is_empty()
            && self.users.is_empty()
    }

    /// The choices in a line: "header row 3, Acct Mgr → primary_manager_name,
    /// Internal ID → skipped, segment 'Food Truck' → Casual Dining".
    pub fn summary(&self) -> String {
        let header = self.header_row.map(|row| format!("header row {row}"));
        let columns = self.columns.iter().map(|(header, target)| {
            format!("{header} → {}", target.as_deref().unwrap_or("skipped"))
        });
        let values = self.values.iter().flat_map(|(field, values)| {
            values
                .iter()
                .map(move |(from, to)| format!("{field} '{from}' → {to}"))
        });
        let fixed = self
            .fixed
            .iter()
            .map(|(field, value)| format!("{field} '{value}' for every row"));
        header
            .into_iter()
            .chain(columns)
            .chain(values)
            .chain(fixed)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The entity the mapping names, if any.
    pub fn entity(&self) -> Option<Entity> {
        self.entity.as_deref().and_then(|e| e.parse().ok())
    }

    /// Whether every name in the mapping means something for its entity.
    fn check(&self) -> Result<(), String> {
        let entity = match &self.entity {
            Some(name) => name.parse::<Entity>().map_err(|e| e.to_string())?,
            None => return Ok(()),
        };
        let description = entity.description();
        for (header, target) in &self.columns {
            if let Some(target) = target
                && target != IMPORT_NOTES
                && description.field_index(target).is_none()
            {
                return Err(format!(
                    "column '{header}' is mapped to '{target}', which is not a field of {entity} \
                     (use one of: {}, import_notes, or null to skip it)",
                    description
                        .fields
                        .iter()
                        .map(|f| f.column)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        for field in self.values.keys().chain(self.fixed.keys()) {
            if description.field_index(field).is_none() {
                return Err(format!(
                    "values are given for '{field}', which is not a field of {entity}"
                ));
            }
        }
        Ok(())
    }

    /// The replacement for `raw` in the field stored in `column`, if the
    /// mapping gives one (case and surrounding spaces ignored).
    pub fn value_for(&self, column: &str, raw: &str) -> Option<&str> {
        let raw = raw.trim();
        self.values.get(column).and_then(|values| {
            values
                .iter()
                .find(|(from, _)| from.trim().eq_ignore_ascii_case(raw))
                .map(|(_, to)| to.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_reads_and_a_wrong_field_is_named() {
        let dir = std::env::temp_dir().join(format!("pantry-mapping-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        std::fs::write(
            &good,
            r#"{"entity": "organizations", "header_row": 3,
               "columns": {"Acct Mgr": "primary_manager_name", "Internal ID": null, "Region": "import_notes"},
               "values": {"segment": {"Food Truck": "Casual Dining"}}}"#,
        )
        .unwrap();
        let mapping = SavedMapping::read(&good).unwrap();
        assert_eq!(mapping.entity(), Some(Entity::Organizations));
        assert_eq!(mapping.header_row, Some(3));
        assert_eq!(mapping.columns["Internal ID"], None);
        assert_eq!(
            mapping.value_for("segment", " food truck "),
            Some("Casual Dining")
        );
        let bad = dir.join("bad.json");
        std::fs::write(
            &bad,
            r#"{"entity": "organizations", "columns": {"Acct Mgr": "manager"}}"#,
        )
        .unwrap();
        let error = SavedMapping::read(&bad).unwrap_err().to_string();
        assert!(
            error.contains(
                "column 'Acct Mgr' is mapped to 'manager', which is not a field of organizations"
            ),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
