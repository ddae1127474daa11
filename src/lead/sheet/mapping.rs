//! A column mapping the person gives: `--map "Correo electrónico=email"` on the command line,
//! or the same pairs in a TOML file (`--mapping FILE.toml`):
//!
//! ```toml
//! [columns]
//! "Correo electrónico" = "email"
//! "Empresa" = "company"
//! "Notas" = "ignore"
//! ```

use std::path::Path;

use super::header::Field;

/// The fields a mapping may name, as a message lists them.
const TARGETS: &str = "email, first_name, last_name, name, company, title, timezone, phone, \
                       owner, ignore, or custom:KEY";

/// Header cells the person mapped to a field, overriding the recognition table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMap {
    /// Each mapped header as written, its target (`None`: the column is ignored), and
    /// whether the file must have that column (a `--map` pair must match; a mapping file,
    /// saved for many exports, may name columns one file lacks).
    pairs: Vec<(String, Option<Field>, bool)>,
}

/// A mapping that cannot be used; the message names where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MappingError(String);

impl ColumnMap {
    /// Adds one `COLUMN=FIELD` pair as written after `--map`.
    pub fn add_pair(&mut self, pair: &str) -> Result<(), MappingError> {
        let Some((column, target)) = pair.rsplit_once('=') else {
            return Err(MappingError(format!(
                "--map {pair:?}: expected COLUMN=FIELD, e.g. --map \"Correo electrónico=email\""
            )));
        };
        self.add(column, target, true)
            .map_err(|reason| MappingError(format!("--map {pair:?}: {reason}")))
    }

    /// Adds the pairs of a mapping file's `[columns]` table.
    pub fn add_file(&mut self, path: &Path) -> Result<(), MappingError> {
        let name = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|err| MappingError(format!("{name}: cannot read: {err}")))?;
        let value: toml::Table = text.parse().map_err(|err: toml::de::Error| {
            let at = err
                .span()
                .map(|span| text[..span.start].matches('\n').count() + 1)
                .map_or_else(String::new, |line| format!(":{line}"));
            MappingError(format!("{name}{at}: {}", err.message()))
        })?;
        let unknown = value.keys().find(|k| *k != "columns");
        if let Some(key) = unknown {
            return Err(MappingError(format!(
                "{name}: unknown key {key:?}; a mapping file has one table, [columns]"
            )));
        }
        let Some(columns) = value.get("columns").and_then(toml::Value::as_table) else {
            return Err(MappingError(format!(
                "{name}: no [columns] table; write one \"COLUMN\" = \"FIELD\" line under [columns]"
            )));
        };
        for (column, target) in columns {
            let Some(target) = target.as_str() else {
                return Err(MappingError(format!(
                    "{name}: [columns] {column:?}: the field must be a string ({TARGETS})"
                )));
            };
            self.add(column, target, false).map_err(|reason| {
                MappingError(format!("{name}: [columns] {column:?}: {reason}"))
            })?;
        }
        Ok(())
    }

    fn add(&mut self, column: &str, target: &str, strict: bool) -> Result<(), String> {
        let column = column.trim();
        if column.is_empty() {
            return Err("the column name is empty".to_owned());
        }
        let field = parse_target(target.trim())?;
        self.pairs
            .retain(|(c, _, _)| !c.eq_ignore_ascii_case(column));
        self.pairs.push((column.to_owned(), field, strict));
        Ok(())
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The target of a header cell: `Some(Some(field))` mapped, `Some(None)` ignored, `None`
    /// left to the recognition table. Header names match without regard to case.
    pub(super) fn target(&self, name: &str) -> Option<Option<Field>> {
        self.pairs
            .iter()
            .find(|(c, _, _)| c.eq_ignore_ascii_case(name))
            .map(|(_, f, _)| f.clone())
    }

    /// The columns a `--map` pair names that the header does not have.
    pub(super) fn missing<'a>(&'a self, cells: &[String]) -> Vec<&'a str> {
        self.pairs
            .iter()
            .filter(|(_, _, strict)| *strict)
            .map(|(c, _, _)| c.as_str())
            .filter(|c| !cells.iter().any(|cell| cell.eq_ignore_ascii_case(c)))
            .collect()
    }
}

fn parse_target(target: &str) -> Result<Option<Field>, String> {
    let field = match target.to_ascii_lowercase().as_str() {
        "email" => Field::Email,
        "first_name" => Field::FirstName,
        "last_name" => Field::LastName,
        "name" | "full_name" => Field::FullName,
        "company" => Field::Company,
        "title" => Field::Title,
        "timezone" => Field::Timezone,
        "phone" => Field::Phone,
        "owner" => Field::Owner,
        "ignore" => return Ok(None),
        other => match other.strip_prefix("custom:") {
            Some(key) if is_key(key) => Field::Custom(key.to_owned()),
            _ => return Err(format!("unknown field {target:?} (expected {TARGETS})")),
        },
    };
    Ok(Some(field))
}

fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() && !c.is_uppercase() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_map_columns_case_insensitively() {
        let mut map = ColumnMap::default();
        map.add_pair("Correo electrónico=email").unwrap();
        map.add_pair(" Empresa = company").unwrap();
        map.add_pair("Notas=ignore").unwrap();
        map.add_pair("Sector=custom:industry").unwrap();
        assert_eq!(map.target("correo ELECTRÓNICO"), None);
        assert_eq!(map.target("Correo electrónico"), Some(Some(Field::Email)));
        assert_eq!(map.target("empresa"), Some(Some(Field::Company)));
        assert_eq!(map.target("Notas"), Some(None));
        assert_eq!(
            map.target("Sector"),
            Some(Some(Field::Custom("industry".into())))
        );
        assert_eq!(map.target("Other"), None);
    }

    #[test]
    fn bad_pairs_say_what_is_expected() {
        let mut map = ColumnMap::default();
        assert_eq!(
            map.add_pair("Empresa").unwrap_err().to_string(),
            "--map \"Empresa\": expected COLUMN=FIELD, e.g. --map \"Correo electrónico=email\""
        );
        let err = map.add_pair("Empresa=compnay").unwrap_err().to_string();
        assert!(
            err.starts_with("--map \"Empresa=compnay\": unknown field \"compnay\""),
            "{err}"
        );
        assert!(map.add_pair("=email").is_err());
    }

    #[test]
    fn a_mapping_file_is_a_columns_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.toml");
        std::fs::write(
            &path,
            "[columns]\n\"Correo electrónico\" = \"email\"\nEmpresa = \"company\"\n",
        )
        .unwrap();
        let mut map = ColumnMap::default();
        map.add_file(&path).unwrap();
        assert_eq!(map.target("Empresa"), Some(Some(Field::Company)));
        std::fs::write(&path, "[columns]\nEmpresa = \"compnay\"\n").unwrap();
        let err = map.add_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("map.toml: [columns] \"Empresa\": unknown field"),
            "{err}"
        );
        std::fs::write(&path, "[colums]\n").unwrap();
        let err = map.add_file(&path).unwrap_err().to_string();
        assert!(err.contains("unknown key \"colums\""), "{err}");
    }
}
