//! Security-relevant differences between two policies. A difference *widens* when the new
//! policy lets some caller do or see more: an operation allowed where it was denied or only
//! conditionally allowed, a condition or `check` changed or dropped (judged conservatively: a
//! reviewer must look), a field shown more plainly, a field newly writable, a firewall scope
//! removed or bypassed, a table added with any access. Everything else narrows or is neutral.

use serde::Serialize;

use super::explain::{Cell, Explanation, OperationRow, TablePolicy};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub table: String,
    pub what: String,
    pub widened: bool,
}

pub fn diff(old: &Explanation, new: &Explanation) -> Vec<Difference> {
    let mut out = Vec::new();
    for t in &new.tables {
        match old.tables.iter().find(|o| o.table == t.table) {
            Some(o) => table(o, old, t, new, &mut out),
            None => {
                let open = t
                    .operations
                    .iter()
                    .any(|r| r.cells.iter().any(|c| *c != Cell::Denied));
                out.push(Difference {
                    table: t.table.clone(),
                    what: "table added".to_owned(),
                    widened: open,
                });
            }
        }
    }
    for o in &old.tables {
        if !new.tables.iter().any(|t| t.table == o.table) {
            out.push(Difference {
                table: o.table.clone(),
                what: "table removed".to_owned(),
                widened: false,
            });
        }
    }
    operations(
        (&old.actions, old),
        (&new.actions, new),
        &mut |what, widened| {
            out.push(Difference {
                table: "(standalone)".to_owned(),
                what,
                widened,
            });
        },
    );
    out
}

/// Every caller either explanation names: one whose role only one side declares is compared
/// with the other side's `authenticated` column, which is how that side serves the token.
fn callers<'a>(old: &'a Explanation, new: &'a Explanation) -> Vec<&'a str> {
    let mut out: Vec<&str> = new.callers.iter().map(String::as_str).collect();
    for c in &old.callers {
        if !out.contains(&c.as_str()) {
            out.push(c);
        }
    }
    out
}

/// Operations matched by name, per caller.
fn operations(
    (old_rows, oe): (&[OperationRow], &Explanation),
    (new_rows, ne): (&[OperationRow], &Explanation),
    push: &mut dyn FnMut(String, bool),
) {
    for nrow in new_rows {
        let Some(orow) = old_rows.iter().find(|r| r.operation == nrow.operation) else {
            let open = nrow.cells.iter().any(|c| *c != Cell::Denied);
            push(format!("{} added", nrow.operation), open);
            continue;
        };
        for caller in callers(oe, ne) {
            let (Some(j), Some(i)) = (oe.column(caller), ne.column(caller)) else {
                continue;
            };
            let (Some(before), Some(after)) = (orow.cells.get(j), nrow.cells.get(i)) else {
                continue;
            };
            if before == after {
                continue;
            }
            let widened = matches!(
                (before, after),
                (Cell::Denied, _) | (Cell::When(_), Cell::Allowed | Cell::When(_))
            );
            push(
                format!(
                    "{} for {caller}: {} → {}",
                    nrow.operation,
                    cell_text(before),
                    cell_text(after)
                ),
                widened,
            );
        }
        if orow.check != nrow.check {
            let widened = nrow.check.is_none() || orow.check.is_some();
            push(
                format!(
                    "{} check: {} → {}",
                    nrow.operation,
                    orow.check.as_deref().unwrap_or("none"),
                    nrow.check.as_deref().unwrap_or("none")
                ),
                widened,
            );
        }
    }
    for orow in old_rows {
        if !new_rows.iter().any(|r| r.operation == orow.operation) {
            push(format!("{} removed", orow.operation), false);
        }
    }
}

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Denied => "denied".to_owned(),
        Cell::Allowed => "allowed".to_owned(),
        Cell::When(w) => format!("when {w}"),
    }
}

