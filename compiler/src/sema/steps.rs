//! Steps of actions and triggers (SPEC §2.10, §2.12): each value typed against the column it is
//! compared with or written to, each table and column resolved, and no step writes a system or
//! scope column, nor a protected one its action is not listed for.

use ward_ir::{
    ActionError, Assignment, Column, ColumnType, CompareOp, Exists, Literal, Operation, Returned,
    SortKey, Step, Value,
};

use super::access::{Cx, and};
use super::actions::{Cxa, Table};
use super::types::{self, Scope};
use crate::diagnostics::{Diags, Span, codes, suggest};
use crate::syntax::ast::{self, Cond, Ident, Raw, ReturnWhole, StepAst, Val};

/// Rows a `query` step selects when it names no `limit`.
pub const QUERY_LIMIT: u32 = 100;

/// What the steps of one action or trigger are lowered in.
pub struct StepCx<'a, 's> {
    pub cx: &'a Cxa<'a, 's>,
    /// The action's name (protected columns list actions); `None` for a trigger.
    pub action: Option<&'a str>,
    /// How diagnostics name the owner: "action `archive`", "trigger `on update during`".
    pub who: String,
    pub scope: Scope<'a>,
}

impl<'a> StepCx<'a, '_> {
    fn in_trigger(&self) -> bool {
        self.action.is_none()
    }

    /// Steps in order; `return inserted` needs an insert somewhere, `return NAME` a query NAME.
    pub fn lower(&self, asts: &[StepAst], diags: &mut Diags) -> Vec<Step> {
        let mut queries = Vec::new();
        query_names(asts, &mut queries, diags);
        let names: Vec<&str> = queries.iter().map(|q| q.name.as_str()).collect();
        self.steps(asts, inserts(asts), &names, diags)
    }

    fn steps(
        &self,
        asts: &[StepAst],
        any_insert: bool,
        queries: &[&str],
        diags: &mut Diags,
    ) -> Vec<Step> {
        let mut out = Vec::new();
        for s in asts {
            if let Some(step) = self.step(s, any_insert, queries, diags) {
                out.push(step);
            }
        }
        out
    }

    fn step(
        &self,
        s: &StepAst,
        any_insert: bool,
        queries: &[&str],
        diags: &mut Diags,
    ) -> Option<Step> {
        let cx = self.cx;
        match s {
            StepAst::Require {
                span,
                conds,
                exists,
                error,
            } => {
                let when = self.row_conds(conds, *span, diags);
                let exists: Vec<Exists> = exists
                    .iter()
                    .filter_map(|(table, conds)| {
                        let (_, when) = self.on_table(table, conds, Operation::Read, diags)?;
                        Some(Exists {
                            table: table.name.clone(),
                            when,
                        })
                    })
                    .collect();
                let error = require_error(*span, error.as_ref(), diags);
                if when.is_none() && exists.is_empty() {
                    diags.push(codes::arg_count(
                        *span,
                        "require",
                        "at least one condition or `exists`",
                        0,
                    ));
                    return None;
                }
                Some(Step::Require {
                    when,
                    exists,
                    error: error?,
                })
            }
            StepAst::Transition {
                column, from, to, ..
            } => {
                if self.in_trigger() {
                    diags.push(codes::not_in_trigger(column.span, "transition"));
                    return None;
                }
                let Some(own) = &cx.own else {
                    diags.push(codes::needs_row(column.span, "transition"));
                    return None;
                };
                let col = self.writable(own, column, diags)?;
                let from: Vec<Literal> = from.iter().filter_map(|v| state(v, col, diags)).collect();
                let to = to.as_ref().and_then(|v| self.assigned(v, col.ty, diags))?;
                Some(Step::Transition {
                    column: column.name.clone(),
                    from,
                    to,
                })
            }
            StepAst::Update {
                span,
                table,
                set,
                when,
            } => {
                let Some(table) = table else {
                    let own = self.own_row(*span, "update", diags)?;
                    let when = self.row_conds(when, *span, diags);
                    let set = self.assignments(own, set, diags);
                    return Some(Step::Update {
                        table: None,
                        set,
                        when,
                    });
                };
                let (target, when) = self.on_table(table, when, Operation::Update, diags)?;
                let set = self.assignments(&Table::of(target), set, diags);
                Some(Step::Update {
                    table: Some(table.name.clone()),
                    set,
                    when,
                })
            }
            StepAst::Delete { span, table, when } => {
                let Some(table) = table else {
                    self.own_row(*span, "delete", diags)?;
                    let when = self.row_conds(when, *span, diags);
                    return Some(Step::Delete { table: None, when });
                };
                let (_, when) = self.on_table(table, when, Operation::Delete, diags)?;
                Some(Step::Delete {
                    table: Some(table.name.clone()),
                    when,
                })
            }
            StepAst::Query {
                name,
                table,
                when,
                sort,
                limit,
            } => {
                let (target, when) = self.on_table(table, when, Operation::Read, diags)?;
                let sort = sort_keys(target, sort, diags);
                let limit = match limit {
                    None => QUERY_LIMIT,
                    Some((n, span)) => match u32::try_from(*n) {
                        Ok(n) if (1..=1000).contains(&n) => n,
                        _ => {
                            diags.push(codes::query_limit(*span, *n));
                            return None;
                        }
                    },
                };
                Some(Step::Query {
                    name: name.name.clone(),
                    table: table.name.clone(),
                    when,
                    sort,
                    limit,
                })
            }
            StepAst::Insert { table, set } => {
                let Some(target) = cx.all.iter().find(|t| t.name == table.name) else {
                    let help = suggest(&table.name, cx.all.iter().map(|t| t.name.as_str()));
                    diags.push(codes::unknown_table(table.span, &table.name, help));
                    return None;
                };
                if target.id == ward_ir::IdKind::Text {
                    diags.push(codes::insert_needs_id(table.span, &table.name));
                    return None;
                }
                let set = self.assignments(&Table::of(target), set, diags);
                Some(Step::Insert {
                    table: table.name.clone(),
                    set,
                })
            }
            StepAst::If {
                span,
                conds,
                then,
                otherwise,
            } => {
                let when = self.row_conds(conds, *span, diags);
                let then = self.steps(then, any_insert, queries, diags);
                let otherwise = self.steps(otherwise, any_insert, queries, diags);
                match when {
                    Some(when) => Some(Step::If {
                        when,
                        then,
                        otherwise,
                    }),
                    None if cx.own.is_some() => {
                        diags.push(codes::arg_count(*span, "if", "at least one condition", 0));
                        None
                    }
                    None => None,
                }
            }
            StepAst::Return {
                span,
                whole,
                fields,
            } => {
                if self.in_trigger() {
                    diags.push(codes::not_in_trigger(*span, "return"));
                    return None;
                }
                let value = match whole {
                    Some(ReturnWhole::Record) if cx.own.is_none() => {
                        diags.push(codes::needs_row(*span, "return record"));
                        return None;
                    }
                    Some(ReturnWhole::Record) => Returned::Record,
                    Some(ReturnWhole::Inserted) if !any_insert => {
                        diags.push(codes::nothing_inserted(*span));
                        return None;
                    }
                    Some(ReturnWhole::Inserted) => Returned::Inserted,
                    Some(ReturnWhole::Query(q)) => {
                        if !queries.contains(&q.name.as_str()) {
                            let help = suggest(&q.name, queries.iter().copied());
                            diags.push(codes::unknown_query(q.span, &q.name, help));
                            return None;
                        }
                        Returned::Query(q.name.clone())
                    }
                    None => Returned::Object(
                        fields
                            .iter()
                            .filter_map(|(name, v)| {
                                let ty = returned_type(v, self.scope);
                                self.assigned(v, ty, diags).map(|value| Assignment {
                                    column: name.name.clone(),
                                    value,
                                })
                            })
                            .collect(),
                    ),
                };
                Some(Step::Return { value })
            }
        }
    }

    /// The row `update`/`delete` without a table act on: the record action's own.
    fn own_row(&self, span: Span, step: &str, diags: &mut Diags) -> Option<&Table<'_>> {
        if self.in_trigger() {
            diags.push(codes::not_in_trigger(span, step));
            return None;
        }
        let Some(own) = &self.cx.own else {
            diags.push(codes::needs_row(span, step));
            return None;
        };
        Some(own)
    }

    /// Conditions on the action's row (record actions and triggers only).
    fn row_conds(
        &self,
        conds: &[Cond],
        span: Span,
        diags: &mut Diags,
    ) -> Option<ward_ir::Condition> {
        if conds.is_empty() {
            return None;
        }
        let Some(own) = &self.cx.own else {
            diags.push(codes::needs_row(span, "when"));
            return None;
        };
        let lower = Cx {
            syms: self.cx.syms,
            cols: own.cols,
            known: &own.known,
            op: Operation::Update,
            origin: None,
            scope: self.scope,
        };
        and(lower.conds(conds, diags).into_iter().map(|c| c.0).collect())
    }

    /// TABLE of `exists`, `query`, `update TABLE`, `delete TABLE`, and the conditions on its
    /// columns (values from the action: inputs, its row, the caller).
    fn on_table(
        &self,
        table: &Ident,
        conds: &[Cond],
        op: Operation,
        diags: &mut Diags,
    ) -> Option<(&'a ward_ir::Table, Option<ward_ir::Condition>)> {
        let all = self.cx.all;
        let Some(target) = all.iter().find(|t| t.name == table.name) else {
            let help = suggest(&table.name, all.iter().map(|t| t.name.as_str()));
            diags.push(codes::unknown_table(table.span, &table.name, help));
            return None;
        };
        let t = Table::of(target);
        let lower = Cx {
            syms: self.cx.syms,
            cols: t.cols,
            known: &t.known,
            op,
            origin: None,
            scope: self.scope,
        };
        let lowered = lower.conds(conds, diags);
        // What `exists` finds and `query` returns answers the caller: a masked column compared
        // with a value they choose is an oracle for its values.
        if op == Operation::Read {
            for (c, span) in &lowered {
                for field in compared_with_input(c) {
                    if target.masks.iter().any(|m| m.column == field) {
                        diags.push(codes::masked_probe(*span, &self.who, field, &table.name));
                    }
                }
            }
        }
        let when = and(lowered.into_iter().map(|c| c.0).collect());
        Some((target, when))
    }

    /// `set COLUMN VALUE` pairs for `t`, each column writable here.
    fn assignments(&self, t: &Table, set: &[(Ident, Val)], diags: &mut Diags) -> Vec<Assignment> {
        let mut out = Vec::new();
        for (column, v) in set {
            let Some(col) = self.writable(t, column, diags) else {
                continue;
            };
            if col.ty == ColumnType::File && !(v.ann.is_none() && v.raw == Raw::Null) {
                // A file belongs to the one row it was uploaded to: a copy would outlive it.
                diags.push(codes::invalid_file_setting(
                    v.span,
                    "a step can only set a file column to null",
                    "files are uploaded with `multipart/form-data` on a create or an update",
                ));
                continue;
            }
            let value = self.assigned(v, col.ty, diags);
            // A masked value copied into a column nobody masks would be readable there.
            if let (Some(Value::Record(source) | Value::Old(source)), Some(own)) =
                (&value, &self.cx.own)
                && own.masks.iter().any(|m| m.column == *source)
                && !t.masks.iter().any(|m| m.column == column.name)
            {
                diags.push(codes::masked_copy(v.span, &self.who, source, &column.name));
            }
            if let Some(value) = value {
                out.push(Assignment {
                    column: column.name.clone(),
                    value,
                });
            }
        }
        out
    }

    /// A column these steps may write: one of the table's, never a system or scope column, and
    /// a protected one only when the action is listed for it (triggers never are).
    fn writable<'c>(&self, t: &'c Table, id: &Ident, diags: &mut Diags) -> Option<&'c Column> {
        let Some(col) = t.cols.iter().find(|c| c.name == id.name) else {
            let help = suggest(&id.name, t.cols.iter().map(|c| c.name.as_str()));
            diags.push(codes::unknown_column(id.span, &id.name, help));
            return None;
        };
        if col.system || t.scopes.contains(&id.name.as_str()) {
            diags.push(codes::action_writes_managed(id.span, &self.who, &id.name));
            return None;
        }
        if let Some(p) = t.guards.protected.iter().find(|p| p.column == id.name)
            && !self
                .action
                .is_some_and(|a| p.actions.iter().any(|x| x == a))
        {
            diags.push(codes::action_writes_protected(
                id.span,
                &self.who,
                self.action,
                &id.name,
            ));
            return None;
        }
        Some(col)
    }

    /// A value assigned to something of type `ty`: a literal, `(input)`, `(record)`, `(old)`,
    /// `(auth)` or `(time)now`, typed as a comparison with it would be.
    fn assigned(&self, v: &Val, ty: ColumnType, diags: &mut Diags) -> Option<Value> {
        if v.ann.is_none() && v.raw == Raw::Null {
            return Some(Value::Literal(Literal::Null));
        }
        types::value(v, ty, CompareOp::Eq, self.scope, self.cx.syms, None, diags)
    }
}

