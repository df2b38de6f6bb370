//! Parsing `tests/*.kdl` into [`CaseFile`]s. Every mistake is reported with its file and line;
//! nothing unknown is silently ignored, since a typo in an expectation would make a test vacuous.

use std::collections::BTreeMap;
use std::fmt;

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};
use serde_json::{Map, Value};

use super::{Body, Case, CaseFile, Expect, Request, Step, TokenKind, User};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

struct Parser<'a> {
    file: &'a str,
    text: &'a str,
}

pub fn parse_file(file: &str, text: &str) -> Result<CaseFile, ParseError> {
    let parser = Parser { file, text };
    let doc = KdlDocument::parse(text).map_err(|err| {
        let offset = err.diagnostics.first().map_or(0, |d| d.span.offset());
        let message = err
            .diagnostics
            .first()
            .and_then(|d| d.message.clone())
            .unwrap_or_else(|| "invalid KDL".to_owned());
        parser.error_at(offset, message)
    })?;
    let mut cases = Vec::new();
    for node in doc.nodes() {
        match name(node) {
            "test" => cases.push(parser.case(node)?),
            other => {
                return Err(parser.error(node, format!("expected `test`, found `{other}`")));
            }
        }
    }
    Ok(CaseFile {
        name: file.to_owned(),
        cases,
    })
}

fn name(node: &KdlNode) -> &str {
    node.name().value()
}

fn args(node: &KdlNode) -> impl Iterator<Item = &KdlEntry> {
    node.entries().iter().filter(|e| e.name().is_none())
}

fn props(node: &KdlNode) -> impl Iterator<Item = (&str, &KdlEntry)> {
    node.entries()
        .iter()
        .filter_map(|e| e.name().map(|n| (n.value(), e)))
}

fn children(node: &KdlNode) -> &[KdlNode] {
    node.children().map_or(&[], |c| c.nodes())
}

/// A KDL value as JSON. Integers beyond i64 are refused rather than rounded.
fn json_value(value: &KdlValue) -> Option<Value> {
    match value {
        KdlValue::String(s) => Some(Value::String(s.clone())),
        KdlValue::Integer(i) => i64::try_from(*i).ok().map(Value::from),
        KdlValue::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number),
        KdlValue::Bool(b) => Some(Value::Bool(*b)),
        KdlValue::Null => Some(Value::Null),
    }
}