fn table(
    o: &TablePolicy,
    oe: &Explanation,
    t: &TablePolicy,
    ne: &Explanation,
    out: &mut Vec<Difference>,
) {
    let mut push = |what: String, widened: bool| {
        out.push(Difference {
            table: t.table.clone(),
            what,
            widened,
        });
    };
    // Firewall.
    for s in &o.scopes {
        match t.scopes.iter().find(|n| n.column == s.column) {
            None => push(format!("firewall scope on `{}` removed", s.column), true),
            Some(n) => {
                if n.auth != s.auth {
                    push(
                        format!(
                            "firewall scope on `{}` now compares (auth){}",
                            s.column, n.auth
                        ),
                        true,
                    );
                }
                for r in n.bypass.iter().filter(|r| !s.bypass.contains(r)) {
                    push(
                        format!("role `{r}` now bypasses the scope on `{}`", s.column),
                        true,
                    );
                }
            }
        }
    }
    for n in t
        .scopes
        .iter()
        .filter(|n| !o.scopes.iter().any(|s| s.column == n.column))
    {
        push(format!("firewall scope on `{}` added", n.column), false);
    }
    for r in t.bypass.iter().filter(|r| !o.bypass.contains(r)) {
        push(format!("role `{r}` now bypasses the firewall"), true);
    }
    for r in o.bypass.iter().filter(|r| !t.bypass.contains(r)) {
        push(format!("role `{r}` no longer bypasses the firewall"), false);
    }
    if o.errors != t.errors {
        push(
            format!("firewall errors {} → {}", o.errors, t.errors),
            t.errors == "reveal",
        );
    }
    // Triggers run on every write as the caller: any change needs a reviewer (a dropped
    // `require` lets writes through; an added write reaches other tables).
    for tr in t.triggers.iter().filter(|x| !o.triggers.contains(x)) {
        push(format!("trigger `{tr}` added or changed"), true);
    }
    for tr in o.triggers.iter().filter(|x| !t.triggers.contains(x)) {
        push(format!("trigger `{tr}` removed or changed"), true);
    }
    // History keeps old values readable: turning it on, keeping versions longer, or keeping a
    // column it left out lets callers see more.
    match (&o.history, &t.history) {
        (None, Some(_)) => push("history turned on".to_owned(), true),
        (Some(_), None) => push("history turned off".to_owned(), false),
        (Some(before), Some(after)) => {
            let days = |d: Option<u32>| d.map_or(u64::MAX, u64::from);
            if before.keep_days != after.keep_days {
                let text =
                    |d: Option<u32>| d.map_or("until purged".to_owned(), |d| format!("{d}d"));
                push(
                    format!(
                        "history kept {} → {}",
                        text(before.keep_days),
                        text(after.keep_days)
                    ),
                    days(after.keep_days) > days(before.keep_days),
                );
            }
            for c in before.exclude.iter().filter(|c| !after.exclude.contains(c)) {
                push(format!("history now keeps `{c}`"), true);
            }
            for c in after.exclude.iter().filter(|c| !before.exclude.contains(c)) {
                push(format!("history no longer keeps `{c}`"), false);
            }
        }
        (None, None) => {}
    }
    // A stream tells who may list a row the moment it changes, deletes included.
    match (o.realtime, t.realtime) {
        (false, true) => push("realtime turned on".to_owned(), true),
        (true, false) => push("realtime turned off".to_owned(), false),
        _ => {}
    }
    // Access (operations, views and actions, matched by name), per caller present in both.
    operations((&o.operations, oe), (&t.operations, ne), &mut push);
    // Fields.
    for f in &t.fields {
        let Some(of) = o.fields.iter().find(|x| x.field == f.field) else {
            continue;
        };
        for caller in callers(oe, ne) {
            let (Some(j), Some(i)) = (oe.column(caller), ne.column(caller)) else {
                continue;
            };
            let (Some(before), Some(after)) = (of.cells.get(j), f.cells.get(i)) else {
                continue;
            };
            if before.visibility != after.visibility {
                let widened = after.visibility.rank() > before.visibility.rank()
                    || (after.visibility.rank() == before.visibility.rank());
                push(
                    format!(
                        "`{}` for {caller}: {} → {}",
                        f.field, before.visibility, after.visibility
                    ),
                    widened,
                );
            }
            for (what, b, a) in [
                ("createable", before.create, after.create),
                ("updatable", before.update, after.update),
            ] {
                if b != a {
                    push(
                        format!(
                            "`{}` {} {what} for {caller}",
                            f.field,
                            if a { "now" } else { "no longer" }
                        ),
                        a,
                    );
                }
            }
        }
    }
}