/// The columns `c` compares with an action input.
fn compared_with_input(c: &ward_ir::Condition) -> Vec<&str> {
    match c {
        ward_ir::Condition::All { of } | ward_ir::Condition::Any { of } => {
            of.iter().flat_map(compared_with_input).collect()
        }
        ward_ir::Condition::Not { of } => compared_with_input(of),
        ward_ir::Condition::Role { .. } => Vec::new(),
        ward_ir::Condition::Compare { field, values, .. } => {
            if values.iter().any(|v| matches!(v, Value::Input(_))) {
                vec![field.as_str()]
            } else {
                Vec::new()
            }
        }
    }
}

/// Whether these steps (or their branches) insert anything.
fn inserts(asts: &[StepAst]) -> bool {
    asts.iter().any(|s| match s {
        StepAst::Insert { .. } => true,
        StepAst::If {
            then, otherwise, ..
        } => inserts(then) || inserts(otherwise),
        _ => false,
    })
}

/// Every `query` step's name, anywhere in the steps; a name used twice is an error.
fn query_names<'a>(asts: &'a [StepAst], out: &mut Vec<&'a Ident>, diags: &mut Diags) {
    for s in asts {
        match s {
            StepAst::Query { name, .. } => {
                if let Some(first) = out.iter().find(|q| q.name == name.name) {
                    diags.push(codes::duplicate_name(
                        name.span, "query", &name.name, first.span,
                    ));
                } else {
                    out.push(name);
                }
            }
            StepAst::If {
                then, otherwise, ..
            } => {
                query_names(then, out, diags);
                query_names(otherwise, out, diags);
            }
            _ => {}
        }
    }
}