fn text_value(value: &KdlValue) -> Option<String> {
    match value {
        KdlValue::String(s) => Some(s.clone()),
        KdlValue::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

impl Parser<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let before = self.text.get(..offset.min(self.text.len())).unwrap_or("");
        before.matches('\n').count() + 1
    }

    fn error_at(&self, offset: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            file: self.file.to_owned(),
            line: self.line_of(offset),
            message: message.into(),
        }
    }

    fn error(&self, node: &KdlNode, message: impl Into<String>) -> ParseError {
        self.error_at(node.span().offset(), message)
    }

    fn entry_error(&self, entry: &KdlEntry, message: impl Into<String>) -> ParseError {
        self.error_at(entry.span().offset(), message)
    }

    fn one_string_arg(&self, node: &KdlNode, what: &str) -> Result<String, ParseError> {
        let mut it = args(node);
        match (it.next(), it.next()) {
            (Some(e), None) => e
                .value()
                .as_string()
                .map(str::to_owned)
                .ok_or_else(|| self.entry_error(e, format!("{what} must be a string"))),
            _ => Err(self.error(node, format!("`{}` takes exactly one {what}", name(node)))),
        }
    }

    fn case(&self, node: &KdlNode) -> Result<Case, ParseError> {
        let name_ = self.one_string_arg(node, "test name")?;
        if let Some((key, entry)) = props(node).next() {
            return Err(self.entry_error(entry, format!("`test` has no property `{key}`")));
        }
        let mut case = Case {
            name: name_,
            line: self.line_of(node.span().offset()),
            users: BTreeMap::new(),
            steps: Vec::new(),
        };
        for child in children(node) {
            match name(child) {
                "user" => {
                    let user = self.user(child)?;
                    if case.users.contains_key(&user.name) {
                        return Err(
                            self.error(child, format!("user `{}` is declared twice", user.name))
                        );
                    }
                    case.users.insert(user.name.clone(), user);
                }
                "seed" => case.steps.push(self.seed(child, &case)?),
                "request" => case.steps.push(Step::Request(self.request(child, &case)?)),
                other => {
                    return Err(self.error(
                        child,
                        format!(
                            "unknown node `{other}` in a test: expected `user`, `seed` or `request`"
                        ),
                    ));
                }
            }
        }
        if case.steps.is_empty() {
            return Err(self.error(node, "a test needs at least one `request`"));
        }
        Ok(case)
    }

    fn user(&self, node: &KdlNode) -> Result<User, ParseError> {
        let user_name = self.one_string_arg(node, "user name")?;
        let mut user = User {
            sub: user_name.clone(),
            name: user_name,
            roles: Vec::new(),
            claims: BTreeMap::new(),
        };
        for (key, entry) in props(node) {
            let value = text_value(entry.value())
                .ok_or_else(|| self.entry_error(entry, format!("`{key}` must be a string")))?;
            match key {
                "sub" => user.sub = value,
                "roles" => {
                    user.roles = value
                        .split(',')
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(str::to_owned)
                        .collect();
                }
                "org" => {
                    user.claims.insert(ward_ir::CLAIM_ORG_ID.to_owned(), value);
                }
                other => {
                    user.claims.insert(other.to_owned(), value);
                }
            }
        }
        Ok(user)
    }

    fn known_user(&self, case: &Case, entry: &KdlEntry) -> Result<String, ParseError> {
        let user = entry
            .value()
            .as_string()
            .ok_or_else(|| self.entry_error(entry, "`as` must name a user"))?;
        if case.users.contains_key(user) {
            Ok(user.to_owned())
        } else {
            Err(self.entry_error(
                entry,
                format!("unknown user `{user}`: declare it with `user {user} …` first"),
            ))
        }
    }

    fn fields(&self, node: &KdlNode) -> Result<Map<String, Value>, ParseError> {
        let mut values = Map::new();
        for field in children(node) {
            let mut it = args(field);
            let value = match (it.next(), it.next()) {
                (Some(e), None) => {
                    json_value(e.value()).ok_or_else(|| self.entry_error(e, "unsupported value"))?
                }
                _ => {
                    return Err(self.error(
                        field,
                        format!("field `{}` takes exactly one value", name(field)),
                    ));
                }
            };
            if values.insert(name(field).to_owned(), value).is_some() {
                return Err(self.error(field, format!("field `{}` is given twice", name(field))));
            }
        }
        Ok(values)
    }

    fn seed(&self, node: &KdlNode, case: &Case) -> Result<Step, ParseError> {
        let table = self.one_string_arg(node, "table name")?;
        let mut user = None;
        for (key, entry) in props(node) {
            match key {
                "as" => user = Some(self.known_user(case, entry)?),
                other => {
                    return Err(
                        self.entry_error(entry, format!("`seed` has no property `{other}`"))
                    );
                }
            }
        }
        Ok(Step::Seed {
            table,
            user,
            values: self.fields(node)?,
            line: self.line_of(node.span().offset()),
        })
    }

    fn request(&self, node: &KdlNode, case: &Case) -> Result<Request, ParseError> {
        let mut it = args(node);
        let (method, path) = match (it.next(), it.next(), it.next()) {
            (Some(m), Some(p), None) => (
                m.value().as_string().map(str::to_ascii_uppercase),
                p.value().as_string().map(str::to_owned),
            ),
            _ => (None, None),
        };
        let (Some(method), Some(path)) = (method, path) else {
            return Err(self.error(node, "expected `request METHOD \"/path\"`"));
        };
        if !matches!(method.as_str(), "GET" | "POST" | "PATCH" | "PUT" | "DELETE") {
            return Err(self.error(node, format!("unsupported method `{method}`")));
        }
        let mut request = Request {
            method,
            path,
            user: None,
            token: TokenKind::Valid,
            body: None,
            expects: Vec::new(),
            line: self.line_of(node.span().offset()),
        };
        for (key, entry) in props(node) {
            match key {
                "as" => request.user = Some(self.known_user(case, entry)?),
                "token" => {
                    request.token = match entry.value().as_string() {
                        Some("valid") => TokenKind::Valid,
                        Some("expired") => TokenKind::Expired,
                        Some("forged") => TokenKind::Forged,
                        Some("malformed") => TokenKind::Malformed,
                        Some("none") => TokenKind::AlgNone,
                        _ => {
                            return Err(self.entry_error(
                                entry,
                                "`token` is one of valid, expired, forged, malformed, none",
                            ));
                        }
                    }
                }
                other => {
                    return Err(
                        self.entry_error(entry, format!("`request` has no property `{other}`"))
                    );
                }
            }
        }
        if request.token != TokenKind::Valid && request.user.is_none() {
            return Err(self.error(
                node,
                "a broken `token=` needs `as=USER` (whose claims it carries)",
            ));
        }
        for child in children(node) {
            match name(child) {
                "body" => {
                    self.no_second_body(child, &request)?;
                    request.body = Some(Body::Fields(self.fields(child)?));
                }
                "json" => {
                    self.no_second_body(child, &request)?;
                    request.body = Some(Body::Raw(self.one_string_arg(child, "JSON text")?));
                }
                "expect" => request.expects.extend(self.expects(child)?),
                other => {
                    return Err(self.error(
                        child,
                        format!("unknown node `{other}` in a request: expected `body`, `json` or `expect`"),
                    ));
                }
            }
        }
        if request.expects.is_empty() {
            return Err(self.error(node, "a request needs at least one `expect`"));
        }
        Ok(request)
    }

    fn no_second_body(&self, node: &KdlNode, request: &Request) -> Result<(), ParseError> {
        match request.body {
            Some(_) => Err(self.error(node, "a request has at most one `body` or `json`")),
            None => Ok(()),
        }
    }

    fn expects(&self, node: &KdlNode) -> Result<Vec<Expect>, ParseError> {
        let mut out = Vec::new();
        let positional: Vec<&KdlEntry> = args(node).collect();
        let mut absent = false;
        for (key, entry) in props(node) {
            let as_count = || {
                entry
                    .value()
                    .as_integer()
                    .and_then(|i| usize::try_from(i).ok())
                    .ok_or_else(|| {
                        self.entry_error(entry, format!("`{key}` must be a non-negative integer"))
                    })
            };
            match key {
                "status" => {
                    let status = as_count()?;
                    let status = u16::try_from(status)
                        .ok()
                        .filter(|s| (100..600).contains(s))
                        .ok_or_else(|| {
                            self.entry_error(entry, "`status` must be an HTTP status")
                        })?;
                    out.push(Expect::Status(status));
                }
                "count" => out.push(Expect::Count(as_count()?)),
                "code" => out.push(Expect::Code(
                    entry
                        .value()
                        .as_string()
                        .ok_or_else(|| self.entry_error(entry, "`code` must be a string"))?
                        .to_owned(),
                )),
                "absent" => match entry.value().as_bool() {
                    Some(true) => absent = true,
                    _ => return Err(self.entry_error(entry, "`absent` only takes #true")),
                },
                other => {
                    return Err(
                        self.entry_error(entry, format!("`expect` has no property `{other}`"))
                    );
                }
            }
        }
        match (positional.as_slice(), absent) {
            ([], false) => {}
            ([path], true) => out.push(Expect::Absent {
                path: self.path(path)?,
            }),
            ([path, value], false) => out.push(Expect::Equals {
                path: self.path(path)?,
                value: json_value(value.value())
                    .ok_or_else(|| self.entry_error(value, "unsupported value"))?,
            }),
            _ => {
                return Err(self.error(
                    node,
                    "expected `expect status=N`, `code=C`, `count=N`, `expect \"PATH\" VALUE` or `expect \"PATH\" absent=#true`",
                ));
            }
        }
        if out.is_empty() {
            return Err(self.error(node, "`expect` says nothing to check"));
        }
        Ok(out)
    }

    fn path(&self, entry: &KdlEntry) -> Result<String, ParseError> {
        let path = entry
            .value()
            .as_string()
            .ok_or_else(|| self.entry_error(entry, "a JSON path must be a string"))?;
        match super::run::JsonPath::parse(path) {
            Some(_) => Ok(path.to_owned()),
            None => {
                Err(self.entry_error(entry, format!("`{path}` is not a path like `data[0].name`")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC_EXAMPLE: &str = r#"
test "members see only their own org's rooms" {
    user alice roles=member org=acme
    user bob roles=member org=globex
    seed rooms as=alice { name "A"; capacity 4 }
    seed rooms as=bob { name "B"; capacity 8 }
    request GET "/api/rooms" as=alice {
        expect status=200
        expect count=1
        expect "data[0].name" "A"
    }
    request GET "/api/rooms/{rooms.1.id}" as=alice {
        expect status=404 code=NOT_FOUND
    }
}
"#;

    #[test]
    fn parses_the_spec_example() {
        let file = parse_file("tests/rooms.kdl", SPEC_EXAMPLE).expect("parses");
        let case = &file.cases[0];
        assert_eq!(case.name, "members see only their own org's rooms");
        assert_eq!(case.users["alice"].roles, vec!["member"]);
        assert_eq!(case.users["bob"].claims["org-id"], "globex");
        assert_eq!(case.steps.len(), 4);
        let Step::Request(last) = &case.steps[3] else {
            panic!("a request")
        };
        assert_eq!(last.path, "/api/rooms/{rooms.1.id}");
        assert_eq!(
            last.expects,
            vec![Expect::Status(404), Expect::Code("NOT_FOUND".into())]
        );
    }

    #[test]
    fn mistakes_are_reported_with_their_line() {
        let cases = [
            (
                "test \"t\" {\n  request GET \"/x\" as=nobody { expect status=200 }\n}",
                2,
                "unknown user",
            ),
            (
                "test \"t\" {\n  request GET \"/x\" {\n    expect stauts=200\n  }\n}",
                3,
                "no property `stauts`",
            ),
            (
                "test \"t\" {\n  request GET \"/x\"\n}",
                2,
                "at least one `expect`",
            ),
            ("test \"t\" {\n  user a\n}", 1, "at least one `request`"),
            ("tset \"t\" { }", 1, "expected `test`"),
            (
                "test \"t\" {\n  request FETCH \"/x\" { expect status=200 }\n}",
                2,
                "unsupported method",
            ),
            (
                "test \"t\" {\n  request GET \"/x\" { expect \"a[\" 1 }\n}",
                2,
                "not a path",
            ),
            (
                "test \"t\" {\n  request GET \"/x\" token=expired { expect status=401 }\n}",
                2,
                "needs `as=USER`",
            ),
            (
                "test \"t\" { request GET \"/x\" { expect status=200 } ",
                1,
                "",
            ),
        ];
        for (text, line, message) in cases {
            let err = parse_file("t.kdl", text).expect_err(text);
            assert_eq!(err.line, line, "{text}: {err}");
            assert!(err.message.contains(message), "{text}: {err}");
        }
    }
}
