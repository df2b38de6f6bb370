//! The serving snapshot: the IR plus everything a request needs, precomputed once per table.
//! Requests hold one `Arc<Snapshot>` from start to finish, so they always see one consistent IR.

use std::collections::HashMap;

use ward_ir::{Column, DeleteMode, Ir, Table, system};

use crate::sql::Dialect;
use crate::sql::kept::Kept;

/// The statements of one table kept rendered ([`crate::sql::kept`]).
#[derive(Debug, Default)]
pub(crate) struct KeptStatements {
    pub by_id: Kept<crate::sql::by_id::Shape>,
    /// `INSERT … RETURNING` by which columns the row sets (one flag per column).
    pub inserts: Kept<Vec<bool>>,
}

/// Per-table plan.
#[derive(Debug)]
pub struct TablePlan {
    pub def: Table,
    /// The dialect every statement on this table is rendered in (the store's).
    pub dialect: Dialect,
    /// `delete soft`: rows with `deletedAt` set are outside the firewall.
    pub soft: bool,
    /// Column name → position in `def.columns`.
    index: HashMap<String, usize>,
    /// Searchable columns, in column order.
    pub searchable: Vec<String>,
    /// `(column, target table)` for every `references=` column.
    pub references: Vec<(String, String)>,
    /// Positions of the `file` columns (SPEC §13), in column order: what masking and the change
    /// log show without the store key, looked up once here rather than on every record.
    pub files: Vec<usize>,
    /// Whether a write reads the images of the rows it changes ([`ward_ir::Table::writes_images`]),
    /// decided once: every write asks.
    pub writes_images: bool,
    /// Compiled `pattern=` regexes by column.
    patterns: HashMap<String, regex::Regex>,
    /// Statements rendered for this IR version, by shape.
    pub(crate) kept: KeptStatements,
}

impl TablePlan {
    pub fn name(&self) -> &str {
        &self.def.name
    }

    pub fn columns(&self) -> &[Column] {
        &self.def.columns
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.index.get(name).and_then(|&i| self.def.columns.get(i))
    }

    /// Where `name` stands in [`TablePlan::columns`] (and in a row read as cells).
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn pattern(&self, column: &str) -> Option<&regex::Regex> {
        self.patterns.get(column)
    }

    /// System or scope column: never written by a client.
    pub fn is_managed(&self, name: &str) -> bool {
        self.column(name).is_some_and(|c| c.system) || self.def.is_scope_column(name)
    }
}

#[derive(Debug)]
pub struct Snapshot {
    pub ir: Ir,
    tables: HashMap<String, TablePlan>,
}

impl Snapshot {
    /// Builds the snapshot, rejecting an IR the runtime cannot serve safely.
    pub fn build(ir: Ir, dialect: Dialect) -> Result<Snapshot, String> {
        let mut tables = HashMap::new();
        for t in &ir.tables {
            let plan = plan_table(t, dialect)?;
            tables.insert(t.name.clone(), plan);
        }
        for plan in tables.values() {
            for (col, target) in &plan.references {
                if !tables.contains_key(target) {
                    return Err(format!(
                        "column `{}.{col}` references unknown table `{target}`",
                        plan.name()
                    ));
                }
            }
        }
        // `expand=` follows relations at request time; a relation that does not lead back here
        // would silently embed the wrong rows.
        for plan in tables.values() {
            for r in &plan.def.relations {
                let points_back = tables
                    .get(&r.table)
                    .and_then(|child| child.column(&r.via))
                    .and_then(|c| c.references.as_ref())
                    .is_some_and(|to| to.table == plan.name());
                if !points_back {
                    return Err(format!(
                        "relation `{}.{}`: `{}.{}` is not a reference back to `{}`",
                        plan.name(),
                        r.name,
                        r.table,
                        r.via,
                        plan.name()
                    ));
                }
            }
        }
        Ok(Snapshot { ir, tables })
    }

    pub fn table(&self, name: &str) -> Option<&TablePlan> {
        self.tables.get(name)
    }

    pub fn tables(&self) -> impl Iterator<Item = &TablePlan> {
        self.ir
            .tables
            .iter()
            .filter_map(|t| self.tables.get(&t.name))
    }
}

fn plan_table(t: &Table, dialect: Dialect) -> Result<TablePlan, String> {
    let soft = t.delete == DeleteMode::Soft;
    let index: HashMap<String, usize> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.clone(), i))
        .collect();
    let mut needed = vec![
        system::ID,
        system::CREATED_AT,
        system::CREATED_BY,
        system::MODIFIED_AT,
        system::MODIFIED_BY,
    ];
    if soft {
        needed.extend([system::DELETED_AT, system::DELETED_BY]);
    }
    for name in needed {
        if !index.contains_key(name) {
            return Err(format!("table `{}` lacks system column `{name}`", t.name));
        }
    }
    for s in &t.firewall.scopes {
        if !index.contains_key(&s.column) {
            return Err(format!(
                "table `{}`: scope column `{}` is not a column",
                t.name, s.column
            ));
        }
    }
    for m in &t.masks {
        if !index.contains_key(&m.column) {
            return Err(format!(
                "table `{}`: masked column `{}` is not a column",
                t.name, m.column
            ));
        }
    }
    let mut patterns = HashMap::new();
    for c in &t.columns {
        if let Some(p) = &c.pattern {
            // Unanchored, as in JSON Schema and OpenAPI: write `^…$` to constrain the whole value.
            let re = regex::Regex::new(p)
                .map_err(|e| format!("table `{}`: bad pattern on `{}`: {e}", t.name, c.name))?;
            patterns.insert(c.name.clone(), re);
        }
    }
    Ok(TablePlan {
        def: t.clone(),
        dialect,
        patterns,
        soft,
        files: t
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.ty == ward_ir::ColumnType::File)
            .map(|(i, _)| i)
            .collect(),
        writes_images: t.writes_images(),
        searchable: t
            .columns
            .iter()
            .filter(|c| c.searchable)
            .map(|c| c.name.clone())
            .collect(),
        references: t
            .columns
            .iter()
            .filter_map(|c| {
                c.references
                    .as_ref()
                    .map(|r| (c.name.clone(), r.table.clone()))
            })
            .collect(),
        index,
        kept: KeptStatements::default(),
    })
}
