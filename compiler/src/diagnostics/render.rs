//! Rendering diagnostics: miette's graphical report for humans, JSON for machines.
//!
//! Spans are clamped to the file and to character boundaries here, so no input can make the
//! renderer panic or fail.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};

use super::{Diagnostic, Label, Severity, Span};
use crate::Sources;

/// A diagnostic bound to the text of its primary file, as miette wants it.
struct Bound<'a> {
    diag: &'a Diagnostic,
    source: NamedSource<String>,
    labels: Vec<LabeledSpan>,
    related: Vec<Related>,
}

/// A secondary label that lives in another file, shown as a nested note.
struct Related {
    message: String,
    source: NamedSource<String>,
    label: LabeledSpan,
}

impl fmt::Debug for Bound<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diag, f)
    }
}
impl fmt::Display for Bound<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}
impl std::error::Error for Bound<'_> {}

impl fmt::Debug for Related {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl fmt::Display for Related {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for Related {}

impl miette::Diagnostic for Related {
    fn severity(&self) -> Option<miette::Severity> {
        Some(miette::Severity::Advice)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(self.label.clone())))
    }
}

impl miette::Diagnostic for Bound<'_> {
    // The code is part of the severity marker (`error[E0021]:`, as rustc writes it), so miette's
    // separate code header stays empty.
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        None
    }
    fn severity(&self) -> Option<miette::Severity> {
        miette::Diagnostic::severity(self.diag)
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        miette::Diagnostic::help(self.diag)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

/// Clamp a span into `text`, on character boundaries.
pub(crate) fn clamp(text: &str, span: Span) -> (usize, usize) {
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while i > 0 && !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(span.start);
    let end = floor(span.end.max(span.start)).max(start);
    (start, end - start)
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let (offset, _) = clamp(text, Span::new(0, offset, 0));
    let before = text.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

fn named(sources: &Sources, file: usize) -> (String, String) {
    match sources.files.get(file) {
        Some(f) => (f.name.clone(), f.text.clone()),
        None => ("<unknown>".to_owned(), String::new()),
    }
}

fn labeled(text: &str, label: &Label, primary: bool) -> LabeledSpan {
    let span = clamp(text, label.span);
    let msg = Some(label.message.clone()).filter(|m| !m.is_empty());
    if primary {
        LabeledSpan::new_primary_with_span(msg, span)
    } else {
        LabeledSpan::new_with_span(msg, span)
    }
}

fn bind<'a>(diag: &'a Diagnostic, sources: &Sources) -> Bound<'a> {
    let file = diag.primary.span.file;
    let (name, text) = named(sources, file);
    let mut labels = vec![labeled(&text, &diag.primary, true)];
    let mut related = Vec::new();
    for l in &diag.secondary {
        if l.span.file == file {
            labels.push(labeled(&text, l, false));
        } else {
            let (rname, rtext) = named(sources, l.span.file);
            related.push(Related {
                message: l.message.clone(),
                label: labeled(&rtext, l, false),
                source: NamedSource::new(rname, rtext),
            });
        }
    }
    Bound {
        diag,
        source: NamedSource::new(name, text),
        labels,
        related,
    }
}

/// Render diagnostics with miette's graphical handler. `color = false` gives deterministic,
/// plain unicode output of fixed width 100 (what the UI goldens hold).
pub fn render_diagnostics(diags: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let mut out = String::new();
    for d in diags {
        let mut theme = theme.clone();
        let marker = format!("{}[{}]:", d.severity.name(), d.code);
        theme.characters.error.clone_from(&marker);
        theme.characters.warning = marker;
        theme.characters.advice = "note:".to_owned();
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_links(false)
            .with_urls(false)
            .without_syntax_highlighting();
        let bound = bind(d, sources);
        let mut one = String::new();
        if handler.render_report(&mut one, &bound).is_err() {
            one = format!("{}[{}]: {}\n", d.severity.name(), d.code, d.message);
        }
        out.push_str(&one);
        out.push('\n');
    }
    out
}

fn label_json(label: &Label, sources: &Sources) -> serde_json::Value {
    let (name, text) = named(sources, label.span.file);
    let (line, column) = line_col(&text, label.span.start);
    serde_json::json!({
        "message": label.message,
        "file": name,
        "line": line,
        "column": column,
    })
}

/// Machine-readable diagnostics (`ward check --format json`).
pub fn diagnostics_json(diags: &[Diagnostic], sources: &Sources) -> serde_json::Value {
    let items: Vec<serde_json::Value> = diags
        .iter()
        .map(|d| {
            let primary = label_json(&d.primary, sources);
            let mut labels = vec![primary.clone()];
            labels.extend(d.secondary.iter().map(|l| label_json(l, sources)));
            serde_json::json!({
                "code": d.code,
                "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": d.message,
                "file": primary["file"],
                "line": primary["line"],
                "column": primary["column"],
                "help": d.help,
                "labels": labels,
            })
        })
        .collect();
    serde_json::Value::Array(items)
}