/// A query's `sort`: columns of its table (json excluded), each once.
fn sort_keys(t: &ward_ir::Table, keys: &[(Ident, bool)], diags: &mut Diags) -> Vec<SortKey> {
    let mut out: Vec<SortKey> = Vec::new();
    for (id, desc) in keys {
        let Some(col) = t.columns.iter().find(|c| c.name == id.name) else {
            let help = suggest(&id.name, t.columns.iter().map(|c| c.name.as_str()));
            diags.push(codes::unknown_column(id.span, &id.name, help));
            continue;
        };
        if matches!(col.ty, ColumnType::Json | ColumnType::File) {
            diags.push(codes::property_type(
                id.span,
                "sort",
                col.ty.name(),
                "every type but json and file",
            ));
        } else if out.iter().any(|k| k.column == id.name) {
            let first = keys.iter().find(|(k, _)| k.name == id.name);
            let first = first.map_or(id.span, |(k, _)| k.span);
            diags.push(codes::duplicate_name(id.span, "sort key", &id.name, first));
        } else {
            out.push(SortKey {
                column: id.name.clone(),
                desc: *desc,
            });
        }
    }
    out
}

fn require_error(span: Span, e: Option<&ast::ErrorAst>, diags: &mut Diags) -> Option<ActionError> {
    let Some(e) = e else {
        diags.push(codes::require_error(
            span,
            "it names no `error CODE status=N`",
        ));
        return None;
    };
    let status = match e.status {
        None => 400,
        Some((n, s)) => match u16::try_from(n) {
            Ok(n) if (400..500).contains(&n) => n,
            _ => {
                diags.push(codes::require_error(s, "its status is not 400…499"));
                return None;
            }
        },
    };
    Some(ActionError {
        code: e.code.clone(),
        status,
        message: e.message.clone().unwrap_or_else(|| e.code.clone()),
    })
}

