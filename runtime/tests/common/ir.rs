#![allow(clippy::unwrap_used)]

//! A small builder for test IRs, standing in for the compiler until tests move to KDL.

#![allow(dead_code)]

use std::collections::BTreeMap;

use ward_ir::*;

pub const ROLES: [&str; 4] = ["viewer", "member", "admin", "owner"];

/// `"member+"` → member admin owner; `"admin"` → admin; pseudo-roles pass through.
pub fn roles(spec: &str) -> Vec<String> {
    let mut out = Vec::new();
    for r in spec.split_whitespace() {
        match r.strip_suffix('+') {
            Some(base) => {
                let at = ROLES.iter().position(|x| *x == base).unwrap_or(0);
                out.extend(ROLES[at..].iter().map(|s| s.to_string()));
            }
            None => out.push(r.to_string()),
        }
    }
    out
}

pub fn rule(spec: &str) -> AccessRule {
    let r = roles(spec);
    AccessRule {
        roles: r.clone(),
        when: Condition::Role { roles: r },
        check: None,
    }
}

pub fn rule_when(spec: &str, cond: Condition) -> AccessRule {
    let r = roles(spec);
    AccessRule {
        roles: r.clone(),
        when: Condition::All {
            of: vec![Condition::Role { roles: r }, cond],
        },
        check: None,
    }
}

pub fn rule_check(spec: &str, check: Condition) -> AccessRule {
    AccessRule {
        check: Some(check),
        ..rule(spec)
    }
}

pub fn lit_text(s: &str) -> Value {
    Value::Literal(Literal::Text(s.into()))
}

pub fn cmp(field: &str, op: CompareOp, values: Vec<Value>) -> Condition {
    Condition::Compare {
        field: field.into(),
        op,
        values,
    }
}

pub fn column(name: &str, ty: ColumnType) -> Column {
    Column {
        name: name.into(),
        ty,
        system: false,
        required: false,
        default: None,
        unique: false,
        min: None,
        max: None,
        min_length: None,
        max_length: None,
        pattern: None,
        one_of: Vec::new(),
        references: None,
        searchable: false,
        was: None,
        description: None,
        file: None,
    }
}

fn system_col(name: &str, ty: ColumnType, required: bool) -> Column {
    Column {
        system: true,
        required,
        ..column(name, ty)
    }
}

pub struct T {
    pub t: Table,
    cols: Vec<Column>,
}

pub fn table(name: &str) -> T {
    T {
        t: Table {
            name: name.into(),
            description: None,
            id: IdKind::Uuid,
            columns: Vec::new(),
            display: None,
            relations: Vec::new(),
            indexes: Vec::new(),
            firewall: Firewall {
                scopes: Vec::new(),
                bypass: Vec::new(),
                error_mode: ErrorMode::Hide,
            },
            access: Access::default(),
            guards: Guards {
                open: false,
                createable: Vec::new(),
                updatable: Vec::new(),
                immutable: Vec::new(),
                protected: Vec::new(),
            },
            masks: Vec::new(),
            delete: DeleteMode::Soft,
            batch: Batch::default(),
            page: Page::default(),
            views: Vec::new(),
            actions: Vec::new(),
            triggers: Vec::new(),
            history: None,
            realtime: false,
        },
        cols: Vec::new(),
    }
}

