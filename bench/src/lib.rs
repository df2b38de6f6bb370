//! Generated projects for the benchmarks, and the servers under test.

pub mod server;

use std::fmt::Write as _;

/// A project of `tables` tables shaped like real resources: six typed columns, a tenant scope,
/// role access with a condition, guards, a mask and soft delete. `variant` changes the policy of
/// the first table only (its page size), so consecutive variants reload without a migration;
/// `extra_column` adds a nullable column to the first table (an additive migration).
pub fn project(tables: usize, variant: u32, extra_column: bool) -> String {
    let mut out = String::from(
        "auth {\n    roles viewer member admin\n    jwt {\n        secret (env)WARD_BENCH_UNSET_SECRET\n    }\n}\n",
    );
    for i in 0..tables {
        let page = if i == 0 { 20 + variant % 50 } else { 50 };
        let extra = if i == 0 && extra_column {
            "    column extra text\n"
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"
table t{i} {{
    column name text required=#true max-length=200 searchable=#true display=#true
    column status text default="open"
    column amount integer min=0
    column ratio float
    column active boolean default=#true
    column dueOn date
    column email text
    column orgId text
{extra}
    firewall {{
        scope orgId (auth)org-id
    }}
    access {{
        list viewer+
        read viewer+
        create member+
        update member+ {{
            when status ne "closed"
        }}
        delete admin
    }}
    guards {{
        createable name status amount ratio active dueOn email
        updatable name status amount ratio active dueOn
    }}
    masking {{
        mask email email show=admin
    }}
    page default={page} max=100
    delete soft
}}
"#
        );
    }
    out
}
