//! `ward dev` as a user types it: every form of the directory argument, run from another
//! working directory, reloads on a save within 2 s with one message, and reading the files
//! prints nothing (SPEC §8).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::{Served, arg, http, spawn_in, spawn_serving, tasks_project, text, token, ward};

/// The SPEC's promise: a save is served within this.
const SERVED_WITHIN: Duration = Duration::from_secs(2);
/// How long the log is watched for lines that should not come.
const QUIET: Duration = Duration::from_millis(600);

/// `ward dev DIR` with its stderr in `log`, answering /healthz.
fn dev(dir: &Path, log: &Path) -> Served {
    spawn_serving(
        "dev",
        dir,
        &[],
        Stdio::from(std::fs::File::create(log).unwrap()),
    )
}

/// The console page's CSRF token (its `ward-csrf` meta tag).
fn csrf_of(page: &str) -> String {
    page.split("name=\"ward-csrf\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned()
}

fn served_hash(port: u16) -> String {
    let (_, body) = http(port, "GET", "/healthz", None, None);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["ir"].as_str().unwrap_or_default().to_owned()
}

/// The hash `ward compile` gives the project as it is on disk now.
fn compiled_hash(dir: &Path) -> String {
    let out = ward(&["compile", arg(dir)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ir: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    ir["hash"].as_str().unwrap().to_owned()
}

/// Saves `text` to `path` the way many editors do, by renaming a finished file over it.
fn save(path: &Path, text: impl AsRef<[u8]>) -> std::io::Result<()> {
    let partial = path.with_extension("kdl.partial");
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, path)
}

/// Waits until `log` contains `needle` (ward dev prints a line per reload).
fn wait_for_log(log: &Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "`{needle}` never appeared in:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// What `ward dev` said, without the request lines (the test's own polling makes those).
fn said(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter(|l| !l.contains(" ward::request: "))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn log_lines(log: &Path) -> usize {
    said(log).lines().count()
}

/// Waits until the served IR is `hash`; false if it is not within `SERVED_WITHIN`.
fn served_within(port: u16, hash: &str) -> bool {
    let deadline = Instant::now() + SERVED_WITHIN;
    while Instant::now() < deadline {
        if served_hash(port) == hash {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Reads every file of the project over and over, as editors, `cat` and grep do.
fn read_repeatedly(dir: &Path) {
    for _ in 0..40 {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let _ = std::fs::read(&path).unwrap();
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A workspace with the tasks example in `proj/`, a sibling `other/`, and `link` → `proj`.
struct Workspace {
    _root: tempfile::TempDir,
    root: PathBuf,
    project: PathBuf,
}

fn workspace() -> Workspace {
    let root = tempfile::tempdir().unwrap();
    let base = root.path().canonicalize().unwrap();
    let project = base.join("proj");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::create_dir_all(base.join("other")).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tasks/tasks.kdl");
    std::fs::copy(example, project.join("tasks.kdl")).unwrap();
    std::os::unix::fs::symlink(&project, base.join("link")).unwrap();
    Workspace {
        _root: root,
        root: base,
        project,
    }
}

/// How the test saves a file.
#[derive(Clone, Copy)]
enum Save {
    /// Truncate and write in place (`fs::write`, many tools).
    InPlace,
    /// Write a temporary file and rename it over the original (vim, VS Code, `sed -i`).
    Rename,
}

/// `ward dev` started in `cwd` with `dir` (none: no argument at all) reloads one save within
/// 2 s with exactly one line, then stays silent while the files are read.
fn reloads_as_typed(cwd: &Path, dir: Option<&str>, project: &Path, how: Save) {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("dev.log");
    let mut args = vec!["dev"];
    args.extend(dir);
    let served = spawn_in(
        Some(cwd),
        &args,
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    wait_for_log(&log, "  member ");
    let first = served_hash(served.port);

    // Reading is not a change: nothing is printed, nothing reloads.
    let before = log_lines(&log);
    read_repeatedly(project);
    std::thread::sleep(QUIET);
    let after = said(&log);
    assert_eq!(after.lines().count(), before, "reading printed:\n{after}");
    assert_eq!(served_hash(served.port), first);

    let file = project.join("tasks.kdl");
    let source = std::fs::read_to_string(&file).unwrap();
    let edited = source.replace(
        "column ownerId text",
        "column ownerId text\n    column notes text",
    );
    match how {
        Save::InPlace => std::fs::write(&file, &edited).unwrap(),
        Save::Rename => save(&file, &edited).unwrap(),
    }
    let expected = compiled_hash(project);
    assert_ne!(expected, first);
    assert!(
        served_within(served.port, &expected),
        "not served within {SERVED_WITHIN:?}; log:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    // The one message of the save, and nothing after it, even while the files are read.
    read_repeatedly(project);
    std::thread::sleep(QUIET);
    let printed = said(&log);
    let new: Vec<&str> = printed.lines().skip(before).collect();
    assert_eq!(new.len(), 1, "one save, one line:\n{printed}");
    assert!(new[0].contains("reloaded in"), "{printed}");
    assert!(new[0].contains("tasks: +column notes"), "{printed}");
}

#[test]
fn a_relative_directory_reloads() {
    let ws = workspace();
    reloads_as_typed(&ws.root, Some("proj"), &ws.project, Save::InPlace);
}

#[test]
fn the_current_directory_reloads_as_dot_and_without_an_argument() {
    let ws = workspace();
    reloads_as_typed(&ws.project, Some("."), &ws.project, Save::Rename);
    let ws = workspace();
    reloads_as_typed(&ws.project, None, &ws.project, Save::InPlace);
}

#[test]
fn a_directory_through_dot_dot_reloads() {
    let ws = workspace();
    reloads_as_typed(&ws.root, Some("other/../proj"), &ws.project, Save::Rename);
}

#[test]
fn an_absolute_directory_reloads() {
    let ws = workspace();
    let absolute = ws.project.to_str().unwrap().to_owned();
    reloads_as_typed(
        &ws.root.join("other"),
        Some(&absolute),
        &ws.project,
        Save::InPlace,
    );
}

#[test]
fn a_symlinked_directory_reloads() {
    let ws = workspace();
    reloads_as_typed(&ws.root, Some("link"), &ws.project, Save::Rename);
}

#[test]
fn new_and_deleted_files_count_and_each_message_is_printed_once() {
    let project = tasks_project();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("dev.log");
    let served = dev(project.path(), &log);
    wait_for_log(&log, "  member ");

    // A new file with a new table.
    let notes = project.path().join("notes.kdl");
    std::fs::write(
        &notes,
        "table notes {\n    firewall none\n    access {\n        list public\n    }\n}\n",
    )
    .unwrap();
    wait_for_log(&log, "+table notes");
    assert_eq!(served_hash(served.port), compiled_hash(project.path()));
    let before = log_lines(&log);

    // A broken save: the diagnostic once, however often the files are read afterwards.
    std::fs::write(&notes, "table notes {\n    firewall nope\n}\n").unwrap();
    wait_for_log(&log, "still serving ir");
    read_repeatedly(project.path());
    std::thread::sleep(QUIET);
    let printed = said(&log);
    let new = printed.lines().skip(before).collect::<Vec<_>>().join("\n");
    assert_eq!(new.matches("still serving ir").count(), 1, "{printed}");
    assert_eq!(new.matches("error[E0011]").count(), 1, "{printed}");

    // Saving the same broken content again changes nothing and says nothing.
    std::fs::write(&notes, "table notes {\n    firewall nope\n}\n").unwrap();
    std::thread::sleep(QUIET);
    assert_eq!(said(&log), printed);

    // Fixing it back says so, and the IR it serves is the one from before the mistake.
    std::fs::write(
        &notes,
        "table notes {\n    firewall none\n    access {\n        list public\n    }\n}\n",
    )
    .unwrap();
    wait_for_log(&log, "fixed; serving ir");
    assert_eq!(served_hash(served.port), compiled_hash(project.path()));

    // Deleting the file counts: dropping its table is refused, once, with the plan.
    std::fs::remove_file(&notes).unwrap();
    wait_for_log(&log, "not reloaded");
    let printed = said(&log);
    read_repeatedly(project.path());
    std::thread::sleep(QUIET);
    let printed_later = said(&log);
    assert_eq!(printed_later, printed, "the refusal was printed again");
    assert_eq!(
        printed.matches("drop table `notes`").count(),
        1,
        "{printed}"
    );
}

#[test]
fn dev_reloads_on_save_keeps_serving_through_mistakes_and_refuses_data_loss() {
    let project = tasks_project();
    let state = tempfile::tempdir().unwrap();
    let log = state.path().join("dev.log");
    let served = dev(project.path(), &log);
    let printed = wait_for_log(&log, "watching for changes");
    // A dev token per role, accepted as that role.
    let member = printed
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("member "))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no dev token for member: {printed}"));
    let (status, body) = http(
        served.port,
        "POST",
        "/api/tasks",
        Some(member),
        Some(r#"{"title": "from the dev token"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let first = served_hash(served.port);
    let alice = token(project.path(), "alice");
    let (status, _) = http(
        served.port,
        "POST",
        "/api/tasks",
        Some(&alice),
        Some(r#"{"title": "kept"}"#),
    );
    assert_eq!(status, 201);

    let file = project.path().join("tasks.kdl");
    let source = std::fs::read_to_string(&file).unwrap();
    // A new column, writable: reloaded, and the API takes it at once.
    let added = source
        .replace(
            "column ownerId text",
            "column ownerId text\n    column notes text",
        )
        .replace("createable title isDone", "createable title isDone notes");
    save(&file, &added).unwrap();
    let printed = wait_for_log(&log, "reloaded in");
    assert!(printed.contains("tasks: +column notes"), "{printed}");
    let second = served_hash(served.port);
    assert_ne!(first, second);
    let (status, body) = http(
        served.port,
        "POST",
        "/api/tasks",
        Some(&alice),
        Some(r#"{"title": "t", "notes": "n"}"#),
    );
    assert_eq!(status, 201, "{body}");

    // A broken edit: the diagnostics are printed, the last good IR keeps serving.
    save(&file, added.replace("scope ownerId", "scope ownerid")).unwrap();
    let printed = wait_for_log(&log, "still serving ir");
    assert!(printed.contains("error[E0021]"), "{printed}");
    assert_eq!(served_hash(served.port), second);
    let (status, _) = http(served.port, "GET", "/api/tasks", Some(&alice), None);
    assert_eq!(status, 200);

    // Dropping the column would lose data: refused, with the plan and the command that applies
    // it, naming the directory.
    save(&file, &source).unwrap();
    let printed = wait_for_log(&log, "not reloaded");
    assert!(printed.contains("drop column `tasks.notes`"), "{printed}");
    let command = format!(
        "ward migrate {} --apply --allow-destructive",
        arg(project.path())
    );
    assert!(printed.contains(&command), "{printed}");
    assert_eq!(served_hash(served.port), second);
    let (_, body) = http(served.port, "GET", "/api/tasks?notes=n", Some(&alice), None);
    assert!(body.contains(r#""notes":"n""#), "the data stayed: {body}");

    // Applied by hand as the message says; the next save of the same content reloads.
    let out = ward(&[
        "migrate",
        arg(project.path()),
        "--apply",
        "--allow-destructive",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    save(&file, &source).unwrap();
    assert!(
        served_within(served.port, &first),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
}

/// SPEC §14: `ward dev` serves the console at `/_ward` under a strict CSP; minting a token needs
/// the page's CSRF token; the grid's token reads the API as that caller; `ward serve` has no
/// console.
#[test]
fn dev_serves_the_console_and_serve_does_not() {
    let project = tasks_project();
    let log = project.path().join("dev.log");
    let served = dev(project.path(), &log);
    let (status, head, page) = super::http_with(served.port, "GET", "/_ward", &[], None);
    assert_eq!(status, 200);
    assert!(
        head.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{head}"
    );
    assert!(head.contains("frame-ancestors 'none'"), "{head}");
    assert!(!page.contains("<script>"), "no inline script: {page}");
    let csrf = csrf_of(&page);
    let (status, _, project_json) =
        super::http_with(served.port, "GET", "/_ward/api/project", &[], None);
    assert_eq!(status, 200);
    assert!(
        project_json.contains("\"name\":\"tasks\""),
        "{project_json}"
    );
    let (status, _, said) = super::http_with(served.port, "GET", "/_ward/api/status", &[], None);
    assert_eq!(status, 200);
    assert!(said.contains("\"seq\":0"), "nothing said yet: {said}");
    let body = r#"{"sub":"ann","roles":["member"]}"#;
    let (status, _, _) = super::http_with(served.port, "POST", "/_ward/api/token", &[], Some(body));
    assert_eq!(status, 403, "minting without the CSRF token");
    let headers = [("x-ward-csrf", csrf.as_str())];
    let (status, _, minted) = super::http_with(
        served.port,
        "POST",
        "/_ward/api/token",
        &headers,
        Some(body),
    );
    assert_eq!(status, 201, "{minted}");
    let grid_token = minted
        .split("\"token\":\"")
        .nth(1)
        .unwrap()
        .trim_end_matches("\"}");
    // The token reads the API as ann would: her tasks, which a token from `ward token` sees too.
    let ann = token(project.path(), "ann");
    let created = http(
        served.port,
        "POST",
        "/api/tasks",
        Some(&ann),
        Some(r#"{"title":"t"}"#),
    );
    assert_eq!(created.0, 201);
    let via_console = http(served.port, "GET", "/api/tasks", Some(grid_token), None);
    let via_cli = http(served.port, "GET", "/api/tasks", Some(&ann), None);
    assert_eq!((via_console.0, &via_console.1), (200, &via_cli.1));

    // Why denied: the refusal an anonymous caller gets cites the rule at its file:line; a save
    // that only moves the rule moves the line the console cites.
    let (status, refusal) = http(served.port, "GET", "/api/tasks", None, None);
    assert_eq!(status, 401);
    let asked = format!(r#"{{"method":"GET","path":"/api/tasks","answer":{refusal}}}"#);
    let (status, _, _) = super::http_with(served.port, "POST", "/_ward/api/why", &[], Some(&asked));
    assert_eq!(status, 403, "asking why without the CSRF token");
    let cited = |port: u16| -> (String, u64) {
        let (status, _, why) =
            super::http_with(port, "POST", "/_ward/api/why", &headers, Some(&asked));
        assert_eq!(status, 200, "{why}");
        let why: serde_json::Value = serde_json::from_str(&why).unwrap();
        assert_eq!(why["rules"][0]["key"], "tasks.access.list", "{why}");
        let rule = &why["rules"][0];
        (
            rule["file"].as_str().unwrap().to_owned(),
            rule["line"].as_u64().unwrap(),
        )
    };
    let file = project.path().join("tasks.kdl");
    let source = std::fs::read_to_string(&file).unwrap();
    let line = 1 + source
        .lines()
        .position(|l| l.contains("list member"))
        .unwrap() as u64;
    assert_eq!(cited(served.port), ("tasks.kdl".to_owned(), line));
    save(&file, format!("// a line above everything\n{source}")).unwrap();
    let printed = wait_for_log(&log, "declarations moved");
    assert!(printed.contains("policy and schema unchanged"), "{printed}");
    assert_eq!(cited(served.port), ("tasks.kdl".to_owned(), line + 1));
    drop(served);
    let served = spawn_serving("serve", project.path(), &[], Stdio::null());
    let (status, _, body) = super::http_with(served.port, "GET", "/_ward", &[], None);
    assert_eq!((status, body.contains("NOT_FOUND")), (404, true));
}

/// SPEC §14: `ward serve --console` needs the project to name its operators, then admits only
/// their tokens to the console's data, mints nothing, and wants the CSRF token on a change.
#[test]
fn serve_console_admits_only_operators() {
    let project = tasks_project();
    let refused = ward(&["serve", arg(project.path()), "--console"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("server { operators ROLE… }"),
        "{}",
        text(&refused.stderr)
    );
    let file = project.path().join("tasks.kdl");
    let source = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!("{source}\nserver {{\n    operators member\n}}\n"),
    )
    .unwrap();
    let served = spawn_serving("serve", project.path(), &["--console"], Stdio::null());
    let port = served.port;
    let (status, head, page) = super::http_with(port, "GET", "/_ward", &[], None);
    assert_eq!(status, 200, "the page itself holds no data");
    assert!(head.contains("frame-ancestors 'none'"), "{head}");
    assert!(page.contains(r#"name="ward-mode" content="serve""#));
    let csrf = csrf_of(&page);
    let operator = format!("Bearer {}", token(project.path(), "olga"));
    let nobody = ward(&["token", arg(project.path()), "--sub", "nora"]);
    let nobody = format!("Bearer {}", text(&nobody.stdout).trim());
    for path in ["/_ward/api/project", "/_ward/api/status"] {
        let (status, _, body) = super::http_with(port, "GET", path, &[], None);
        assert_eq!(status, 401, "{path}: {body}");
        assert!(body.contains("AUTH_MISSING"), "{body}");
        let headers = [("authorization", nobody.as_str())];
        let (status, _, body) = super::http_with(port, "GET", path, &headers, None);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("ACCESS_ROLE_REQUIRED"), "{body}");
        let headers = [("authorization", operator.as_str())];
        let (status, _, body) = super::http_with(port, "GET", path, &headers, None);
        assert_eq!(status, 200, "{path}: {body}");
    }
    let asked =
        r#"{"method":"GET","path":"/api/tasks","answer":{"layer":"auth","code":"AUTH_MISSING"}}"#;
    let with_token = [("authorization", operator.as_str())];
    let (status, _, body) =
        super::http_with(port, "POST", "/_ward/api/why", &with_token, Some(asked));
    assert_eq!(status, 403, "no CSRF token: {body}");
    assert!(body.contains("CONSOLE_CSRF_MISSING"), "{body}");
    let with_csrf = [("x-ward-csrf", csrf.as_str())];
    let (status, _, _) = super::http_with(port, "POST", "/_ward/api/why", &with_csrf, Some(asked));
    assert_eq!(status, 401, "the CSRF token alone is not an operator");
    let both = [
        ("authorization", operator.as_str()),
        ("x-ward-csrf", csrf.as_str()),
    ];
    let (status, _, body) = super::http_with(port, "POST", "/_ward/api/why", &both, Some(asked));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""key":"tasks.access.list""#), "{body}");
    let mint = r#"{"sub":"x","roles":["member"]}"#;
    let (status, _, body) = super::http_with(port, "POST", "/_ward/api/token", &both, Some(mint));
    assert_eq!(status, 404, "a server mints no tokens: {body}");
}