impl T {
    pub fn id(mut self, kind: IdKind) -> T {
        self.t.id = kind;
        self
    }
    pub fn col(mut self, c: Column) -> T {
        self.cols.push(c);
        self
    }
    pub fn text(self, name: &str) -> T {
        self.col(column(name, ColumnType::Text))
    }
    pub fn scope(mut self, col: &str, auth: &str, bypass: &str) -> T {
        self.t.firewall.scopes.push(Scope {
            column: col.into(),
            auth: auth.into(),
            bypass: roles(bypass),
        });
        self
    }
    pub fn bypass(mut self, spec: &str) -> T {
        self.t.firewall.bypass = roles(spec);
        self
    }
    pub fn reveal(mut self) -> T {
        self.t.firewall.error_mode = ErrorMode::Reveal;
        self
    }
    pub fn access(mut self, op: Operation, r: AccessRule) -> T {
        let a = &mut self.t.access;
        let slot = match op {
            Operation::List => &mut a.list,
            Operation::Read => &mut a.read,
            Operation::Create => &mut a.create,
            Operation::Update => &mut a.update,
            Operation::Delete => &mut a.delete,
            Operation::Restore => &mut a.restore,
            Operation::History => &mut a.history,
        };
        *slot = Some(r);
        self
    }
    /// Every CRUD operation for `spec`.
    pub fn crud(self, spec: &str) -> T {
        self.access(Operation::List, rule(spec))
            .access(Operation::Read, rule(spec))
            .access(Operation::Create, rule(spec))
            .access(Operation::Update, rule(spec))
            .access(Operation::Delete, rule(spec))
    }
    pub fn createable(mut self, cols: &[&str]) -> T {
        self.t.guards.createable = cols.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn updatable(mut self, cols: &[&str]) -> T {
        self.t.guards.updatable = cols.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn immutable(mut self, cols: &[&str]) -> T {
        self.t.guards.immutable = cols.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn protected(mut self, col: &str, actions: &[&str]) -> T {
        self.t.guards.protected.push(Protected {
            column: col.into(),
            actions: actions.iter().map(|s| s.to_string()).collect(),
        });
        self
    }
    pub fn mask(mut self, col: &str, kind: MaskKind, show: &str, owner: Option<&str>) -> T {
        self.t.masks.push(Mask {
            column: col.into(),
            kind,
            show: roles(show),
            owner: owner.map(Into::into),
            auto: false,
        });
        self
    }
    /// A `references=TABLE on-delete=…` column of the target's id type (uuid unless given).
    pub fn reference(self, name: &str, target: &str, on_delete: OnDelete) -> T {
        self.reference_typed(name, target, on_delete, ColumnType::Uuid)
    }
    pub fn reference_typed(
        self,
        name: &str,
        target: &str,
        on_delete: OnDelete,
        ty: ColumnType,
    ) -> T {
        self.col(Column {
            references: Some(Reference {
                table: target.into(),
                on_delete,
            }),
            ..column(name, ty)
        })
    }
    /// `relation NAME has-many=TABLE via=COLUMN`.
    pub fn relation(mut self, name: &str, table: &str, via: &str) -> T {
        self.t.relations.push(Relation {
            name: name.into(),
            table: table.into(),
            via: via.into(),
        });
        self
    }
    /// `display=#true` on an existing column.
    pub fn display(mut self, col: &str) -> T {
        self.t.display = Some(col.into());
        self
    }
    /// `delete soft` (the default), spelled out.
    pub fn soft(mut self) -> T {
        self.t.delete = DeleteMode::Soft;
        self
    }
    pub fn hard(mut self) -> T {
        self.t.delete = DeleteMode::Hard;
        self
    }
    pub fn page(mut self, default: u32, max: u32) -> T {
        self.t.page = Page { default, max };
        self
    }
    /// `guards open`: every non-system, non-scope column is createable and updatable (the lists
    /// are materialised in `build`, as the compiler does).
    pub fn open_guards(mut self) -> T {
        self.t.guards.open = true;
        self
    }
    /// `batch max=N atomic=…`.
    pub fn batch(mut self, max: u32, atomic: bool) -> T {
        self.t.batch = Batch {
            enabled: true,
            max,
            atomic,
        };
        self
    }
    /// `batch off`.
    pub fn batch_off(mut self) -> T {
        self.t.batch.enabled = false;
        self
    }
    pub fn build(mut self) -> Table {
        if self.t.guards.open {
            let scopes: Vec<String> = self
                .t
                .firewall
                .scopes
                .iter()
                .map(|s| s.column.clone())
                .collect();
            let writable: Vec<String> = self
                .cols
                .iter()
                .filter(|c| !scopes.contains(&c.name))
                .map(|c| c.name.clone())
                .collect();
            self.t.guards.createable = writable.clone();
            self.t.guards.updatable = writable;
        }
        let id_ty = match self.t.id {
            IdKind::Uuid => ColumnType::Uuid,
            IdKind::Integer => ColumnType::Integer,
            IdKind::Text => ColumnType::Text,
        };
        let mut cols = vec![system_col("id", id_ty, true)];
        cols.extend(self.cols);
        cols.push(system_col("createdAt", ColumnType::Datetime, true));
        cols.push(system_col("createdBy", ColumnType::Text, false));
        cols.push(system_col("modifiedAt", ColumnType::Datetime, true));
        cols.push(system_col("modifiedBy", ColumnType::Text, false));
        if self.t.delete == DeleteMode::Soft {
            cols.push(system_col("deletedAt", ColumnType::Datetime, false));
            cols.push(system_col("deletedBy", ColumnType::Text, false));
            self.t.indexes.push(Index {
                name: format!("ix_{}_deletedAt", self.t.name),
                columns: vec!["deletedAt".into()],
                unique: false,
                global: false,
            });
        }
        // As the compiler does: a unique column is a unique index, kept within the scope.
        for c in cols.iter().filter(|c| c.unique) {
            let mut ix = Index {
                name: String::new(),
                columns: vec![c.name.clone()],
                unique: true,
                global: false,
            };
            ix.name = format!("ux_{}_{}", self.t.name, ix.key(&self.t.firewall).join("_"));
            self.t.indexes.push(ix);
        }
        for s in &self.t.firewall.scopes {
            self.t.indexes.push(Index {
                name: format!("ix_{}_{}", self.t.name, s.column),
                columns: vec![s.column.clone()],
                unique: false,
                global: false,
            });
        }
        self.t.columns = cols;
        self.t
    }
}

pub fn ir(tables: Vec<Table>) -> Ir {
    ir_with(tables, |_| {})
}

pub fn ir_with(tables: Vec<Table>, f: impl FnOnce(&mut Jwt)) -> Ir {
    let mut claims = BTreeMap::new();
    claims.insert("user-id".to_string(), "sub".to_string());
    claims.insert("roles".to_string(), "roles".to_string());
    claims.insert("org-id".to_string(), "org_id".to_string());
    let mut jwt = Jwt {
        // Unset on purpose: tests exercise the per-project dev secret.
        key: JwtKey::Secret {
            env: "WARD_RUNTIME_TEST_UNSET_SECRET".into(),
        },
        issuer: None,
        audience: None,
        leeway_seconds: 30,
    };
    f(&mut jwt);
    Ir {
        version: IR_VERSION,
        auth: Auth { jwt, claims },
        roles: ROLES.iter().map(|s| s.to_string()).collect(),
        tables,
        actions: Vec::new(),
        server: Default::default(),
        sources: Default::default(),
        hash: "test-hash".into(),
    }
}

/// `notes(title)`, every operation for `member+`: the plainest table, for tests about what
/// surrounds the pipeline (transport, limits, outages) rather than the policy.
pub fn notes_table() -> Table {
    table("notes")
        .text("title")
        .crud("member+")
        .access(Operation::Read, rule("member+"))
        .access(Operation::List, rule("member+"))
        .createable(&["title"])
        .updatable(&["title"])
        .build()
}
