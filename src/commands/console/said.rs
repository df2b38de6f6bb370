//! What `ward dev` last said about the project's files, for the console's diagnostics panel:
//! the watcher writes it, the page polls it.

use std::sync::{Arc, Mutex, PoisonError};

/// The last message `ward dev` printed about the files, numbered, for the console.
#[derive(Clone, Default)]
pub struct Said(Arc<Mutex<(u64, String)>>);

impl Said {
    pub fn set(&self, message: &str) {
        let mut last = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        last.0 += 1;
        last.1 = strip_ansi(message);
    }

    /// (how many messages so far, the last one).
    pub fn last(&self) -> (u64, String) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// `text` without terminal colour sequences (`ESC [ … m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
