//! Small helpers to read KDL nodes into the AST while reporting shape errors.

use kdl::{KdlEntry, KdlNode, KdlValue};
use miette::SourceSpan;

use super::ast::{Ident, Raw, RoleRef, Val};
use crate::diagnostics::{Diags, Span, codes};

pub struct Reader<'d> {
    pub file: usize,
    pub diags: &'d mut Diags,
}

/// Whether `s` is a valid name: `[A-Za-z_][A-Za-z0-9_]*`, plus `-` when `dash` is allowed.
pub fn is_ident(s: &str, dash: bool) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (dash && c == '-'))
}

pub fn args(n: &KdlNode) -> Vec<&KdlEntry> {
    n.entries().iter().filter(|e| e.name().is_none()).collect()
}

pub fn children(n: &KdlNode) -> &[KdlNode] {
    n.children().map_or(&[], |d| d.nodes())
}

fn raw(v: &KdlValue) -> Raw {
    match v {
        KdlValue::String(s) => Raw::Str(s.clone()),
        KdlValue::Integer(i) => Raw::Int(*i),
        KdlValue::Float(f) => Raw::Float(*f),
        KdlValue::Bool(b) => Raw::Bool(*b),
        KdlValue::Null => Raw::Null,
    }
}

impl Reader<'_> {
    pub fn sp(&self, s: SourceSpan) -> Span {
        Span::new(self.file, s.offset(), s.len())
    }

    pub fn name_span(&self, n: &KdlNode) -> Span {
        self.sp(n.name().span())
    }

    pub fn name<'n>(&self, n: &'n KdlNode) -> &'n str {
        n.name().value()
    }

    /// Report every property not in `allowed`.
    pub fn check_props(&mut self, n: &KdlNode, allowed: &[&str]) {
        for e in n.entries() {
            if let Some(key) = e.name()
                && !allowed.contains(&key.value())
            {
                let d = codes::unknown_property(
                    self.sp(key.span()),
                    key.value(),
                    self.name(n),
                    allowed,
                );
                self.diags.push(d);
            }
        }
    }

    /// Report a children block where none is allowed.
    pub fn no_children(&mut self, n: &KdlNode) {
        if let Some(c) = n.children() {
            let d = codes::unexpected_children(self.sp(c.span()), self.name(n));
            self.diags.push(d);
        }
    }

    /// Check the number of arguments; false (and reported) when out of range.
    pub fn arg_count(
        &mut self,
        n: &KdlNode,
        min: usize,
        max: Option<usize>,
        expected: &str,
    ) -> bool {
        let count = args(n).len();
        if count < min || max.is_some_and(|m| count > m) {
            let span = match args(n).get(max.unwrap_or(usize::MAX)) {
                Some(extra) => self.sp(extra.span()),
                None => self.name_span(n),
            };
            let d = codes::arg_count(span, self.name(n), expected, count);
            self.diags.push(d);
            return false;
        }
        true
    }

    pub fn val(&self, e: &KdlEntry) -> Val {
        Val {
            raw: raw(e.value()),
            ann: e.ty().map(|t| Ident {
                name: t.value().to_owned(),
                span: self.sp(t.span()),
            }),
            span: self.sp(e.span()),
        }
    }

    /// A plain string (no annotation), else a reported type error.
    pub fn string(&mut self, e: &KdlEntry, what: &str) -> Option<(String, Span)> {
        let span = self.sp(e.span());
        match (e.value(), e.ty()) {
            (KdlValue::String(s), None) => Some((s.clone(), span)),
            _ => {
                let found = self.val(e);
                let found = match &found.ann {
                    Some(a) => format!("a `({})` value", a.name),
                    None => found.raw.describe(),
                };
                self.diags.push(codes::arg_type(span, what, &found));
                None
            }
        }
    }

    /// A name: a plain string that is a valid identifier.
    pub fn ident(&mut self, e: &KdlEntry, what: &str, dash: bool) -> Option<Ident> {
        let (name, span) = self.string(e, what)?;
        if !is_ident(&name, dash) {
            self.diags
                .push(codes::invalid_identifier(span, what, &name, dash));
            return None;
        }
        Some(Ident { name, span })
    }

    /// Every argument as a name.
    pub fn idents(&mut self, n: &KdlNode, what: &str, dash: bool) -> Vec<Ident> {
        args(n)
            .into_iter()
            .filter_map(|e| self.ident(e, what, dash))
            .collect()
    }

    pub fn role_ref(&mut self, e: &KdlEntry) -> Option<RoleRef> {
        let (text, span) = self.string(e, "a role")?;
        let (name, plus) = match text.strip_suffix('+') {
            Some(n) => (n.to_owned(), true),
            None => (text.clone(), false),
        };
        if !is_ident(&name, true) {
            self.diags
                .push(codes::invalid_identifier(span, "a role", &text, true));
            return None;
        }
        Some(RoleRef { name, plus, span })
    }

    pub fn role_refs<'e>(
        &mut self,
        entries: impl IntoIterator<Item = &'e KdlEntry>,
    ) -> Vec<RoleRef> {
        entries
            .into_iter()
            .filter_map(|e| self.role_ref(e))
            .collect()
    }

    pub fn prop<'n>(&self, n: &'n KdlNode, key: &str) -> Option<&'n KdlEntry> {
        n.entries()
            .iter()
            .rev()
            .find(|e| e.name().is_some_and(|k| k.value() == key))
    }

    pub fn prop_bool(&mut self, n: &KdlNode, key: &str) -> Option<(bool, Span)> {
        let e = self.prop(n, key)?;
        self.boolean(e)
    }

    /// A `#true`/`#false` entry; anything else is reported.
    pub fn boolean(&mut self, e: &KdlEntry) -> Option<(bool, Span)> {
        let span = self.sp(e.span());
        match (e.value(), e.ty()) {
            (KdlValue::Bool(b), None) => Some((*b, span)),
            _ => {
                let found = self.val(e).raw.describe();
                self.diags
                    .push(codes::arg_type(span, "`#true` or `#false`", &found));
                None
            }
        }
    }

    pub fn prop_int(&mut self, n: &KdlNode, key: &str) -> Option<(i128, Span)> {
        let e = self.prop(n, key)?;
        self.int(e)
    }

    pub fn int(&mut self, e: &KdlEntry) -> Option<(i128, Span)> {
        let span = self.sp(e.span());
        match (e.value(), e.ty()) {
            (KdlValue::Integer(i), None) => Some((*i, span)),
            _ => {
                let found = self.val(e).raw.describe();
                self.diags.push(codes::arg_type(span, "an integer", &found));
                None
            }
        }
    }

    pub fn prop_str(&mut self, n: &KdlNode, key: &str, what: &str) -> Option<(String, Span)> {
        let e = self.prop(n, key)?;
        self.string(e, what)
    }

    pub fn prop_ident(&mut self, n: &KdlNode, key: &str, what: &str, dash: bool) -> Option<Ident> {
        let e = self.prop(n, key)?;
        self.ident(e, what, dash)
    }

    /// A keyword argument or property value among `allowed`.
    pub fn keyword<T: Copy>(
        &mut self,
        e: &KdlEntry,
        what: &str,
        allowed: &[(&str, T)],
    ) -> Option<T> {
        let (s, span) = self.string(e, what)?;
        if let Some((_, v)) = allowed.iter().find(|(k, _)| *k == s) {
            return Some(*v);
        }
        let names: Vec<&str> = allowed.iter().map(|(k, _)| *k).collect();
        self.diags
            .push(codes::unknown_keyword(span, what, &s, &names));
        None
    }

    /// Report a node that may appear only once; returns false for the duplicate.
    pub fn once(&mut self, n: &KdlNode, seen: &mut Vec<(String, Span)>) -> bool {
        let name = self.name(n).to_owned();
        let span = self.name_span(n);
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == name) {
            self.diags.push(codes::duplicate_node(span, &name, *first));
            return false;
        }
        seen.push((name, span));
        true
    }
}
