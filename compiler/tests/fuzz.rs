//! The compiler never panics and is deterministic: arbitrary bytes and mutations of valid
//! projects compile (or fail) the same way twice, and their diagnostics always render.

#![allow(clippy::unwrap_used)] // tests may panic on broken fixtures

use proptest::prelude::*;
use ward_compiler::{Sources, compile, diagnostics_json, render_diagnostics};

const SEED: &str = include_str!("ir/spec_example.kdl");

const TOKENS: &[&str] = &[
    "member+",
    "public",
    "#true",
    "#false",
    "#null",
    "{",
    "}",
    ";",
    "\"",
    "(auth)",
    "(time)now",
    "(env)",
    "uuid",
    "integer",
    "text",
    "eq",
    "like",
    "in",
    "is-null",
    "cascade",
    "none",
    "open",
    "0",
    "-1",
    "1.5",
    "99999999999999999999999",
    "é",
    "😀",
    "=",
    "r#\"x\"#",
    "/-",
    "\\",
    "table",
    "column",
    "firewall",
    "access",
    "guards",
    "masking",
    "any",
    "all",
    "not",
    "role",
    "when",
    "check",
    "use",
    "template",
    "view",
    "relation",
];

fn check(text: &str) {
    let sources = Sources::single("fuzz.kdl", text);
    let a = compile(&sources);
    let b = compile(&sources);
    assert_eq!(a.ir, b.ir);
    assert_eq!(a.diagnostics, b.diagnostics);
    assert_eq!(a.ir.is_some(), !a.has_errors());
    let r1 = render_diagnostics(&a.diagnostics, &sources, false);
    let r2 = render_diagnostics(&b.diagnostics, &sources, false);
    assert_eq!(r1, r2);
    let _ = render_diagnostics(&a.diagnostics, &sources, true);
    let _ = diagnostics_json(&a.diagnostics, &sources);
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    Token(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(l, w, t)| Mutation::Token(l, w, t)),
    ]
}

fn apply(text: &str, muts: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for m in muts {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match *m {
            Mutation::Delete(i) => {
                lines.remove(i % n);
            }
            Mutation::Duplicate(i) => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            Mutation::Swap(a, b) => lines.swap(a % n, b % n),
            Mutation::Token(l, w, t) => {
                let line = &lines[l % n];
                let mut words: Vec<String> = line.split(' ').map(str::to_owned).collect();
                let wn = words.len();
                words[w % wn] = TOKENS[t % TOKENS.len()].to_owned();
                lines[l % n] = words.join(" ");
            }
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn kdl_like_text_never_panics(words in proptest::collection::vec(0usize..TOKENS.len(), 0..60)) {
        let text: Vec<&str> = words.iter().map(|i| TOKENS[*i]).collect();
        check(&text.join(" "));
    }

    #[test]
    fn mutated_projects_never_panic(muts in proptest::collection::vec(mutation(), 1..6)) {
        check(&apply(SEED, &muts));
    }
}

#[test]
fn seed_is_valid() {
    let c = compile(&Sources::single("seed.kdl", SEED));
    assert!(c.ir.is_some(), "{:?}", c.diagnostics);
}