/// A `from` state: a literal of the column's type (one of its `one-of` values, if it has them).
fn state(v: &Val, col: &Column, diags: &mut Diags) -> Option<Literal> {
    let hint = match (&v.ann, types::literal(&v.raw, col.ty)) {
        (None, Some(l)) if l != Literal::Null => {
            if col.one_of.is_empty() || col.one_of.contains(&l) {
                return Some(l);
            }
            "one of the column's `one-of` values"
        }
        _ => "a value of the column's type",
    };
    diags.push(codes::literal_type(
        v.span,
        "from",
        col.ty.name(),
        &v.raw.describe(),
        hint,
    ));
    None
}

/// The type a `return { field NAME VALUE }` value has on its own.
fn returned_type(v: &Val, scope: Scope) -> ColumnType {
    let by_name = |cols: Option<&[Column]>, name: &str| {
        cols.and_then(|c| c.iter().find(|c| c.name == name))
            .map(|c| c.ty)
    };
    match (&v.ann, &v.raw) {
        (Some(a), Raw::Str(n)) if a.name == "input" => {
            by_name(scope.inputs, n).unwrap_or(ColumnType::Text)
        }
        (Some(a), Raw::Str(n)) if a.name == "record" => {
            by_name(scope.record, n).unwrap_or(ColumnType::Text)
        }
        (Some(a), _) if a.name == "time" => ColumnType::Datetime,
        (_, Raw::Int(_)) => ColumnType::Integer,
        (_, Raw::Float(_)) => ColumnType::Float,
        (_, Raw::Bool(_)) => ColumnType::Boolean,
        _ => ColumnType::Text,
    }
}
