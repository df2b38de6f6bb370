//! The `ward` binary end to end: exit codes, output, and a served example answering over HTTP.

#![allow(clippy::unwrap_used)]

mod dev;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn ward(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .env_remove("WARD_JWT_SECRET")
        .env_remove("WARD_DATABASE_URL")
        .env_remove("WARD_LISTEN")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of the tasks example in a fresh directory, so tests never write into the repository.
fn tasks_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tasks/tasks.kdl");
    std::fs::copy(example, dir.path().join("tasks.kdl")).unwrap();
    dir
}

fn broken_project() -> tempfile::TempDir {
    let dir = tasks_project();
    let path = dir.path().join("tasks.kdl");
    let source = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, source.replace("scope ownerId", "scope ownerid")).unwrap();
    dir
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn check_accepts_the_example() {
    let dir = tasks_project();
    let out = ward(&["check", arg(dir.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The verdict is the command's output: `ward check DIR 2>/dev/null` still says it.
    assert!(text(&out.stdout).contains("ok: 1 table(s)"));
}

#[test]
fn check_reports_a_broken_file_with_code_span_and_help() {
    let dir = broken_project();
    let out = ward(&["check", arg(dir.path())]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("E0021"), "{stderr}");
    assert!(
        stderr.contains("tasks.kdl:"),
        "the span names the file: {stderr}"
    );
    assert!(
        stderr.contains("scope ownerid"),
        "the source line is shown: {stderr}"
    );
    assert!(stderr.contains("did you mean `ownerId`?"), "{stderr}");
    assert!(text(&out.stdout).contains("failed: 1 error(s)"), "{stderr}");
}

#[test]
fn check_json_is_machine_readable() {
    let dir = broken_project();
    let out = ward(&["check", arg(dir.path()), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["errors"], 1);
    let first = &report["diagnostics"][0];
    assert_eq!(first["code"], "E0021");
    assert_eq!(first["file"], "tasks.kdl");
    assert!(first["line"].as_u64().unwrap() > 0);
}

#[test]
fn deny_warnings_turns_warnings_into_failure() {
    let dir = tasks_project();
    let path = dir.path().join("tasks.kdl");
    let source = std::fs::read_to_string(&path).unwrap();
    // An email column without a mask is auto-masked with a warning.
    std::fs::write(
        &path,
        source.replace(
            "column ownerId text",
            "column ownerId text\n    column contactEmail text",
        ),
    )
    .unwrap();
    assert_eq!(ward(&["check", arg(dir.path())]).status.code(), Some(0));
    let out = ward(&["check", arg(dir.path()), "--deny-warnings"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("W0001"));
}

#[test]
fn compile_writes_deterministic_ir() {
    let dir = tasks_project();
    let first = ward(&["compile", arg(dir.path())]);
    assert_eq!(first.status.code(), Some(0));
    let ir: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(ir["version"], 1);
    assert_eq!(ir["tables"][0]["name"], "tasks");
    let out_file = dir.path().join("ir.json");
    let second = ward(&["compile", arg(dir.path()), "-o", arg(&out_file)]);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(std::fs::read(&out_file).unwrap(), first.stdout);
}

#[test]
fn compile_of_a_broken_project_fails_with_diagnostics() {
    let dir = broken_project();
    let out = ward(&["compile", arg(dir.path())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("E0021"));
}

#[test]
fn usage_and_io_errors_exit_2() {
    assert_eq!(
        ward(&["check", "/nonexistent/ward/project"]).status.code(),
        Some(2)
    );
    assert_eq!(ward(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        ward(&["token", "--sub", "a", "--ttl", "5w"]).status.code(),
        Some(2)
    );
}

#[test]
fn an_empty_directory_or_a_file_is_refused_by_every_command() {
    let empty = tempfile::tempdir().unwrap();
    for command in ["check", "serve", "dev"] {
        let mut args = vec![command, arg(empty.path())];
        if command != "check" {
            args.extend(["--listen", "127.0.0.1:1"]);
        }
        let out = ward(&args);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("no .kdl files in"), "{command}: {stderr}");
    }
    assert!(
        !empty.path().join(".ward").exists(),
        "nothing is created in a directory that is not a project"
    );
    let project = tasks_project();
    let file = project.path().join("tasks.kdl");
    let out = ward(&["check", arg(&file)]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("is a file"), "{stderr}");
    assert!(
        stderr.contains(&format!("did you mean {}?", arg(project.path()))),
        "{stderr}"
    );
}

#[test]
fn token_takes_the_directory_like_every_command_and_refuses_unknown_roles() {
    let project = tasks_project();
    let dir = arg(project.path());
    let positional = ward(&["token", dir, "--sub", "alice", "--roles", "member"]);
    assert_eq!(
        positional.status.code(),
        Some(0),
        "{}",
        text(&positional.stderr)
    );
    let flagged = ward(&["token", "--project", dir, "--sub", "alice"]);
    assert_eq!(flagged.status.code(), Some(0), "{}", text(&flagged.stderr));

    let out = ward(&["token", dir, "--sub", "alice", "--roles", "memberr"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no token for a role nobody declared");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no role `memberr`"), "{stderr}");
    assert!(stderr.contains("did you mean `member`?"), "{stderr}");
    let out = ward(&["token", dir, "--sub", "alice", "--roles", "authenticated"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = ward(&["token", dir, "--sub", "", "--roles", "member"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--sub is empty"));
}

#[test]
fn serve_says_serving_only_once_it_listens() {
    let project = tasks_project();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let out = ward(&[
        "serve",
        arg(project.path()),
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("serving"), "{stderr}");
    assert!(stderr.contains("cannot listen on"), "{stderr}");
    assert!(stderr.contains("--listen"), "a way out is named: {stderr}");
}

#[test]
fn serve_allows_only_the_origins_it_is_given_and_logs_requests_on_request() {
    let project = tasks_project();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("serve.log");
    let served = serve_with(
        project.path(),
        &["--cors-origin", "http://app.test:3000", "--log-requests"],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    let preflight = |origin: &str| {
        http_with(
            served.port,
            "OPTIONS",
            "/api/tasks",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "authorization,content-type",
                ),
            ],
            None,
        )
    };
    let (status, head, _) = preflight("http://app.test:3000");
    assert_eq!(status, 204, "{head}");
    assert!(
        head.contains("access-control-allow-origin: http://app.test:3000"),
        "{head}"
    );
    assert!(head.contains("x-request-id: "), "{head}");
    // `ward serve` allows no loopback page it was not told about.
    let (status, head, _) = preflight("http://localhost:3000");
    assert_eq!(status, 204);
    assert!(!head.contains("access-control-allow-origin"), "{head}");

    let secret_query = "/api/tasks?title.like=hunter2";
    let (status, head, _) = http_with(
        served.port,
        "GET",
        secret_query,
        &[
            ("Authorization", "Bearer not-a-token"),
            ("X-Request-Id", "trace-42"),
        ],
        None,
    );
    assert_eq!(status, 401);
    assert!(head.contains("x-request-id: trace-42"), "{head}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let logged = loop {
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        if logged.contains("trace-42") || Instant::now() > deadline {
            break logged;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let line = logged
        .lines()
        .find(|l| l.contains("trace-42"))
        .unwrap_or_else(|| panic!("no line for the request:\n{logged}"));
    assert!(line.contains("GET /api/tasks?title.like 401"), "{line}");
    assert!(
        !logged.contains("hunter2"),
        "a query value was logged:\n{logged}"
    );
    assert!(
        !logged.contains("not-a-token"),
        "a token was logged:\n{logged}"
    );
}

#[test]
fn serve_logs_no_request_unless_asked() {
    let project = tasks_project();
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("serve.log");
    let served = serve_with(
        project.path(),
        &[],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    for _ in 0..3 {
        assert_eq!(http(served.port, "GET", "/api/tasks", None, None).0, 401);
    }
    std::thread::sleep(Duration::from_millis(200));
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(!logged.contains("/api/tasks"), "{logged}");
}

#[test]
fn help_lists_only_working_commands() {
    let help = text(&ward(&["--help"]).stdout);
    for command in [
        "check", "compile", "serve", "dev", "migrate", "test", "token", "explain", "diff",
        "openapi", "history",
    ] {
        assert!(help.contains(command), "{help}");
    }
}

struct Served {
    child: Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Served {
    serve_with(dir, &[], Stdio::null())
}

/// `ward serve DIR` with `extra` arguments, its stderr going to `stderr`.
fn serve_with(dir: &Path, extra: &[&str], stderr: Stdio) -> Served {
    spawn_serving("serve", dir, extra, stderr)
}

/// `ward COMMAND DIR --listen …` (serve or dev), once it answers /healthz.
fn spawn_serving(command: &str, dir: &Path, extra: &[&str], stderr: Stdio) -> Served {
    let mut args = vec![command, arg(dir)];
    args.extend(extra);
    spawn_in(None, &args, stderr)
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ward ARGS --listen …` started in `cwd` (the test's own when `None`), once it answers
/// /healthz.
fn spawn_in(cwd: Option<&Path>, args: &[&str], stderr: Stdio) -> Served {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ward"));
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let child = command
        .args(args)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env_remove("WARD_JWT_SECRET")
        .env_remove("WARD_DATABASE_URL")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let command = args.first().copied().unwrap_or_default();
    let served = Served { child, port };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if http(served.port, "GET", "/healthz", None, None).0 == 200 {
            return served;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("ward {command} did not answer /healthz within 20 s");
}

/// A minimal HTTP/1.1 client: the test must not depend on the server's own stack.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| ("Authorization", a))
        .into_iter()
        .collect();
    let (status, _, body) = http_with(port, method, path, &headers, body);
    (status, body)
}

/// [`http`] with any request headers; the status, the response head (lower-cased) and body.
fn http_with(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String, String) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new(), String::new());
    };
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or("");
    request.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    // A connection reset is no answer, like a refused connect: a server still starting (its
    // port briefly another's, found free by `free_port`) or going away. Pollers try again;
    // every other caller asserts on the status.
    let mut response = String::new();
    if stream.write_all(request.as_bytes()).is_err()
        || stream.read_to_string(&mut response).is_err()
    {
        return (0, String::new(), String::new());
    }
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn token(dir: &Path, sub: &str) -> String {
    let out = ward(&[
        "token",
        "--project",
        arg(dir),
        "--sub",
        sub,
        "--roles",
        "member",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

#[test]
fn serve_and_token_walk_through_the_readme() {
    let project = tasks_project();
    let dir: PathBuf = project.path().to_path_buf();
    let served = serve(&dir);
    let (status, health) = http(served.port, "GET", "/healthz", None, None);
    assert_eq!(status, 200);
    let ir: serde_json::Value =
        serde_json::from_slice(&ward(&["compile", arg(&dir)]).stdout).unwrap();
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["ir"], ir["hash"], "healthz reports the served IR");
    assert!(
        dir.join(".ward/data.db").is_file(),
        "default database location"
    );

    let alice = token(&dir, "alice");
    let bob = token(&dir, "bob");
    let (status, created) = http(
        served.port,
        "POST",
        "/api/tasks",
        Some(&alice),
        Some(r#"{"title":"Buy milk"}"#),
    );
    assert_eq!(status, 201, "{created}");
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    let id = created["data"]["id"].as_str().unwrap();
    assert_eq!(created["data"]["ownerId"], "alice");

    let (_, list) = http(served.port, "GET", "/api/tasks", Some(&bob), None);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["data"], serde_json::json!([]));

    let (status, theirs) = http(
        served.port,
        "GET",
        &format!("/api/tasks/{id}"),
        Some(&bob),
        None,
    );
    let (_, nobody) = http(
        served.port,
        "GET",
        "/api/tasks/019aaaaa-0000-7000-8000-000000000000",
        Some(&bob),
        None,
    );
    assert_eq!(status, 404);
    assert_eq!(
        theirs, nobody,
        "another user's id answers like a missing one"
    );
}

#[test]
fn serve_refuses_a_broken_project() {
    let dir = broken_project();
    let out = ward(&["serve", arg(dir.path()), "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("E0021"));
}

#[test]
fn require_secret_refuses_the_dev_secret() {
    let dir = tasks_project();
    let out = ward(&[
        "serve",
        arg(dir.path()),
        "--require-secret",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("WARD_JWT_SECRET"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_short_environment_secret_is_refused() {
    let dir = tasks_project();
    let out = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["serve", arg(dir.path()), "--listen", "127.0.0.1:0"])
        .env("WARD_JWT_SECRET", "too-short")
        .env_remove("WARD_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("WARD_JWT_SECRET") && stderr.contains("32 bytes"),
        "{stderr}"
    );
}

#[test]
fn an_empty_dev_secret_is_refused_not_used() {
    let dir = tasks_project();
    std::fs::create_dir_all(dir.path().join(".ward")).unwrap();
    std::fs::write(dir.path().join(".ward/dev-secret"), " \n").unwrap();
    let out = ward(&["token", "--project", arg(dir.path()), "--sub", "mallory"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("dev-secret") && stderr.contains("delete"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no token signed with an empty key");
}

#[test]
fn an_overflowing_token_lifetime_is_a_usage_error() {
    let dir = tasks_project();
    for ttl in ["9223372036854775807s", "18446744073709551615"] {
        let out = ward(&[
            "token",
            "--project",
            arg(dir.path()),
            "--sub",
            "alice",
            "--ttl",
            ttl,
        ]);
        assert_eq!(out.status.code(), Some(2), "{ttl}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("too long"),
            "{}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn ward_test_runs_generated_and_declarative_cases() {
    let dir = tasks_project();
    let out = ward(&["test", arg(dir.path()), "--cases", "4", "--seed", "7"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("Generated cases (seed 7)"), "{stdout}");
    assert!(stdout.contains("7-no-existence-oracle"), "{stdout}");
    assert!(stdout.contains("all held"), "{stdout}");

    // The same seed replays the same requests.
    let again = text(&ward(&["test", arg(dir.path()), "--cases", "4", "--seed", "7"]).stdout);
    let requests = |s: &str| {
        s.lines()
            .find(|l| l.contains("request(s)"))
            .map(str::to_owned)
    };
    assert_eq!(requests(&stdout), requests(&again));
}

#[test]
fn ward_test_fails_on_a_broken_declarative_case() {
    let dir = tasks_project();
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("tests/wrong.kdl"),
        r#"test "strangers see tasks" {
    user alice roles=member
    user bob roles=member
    seed tasks as=alice { title "secret"; }
    request GET "/api/tasks" as=bob {
        expect count=1
    }
}
"#,
    )
    .unwrap();
    let out = ward(&["test", arg(dir.path()), "--cases", "2"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  tests/wrong.kdl:1 strangers see tasks"),
        "{stdout}"
    );
    assert!(
        stdout.contains("expected 1 rows in `data`, got 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("declarative: 0 passed, 1 failed"),
        "{stdout}"
    );
}

/// The Postgres test database, or `None` after printing why the test does not run.
fn postgres_url() -> Option<String> {
    match std::env::var("WARD_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "skipped: WARD_TEST_POSTGRES_URL is not set, so this Postgres test does not run"
            );
            None
        }
    }
}

/// Runs `sql` on `url`'s database from a thread of its own (the statement is made from a
/// generated schema name only).
fn postgres(url: &str, sql: String) {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client.batch_execute(&sql).await.unwrap();
        });
    })
    .join()
    .unwrap();
}

/// A schema of its own in the Postgres test database, dropped with the value.
struct Schema {
    base: String,
    name: String,
}

impl Schema {
    fn create(base: &str) -> Schema {
        let name = format!("ward_cli_{}", uuid::Uuid::new_v4().simple());
        postgres(base, format!("CREATE SCHEMA {name}"));
        Schema {
            base: base.to_owned(),
            name,
        }
    }

    /// The test URL with a password the server (trust auth) ignores, and this schema first on
    /// the search path.
    fn url_with_password(&self) -> String {
        let with_password =
            self.base
                .replacen("postgres://postgres@", "postgres://postgres:s3cret-pw@", 1);
        let sep = if with_password.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{with_password}{sep}options=-csearch_path%3D{}", self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        postgres(
            &self.base,
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

#[test]
fn serve_on_postgres_answers_and_never_prints_the_password() {
    let Some(base) = postgres_url() else { return };
    let schema = Schema::create(&base);
    let url = schema.url_with_password();
    let project = tasks_project();
    let log = project.path().join("serve.log");
    let served = serve_with(
        project.path(),
        &["--database", &url],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    let alice = token(project.path(), "alice");
    let (status, body) = http(
        served.port,
        "POST",
        "/api/tasks",
        Some(&alice),
        Some(r#"{"title": "on postgres"}"#),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = http(served.port, "GET", "/api/tasks", Some(&alice), None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("on postgres"), "{body}");
    drop(served);
    let printed = std::fs::read_to_string(&log).unwrap();
    assert!(
        printed.contains("database postgres://postgres@"),
        "{printed}"
    );
    assert!(
        !printed.contains("s3cret-pw"),
        "the password was printed: {printed}"
    );
}

#[test]
fn serve_refuses_an_unreachable_database_at_once() {
    let dir = tasks_project();
    let started = Instant::now();
    let out = ward(&[
        "serve",
        arg(dir.path()),
        "--database",
        "postgres://ward:pw@127.0.0.1:1/ward",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot connect to postgres://ward@127.0.0.1:1/ward"),
        "{stderr}"
    );
    assert!(!stderr.contains(":pw@"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn ward_test_runs_on_postgres() {
    let Some(base) = postgres_url() else { return };
    let dir = tasks_project();
    let out = ward(&[
        "test",
        arg(dir.path()),
        "--cases",
        "4",
        "--seed",
        "7",
        "--database",
        &base,
    ]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("on postgres"), "{stderr}");
    assert!(stdout.contains("all held"), "{stdout}");
}

#[test]
fn history_purge_names_what_it_erases_and_refuses_what_it_cannot() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("notes.kdl"),
        "table notes {\n    column body text\n    firewall none\n    access { read public; }\n    history #true\n}\n",
    )
    .unwrap();
    let dir = arg(project.path());
    let out = ward(&[
        "history",
        "purge",
        dir,
        "--table",
        "notes",
        "--before",
        "2026-01-31",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "erased 0 version(s) of `notes`");
    let out = ward(&["history", "purge", dir, "--table", "notes", "--id", "n1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A table without history, a date that is none, nothing named: refused, nothing erased.
    let out = ward(&[
        "history", "purge", dir, "--table", "other", "--actor", "ann",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("table `other` keeps no history"));
    let out = ward(&[
        "history", "purge", dir, "--table", "notes", "--before", "soon",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not a date"));
    let out = ward(&["history", "purge", dir, "--table", "notes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn migrate_prints_the_plan_and_applies_it_on_request() {
    let project = tasks_project();
    let dir = arg(project.path());
    let out = ward(&["migrate", dir]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("+ create table `tasks`"), "{stdout}");
    // The hint names the directory: copied as is, it migrates this project, not `.`.
    assert!(
        stdout.contains(&format!("`ward migrate {dir} --apply` applies it")),
        "{stdout}"
    );
    let out = ward(&["migrate", dir, "--apply"]);
    assert!(
        text(&out.stdout).contains("applied"),
        "{}",
        text(&out.stdout)
    );
    let out = ward(&["migrate", dir]);
    assert!(
        text(&out.stdout).contains("up to date"),
        "{}",
        text(&out.stdout)
    );

    // A destructive change is refused without --allow-destructive, and applied with it.
    let file = project.path().join("tasks.kdl");
    let source = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        source.replace(
            "    column ownerId text",
            "    column extra text\n    column ownerId text",
        ),
    )
    .unwrap();
    assert_eq!(ward(&["migrate", dir, "--apply"]).status.code(), Some(0));
    std::fs::write(&file, &source).unwrap();
    let out = ward(&["migrate", dir, "--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("! drop column `tasks.extra`"),
        "{}",
        text(&out.stdout)
    );
    let out = ward(&["migrate", dir, "--apply", "--allow-destructive"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&ward(&["migrate", dir]).stdout).contains("up to date"));
}

#[test]
fn explain_prints_the_matrices_in_every_format() {
    let project = tasks_project();
    let out = ward(&["explain", arg(project.path())]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("table tasks"), "{stdout}");
    let header = |l: &str| {
        l.split_whitespace()
            .eq(["operation", "anonymous", "authenticated", "member"])
    };
    assert!(stdout.lines().any(header), "{stdout}");
    assert!(stdout.contains("view myTasks"), "{stdout}");
    let out = ward(&["explain", arg(project.path()), "--format", "markdown"]);
    assert!(
        text(&out.stdout).contains("| operation | anonymous | authenticated | member |"),
        "{}",
        text(&out.stdout)
    );
    let out = ward(&["explain", arg(project.path()), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["callers"],
        serde_json::json!(["anonymous", "authenticated", "member"])
    );
    let out = ward(&["explain", arg(project.path()), "--table", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn diff_fails_on_widening_unless_allowed() {
    let old = tasks_project();
    let new = tasks_project();
    let out = ward(&["diff", arg(old.path()), arg(new.path())]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("no security-relevant differences"));

    // Dropping the owner scope lets every member see every task.
    let file = new.path().join("tasks.kdl");
    let source = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        source.replace(
            "scope ownerId (auth)user-id     // every statement gets `ownerId = <caller>`",
            "scope ownerId (auth)user-id { bypass member; }",
        ),
    )
    .unwrap();
    let out = ward(&["diff", arg(old.path()), arg(new.path())]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("+ widened   tasks: role `member` now bypasses the scope on `ownerId`"),
        "{stdout}"
    );
    let out = ward(&["diff", arg(old.path()), arg(new.path()), "--allow-widening"]);
    assert_eq!(out.status.code(), Some(0));
    // The reverse change narrows: exit 0.
    let out = ward(&["diff", arg(new.path()), arg(old.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // Opening the list to any token: a token without a role goes from 403 to 200.
    std::fs::write(&file, source.replace("list member", "list authenticated")).unwrap();
    let out = ward(&["diff", arg(old.path()), arg(new.path())]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("+ widened   tasks: list for authenticated: denied → allowed"),
        "{stdout}"
    );
}

#[test]
fn openapi_prints_the_served_document() {
    let project = tasks_project();
    let out = ward(&["openapi", arg(project.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/tasks/{id}"]["patch"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

/// SPEC §5.7: SIGTERM stops accepting, lets the requests in flight finish, then exits 0.
#[test]
fn sigterm_drains_requests_in_flight_then_exits() {
    let project = tasks_project();
    let mut served = serve(project.path());
    let alice = token(project.path(), "alice");
    let body = r#"{"title": "written while stopping"}"#;
    let (first, rest) = body.split_at(10);
    let mut stream = TcpStream::connect(("127.0.0.1", served.port)).unwrap();
    write!(
        stream,
        "POST /api/tasks HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer {alice}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let pid = served.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(300));
    // Not accepting any more.
    assert_eq!(http(served.port, "GET", "/healthz", None, None).0, 0);

    // The request in flight is answered, then the process exits on its own, successfully.
    stream.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after the drain");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}
