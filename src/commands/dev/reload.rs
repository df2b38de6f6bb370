//! What `ward dev` does when the files may have changed: read them and, only when their content
//! differs from what it last handled, recompile, migrate and swap the IR in. One save is one
//! message; looking again at the same files says nothing (SPEC §8).

use std::path::PathBuf;
use std::time::Instant;

use ward_compiler::Sources;
use ward_runtime::{App, ReloadError};

use super::short;
use crate::commands::console::Said;
use crate::commands::project;

/// The reload loop's memory between looks.
pub struct Reloader {
    app: App,
    dir: PathBuf,
    allow_destructive: bool,
    /// The files last handled; `None` after they could not be read.
    handled: Option<Sources>,
    /// The database refused the last handling (a plan that could lose data, a failed
    /// migration): the same files are tried again on the next look, since the database may
    /// have been migrated in between (`ward migrate --apply`).
    retry: bool,
    /// The last handling found errors (or no files): the next good save says they are fixed.
    broken: bool,
    /// What was printed last, so a retry that ends the same way stays silent.
    last_said: String,
    /// What the console shows of it.
    said: Said,
}

/// How a reload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Served, or nothing to do: the same files end the same way.
    Settled,
    /// Refused by the compiler: the same files end the same way.
    Broken,
    /// Refused by the database: the same files may end differently later.
    Retry,
}

impl Reloader {
    /// `serving` are the files the app was started from.
    pub fn new(
        app: App,
        dir: PathBuf,
        allow_destructive: bool,
        serving: Sources,
        said: Said,
    ) -> Reloader {
        Reloader {
            said,
            app,
            dir,
            allow_destructive,
            handled: Some(serving),
            retry: false,
            broken: false,
            last_said: String::new(),
        }
    }

    /// The files may have changed: reload if they did.
    pub async fn look(&mut self) {
        let sources = match project::load(&self.dir) {
            Ok(sources) => sources,
            Err(e) => {
                self.handled = None;
                self.broken = true;
                let current = self.app.ir_hash();
                self.say_once(format!(
                    "ward dev: {e:#}; still serving ir {}\n",
                    short(&current)
                ));
                return;
            }
        };
        let same_files = self.handled.as_ref() == Some(&sources);
        if same_files && !self.retry {
            return;
        }
        let (message, outcome) = self.reload(sources.clone()).await;
        self.handled = Some(sources);
        self.retry = outcome == Outcome::Retry;
        self.broken = outcome == Outcome::Broken;
        if same_files {
            self.say_once(message);
        } else {
            self.say(message);
        }
    }

    fn say(&mut self, message: String) {
        eprint!("{message}");
        self.said.set(&message);
        self.last_said = message;
    }

    fn say_once(&mut self, message: String) {
        if message != self.last_said {
            self.say(message);
        }
    }

    /// Recompile `sources`, then migrate and swap; the message to print and how it ended.
    async fn reload(&self, sources: Sources) -> (String, Outcome) {
        let started = Instant::now();
        let current = self.app.ir_hash();
        let compiled = project::compile(sources);
        let mut message = compiled.rendered_diagnostics();
        let errors = compiled.compilation.error_count();
        let Some(ir) = compiled.compilation.ir else {
            message.push_str(&format!(
                "ward dev: {errors} error(s); still serving ir {}\n",
                short(&current)
            ));
            return (message, Outcome::Broken);
        };
        // Same policy, but lines moved: swap it in anyway so the console cites the lines as
        // they are now (the migration finds nothing to do).
        if ir.hash == current && ir.sources == self.app.ir_now().sources {
            if self.broken {
                message.push_str(&format!(
                    "ward dev: fixed; serving ir {} as before the errors\n",
                    short(&current)
                ));
            } else {
                message.push_str(&format!("ward dev: no changes (ir {})\n", short(&current)));
            }
            return (message, Outcome::Settled);
        }
        match self.app.reload(ir, self.allow_destructive).await {
            Ok(done) => {
                let mut what = done.changes.join("; ");
                if what.is_empty() && done.from_hash == done.to_hash {
                    what = "declarations moved, policy and schema unchanged".to_owned();
                } else if what.is_empty() {
                    what = "no policy or schema changes".to_owned();
                }
                message.push_str(&format!(
                    "ward dev: reloaded in {} ms (ir {} → {}): {what}\n",
                    started.elapsed().as_millis(),
                    short(&done.from_hash),
                    short(&done.to_hash),
                ));
                (message, Outcome::Settled)
            }
            Err(ReloadError::Destructive(plan)) => {
                message.push_str(&format!(
                    "ward dev: not reloaded, the migration could lose data; still serving ir {}. Plan:\n{plan}\n  apply it with `ward migrate {} --apply --allow-destructive` (or run `ward dev --allow-destructive`); ward dev tries again at the next save\n",
                    short(&current),
                    project::shell_word(&self.dir),
                ));
                (message, Outcome::Retry)
            }
            Err(e) => {
                message.push_str(&format!(
                    "ward dev: not reloaded: {e}; still serving ir {}\n",
                    short(&current)
                ));
                (message, Outcome::Retry)
            }
        }
    }
}
