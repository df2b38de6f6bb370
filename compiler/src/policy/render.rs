//! `ward explain` output: aligned text for a terminal, or markdown tables for a pull request.

use std::fmt::Write as _;

use super::explain::{Cell, Explanation, FieldAccess, OperationRow, TablePolicy};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
}

pub fn render(e: &Explanation, format: Format) -> String {
    let mut out = String::new();
    if format == Format::Text {
        out.push_str(
            "Access: yes | - (denied) | when … (on the rows where it holds). Fields: visible | masked:KIND (+owner: the row's owner sees it) | hidden | - (no read access); c = createable, u = updatable.\n",
        );
    }
    for t in &e.tables {
        out.push('\n');
        table(&mut out, e, t, format);
    }
    if !e.actions.is_empty() {
        let mut header = vec!["operation".to_owned()];
        header.extend(e.callers.iter().cloned());
        let rows = operation_rows(&e.actions);
        out.push('\n');
        match format {
            Format::Text => {
                out.push_str("standalone actions (/api/actions/A)\n");
                grid(&mut out, &header, &rows, "  ");
            }
            Format::Markdown => {
                out.push_str("## standalone actions\n\n");
                markdown(&mut out, &header, &rows);
            }
        }
    }
    out
}

fn cell(c: &Cell) -> String {
    match c {
        Cell::Denied => "-".to_owned(),
        Cell::Allowed => "yes".to_owned(),
        Cell::When(w) => format!("when {w}"),
    }
}

fn operation_rows(rows: &[OperationRow]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| {
            let mut row = vec![r.operation.clone()];
            row.extend(r.cells.iter().map(cell));
            row
        })
        .collect()
}

fn field(f: &FieldAccess) -> String {
    let mut s = f.visibility.to_string();
    let w = format!(
        "{}{}",
        if f.create { "c" } else { "" },
        if f.update { "u" } else { "" }
    );
    if !w.is_empty() {
        s.push(' ');
        s.push_str(&w);
    }
    s
}

fn summary(t: &TablePolicy) -> String {
    let firewall = if t.scopes.is_empty() {
        "none".to_owned()
    } else {
        let scopes: Vec<String> = t
            .scopes
            .iter()
            .map(|s| {
                let bypass = if s.bypass.is_empty() {
                    String::new()
                } else {
                    format!(" (bypass {})", s.bypass.join(" "))
                };
                format!("{} = (auth){}{bypass}", s.column, s.auth)
            })
            .collect();
        let all = if t.bypass.is_empty() {
            String::new()
        } else {
            format!("; bypass {}", t.bypass.join(" "))
        };
        format!("{}{all}; errors {}", scopes.join(", "), t.errors)
    };
    let mut out = format!("firewall {firewall}; delete {}", t.delete);
    for tr in &t.triggers {
        let _ = write!(out, "; {tr}");
    }
    if let Some(h) = &t.history {
        let keep = h
            .keep_days
            .map_or("until purged".to_owned(), |d| format!("{d} days"));
        let _ = write!(out, "; history kept {keep}");
        if !h.exclude.is_empty() {
            let _ = write!(out, " without {}", h.exclude.join(" "));
        }
    }
    if t.realtime {
        out.push_str("; realtime");
    }
    out
}

fn table(out: &mut String, e: &Explanation, t: &TablePolicy, format: Format) {
    let mut header = vec!["operation".to_owned()];
    header.extend(e.callers.iter().cloned());
    let ops = operation_rows(&t.operations);
    let mut fheader = vec!["field".to_owned()];
    fheader.extend(e.callers.iter().cloned());
    let fields: Vec<Vec<String>> = t
        .fields
        .iter()
        .map(|f| {
            let mut name = f.field.clone();
            if f.kind != "column" {
                let _ = write!(name, " ({})", f.kind);
            }
            if f.immutable {
                name.push_str(" (immutable)");
            }
            if f.protected {
                name.push_str(" (protected)");
            }
            let mut row = vec![name];
            row.extend(f.cells.iter().map(field));
            row
        })
        .collect();
    let checks: Vec<String> = t
        .operations
        .iter()
        .filter_map(|r| {
            r.check
                .as_ref()
                .map(|c| format!("{} check: {c}", r.operation))
        })
        .collect();
    match format {
        Format::Text => {
            let _ = writeln!(out, "table {} — {}", t.table, summary(t));
            grid(out, &header, &ops, "  ");
            for c in &checks {
                let _ = writeln!(out, "  {c}");
            }
            grid(out, &fheader, &fields, "  ");
        }
        Format::Markdown => {
            let _ = writeln!(out, "## {}\n\n{}\n", t.table, summary(t));
            markdown(out, &header, &ops);
            if !checks.is_empty() {
                out.push('\n');
                for c in &checks {
                    let _ = writeln!(out, "- {c}");
                }
            }
            out.push('\n');
            markdown(out, &fheader, &fields);
        }
    }
}

fn grid(out: &mut String, header: &[String], rows: &[Vec<String>], indent: &str) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: &[String]| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{indent}{}", padded.join("  ").trim_end())
    };
    let _ = writeln!(out, "{}", line(header));
    for r in rows {
        let _ = writeln!(out, "{}", line(r));
    }
}

fn markdown(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    let esc = |s: &str| s.replace('|', "\\|");
    let _ = writeln!(
        out,
        "| {} |",
        header
            .iter()
            .map(|h| esc(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}|", vec!["---"; header.len()].join("|"));
    for r in rows {
        let _ = writeln!(
            out,
            "| {} |",
            r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
        );
    }
}
