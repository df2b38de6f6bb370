//! Runnable transcripts of a scenario: the callers, the seeds and every HTTP exchange (method,
//! uri, caller, body → status, body), printed when a case fails.

use std::fmt::Write as _;

use crate::cases::TokenKind;
use crate::request::ApiRequest;
use crate::scenario::CallerSpec;
use crate::target::Exchange;

#[derive(Debug, Default, Clone)]
pub struct Transcript {
    text: String,
}

/// A caller in one line.
pub fn caller(spec: &CallerSpec) -> String {
    match spec {
        CallerSpec::Anonymous => "anonymous".to_owned(),
        CallerSpec::User(u) => user(u),
        CallerSpec::Broken(u, kind) => format!("{} with a {} token", user(u), token(*kind)),
    }
}

fn user(u: &crate::cases::User) -> String {
    let claims: Vec<String> = u.claims.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{} (sub={} roles=[{}]{}{})",
        u.name,
        u.sub,
        u.roles.join(","),
        if claims.is_empty() { "" } else { " " },
        claims.join(" ")
    )
}

fn token(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Valid => "valid",
        TokenKind::Expired => "expired",
        TokenKind::Forged => "forged",
        TokenKind::Malformed => "malformed",
        TokenKind::AlgNone => "alg:none",
    }
}

/// Bodies are cut in transcripts beyond this many bytes (oversized-batch bodies).
const SHOWN: usize = 2000;

fn cut(text: &str) -> String {
    if text.len() <= SHOWN {
        return text.to_owned();
    }
    let mut end = SHOWN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

impl Transcript {
    pub fn line(&mut self, text: impl AsRef<str>) {
        let _ = writeln!(self.text, "{}", text.as_ref());
    }

    pub fn exchange(&mut self, req: &ApiRequest, got: &Exchange) {
        let _ = writeln!(
            self.text,
            "> {} {} as {}",
            req.method,
            req.uri(),
            caller(&req.caller)
        );
        if let Some((name, value)) = req.precondition.map(|p| p.header()) {
            let _ = writeln!(self.text, "  {name}: {value}");
        }
        if let Some(body) = &req.body {
            let _ = writeln!(self.text, "  {}", cut(body));
        }
        let _ = writeln!(self.text, "< {} {}", got.status, cut(&got.text));
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn into_text(self) -> String {
        self.text
    }
}
