//! The file watcher behind `ward dev`: which file system events may have changed a project.
//!
//! The project is watched at its canonical path, because the events the OS reports carry
//! absolute, symlink-free paths: a DIR typed as `.`, `examples/tasks`, `a/../b` or a symlink
//! must still recognise them. Opening or reading a file (an editor, `cat`, ward's own recompile)
//! never counts, or every reload would cause the next one. Whether the content really changed is
//! for the caller to decide, by comparing what it reads; this module only says "look again".

use std::path::{Component, Path};
use std::time::Duration;

use anyhow::Context;
use notify_debouncer_full::notify::event::{AccessKind, AccessMode};
use notify_debouncer_full::notify::{EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// Watches a project until dropped; each message on the receiver means "the files may have
/// changed" (several saves within one debounce are one message).
pub struct Watch {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

pub fn watch(dir: &Path, debounce: Duration) -> anyhow::Result<(Watch, UnboundedReceiver<()>)> {
    let root = dir
        .canonicalize()
        .with_context(|| format!("could not resolve {}", dir.display()))?;
    let (tx, rx) = unbounded_channel();
    let watched = root.clone();
    let mut debouncer = new_debouncer(debounce, None, move |res: DebounceEventResult| {
        let relevant = match res {
            Ok(events) => events.iter().any(|e| {
                may_change_content(&e.event.kind)
                    && e.event.paths.iter().any(|p| may_be_source(&watched, p))
            }),
            // The watcher lost track (an overflowed queue, say): look again; an unchanged
            // project prints nothing.
            Err(_) => true,
        };
        if relevant {
            // The receiver lives as long as the server; a send can only fail at exit.
            let _ = tx.send(());
        }
    })
    .context("could not start the file watcher")?;
    debouncer
        .watch(&root, RecursiveMode::Recursive)
        .with_context(|| format!("could not watch {}", dir.display()))?;
    Ok((
        Watch {
            _debouncer: debouncer,
        },
        rx,
    ))
}

/// Every event except those of a file being opened, read or closed unwritten.
fn may_change_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    }
}

/// A path under `root` that is, was or may contain a resource file: a `.kdl` file, or a path
/// that is no longer a file (removed, renamed away, or a directory of them), outside hidden
/// directories and the top-level `tests/` — the files `Sources::load` reads. A temporary file
/// an editor renames over a resource is not one; the rename's target is.
fn may_be_source(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    let parts: Vec<Component<'_>> = rel.components().collect();
    let in_tests = parts.len() > 1 && parts[0] == Component::Normal("tests".as_ref());
    let hidden = parts.iter().any(|c| match c {
        Component::Normal(n) => n.to_string_lossy().starts_with('.'),
        _ => false,
    });
    if in_tests || hidden || parts.is_empty() {
        return false;
    }
    rel.extension().is_some_and(|x| x == "kdl") || !path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify_debouncer_full::notify::event::{CreateKind, DataChange, ModifyKind, RemoveKind};

    #[test]
    fn reading_a_file_is_not_a_change() {
        assert!(!may_change_content(&EventKind::Access(AccessKind::Open(
            AccessMode::Any
        ))));
        assert!(!may_change_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(!may_change_content(&EventKind::Access(AccessKind::Read)));
        assert!(may_change_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(may_change_content(&EventKind::Modify(ModifyKind::Data(
            DataChange::Any
        ))));
        assert!(may_change_content(&EventKind::Create(CreateKind::File)));
        assert!(may_change_content(&EventKind::Remove(RemoveKind::File)));
    }

    #[test]
    fn only_paths_that_can_hold_resources_count() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let file = |rel: &str| {
            let path = root.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(&path, "").unwrap();
            path
        };
        assert!(may_be_source(&root, &file("app.kdl")));
        assert!(may_be_source(&root, &file("tables/rooms.kdl")));
        assert!(may_be_source(&root, &root.join("gone.kdl")));
        assert!(may_be_source(&root, &root.join("removed-folder")));
        assert!(!may_be_source(&root, &file("tests/cases.kdl")));
        assert!(!may_be_source(&root, &file(".ward/data.db")));
        assert!(!may_be_source(&root, &file(".git/x.kdl")));
        assert!(!may_be_source(&root, &file("README.md")));
        assert!(!may_be_source(&root, &file("app.kdl.partial")));
        assert!(!may_be_source(&root, Path::new("/elsewhere/app.kdl")));
        assert!(!may_be_source(&root, &root));
    }
}
