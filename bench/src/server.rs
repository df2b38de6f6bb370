//! Starting, watching and stopping the servers under test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The binaries this run compares, found next to the driver (`cargo build --release` puts them
/// all in one directory).
pub struct Binaries {
    pub ward: PathBuf,
    pub baseline: PathBuf,
}

impl Binaries {
    pub fn locate() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot find the driver's own path")?;
        let dir = exe.parent().context("the driver has no directory")?;
        let found = Binaries {
            ward: dir.join("ward"),
            baseline: dir.join("ward-baseline"),
        };
        for bin in [&found.ward, &found.baseline] {
            if !bin.exists() {
                bail!(
                    "{} is missing: build it with `cargo build --release -p ward -p ward-bench --bins` (bench/run does)",
                    bin.display()
                );
            }
        }
        Ok(found)
    }
}

/// The release `ward` next to the driver, for benchmarks that need no baseline.
pub fn ward_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the driver's own path")?;
    let ward = exe
        .parent()
        .context("the driver has no directory")?
        .join("ward");
    if !ward.exists() {
        bail!(
            "{} is missing: cargo build --release -p ward",
            ward.display()
        );
    }
    Ok(ward)
}

pub struct Server {
    pub url: String,
    child: Child,
}

impl Server {
    /// Spawns `command` (its output goes to `log`) and waits until `probe` on it answers.
    pub async fn start(
        mut command: Command,
        port: u16,
        probe: &str,
        log: &Path,
    ) -> anyhow::Result<Self> {
        let log_file = std::fs::File::create(log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {command:?}"))?;
        let mut server = Server {
            url: format!("http://127.0.0.1:{port}"),
            child,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "{command:?} exited with {status} before answering; its log: {}",
                    log.display()
                );
            }
            if client
                .get(format!("{}{probe}", server.url))
                .send()
                .await
                .is_ok()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                server.stop();
                bail!(
                    "{command:?} did not answer within 30 s; its log: {}",
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Interrupts the server as Ctrl-C would (ward and the baseline shut down cleanly and SQLite
    /// checkpoints its WAL into the database file), killing it if it has not exited in 10 s.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// Samples the resident memory of a process and its descendants until dropped; `peak_kib` is the
/// largest sum seen.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(tree_rss_kib(pid));
                std::thread::sleep(Duration::from_millis(100));
            }
            peak.max(tree_rss_kib(pid))
        });
        RssSampler {
            stop,
            thread: Some(thread),
        }
    }

    pub fn peak_kib(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or(0)
    }
}

/// CPU time (user + system) a process and its descendants have used so far, in microseconds.
/// `/proc` counts it in clock ticks of `USER_HZ`, which Linux fixes at 100 for user space.
pub fn tree_cpu_us(pid: u32) -> u64 {
    const MICROSECONDS_PER_TICK: u64 = 10_000;
    let own = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| cpu_ticks(&stat))
        .unwrap_or(0);
    own * MICROSECONDS_PER_TICK + children(pid).into_iter().map(tree_cpu_us).sum::<u64>()
}

/// `utime + stime` from a `/proc/PID/stat` line: the 14th and 15th fields, counted after the
/// command name, which is in parentheses and may itself hold spaces.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

pub fn tree_rss_kib(pid: u32) -> u64 {
    let own = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| vm_rss_kib(&status))
        .unwrap_or(0);
    own + children(pid).into_iter().map(tree_rss_kib).sum::<u64>()
}

fn vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// A free loopback port for the next server.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_ticks_from_proc_stat() {
        let stat = "4242 (tokio (rt) 1) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 56 0 0 20 0 4 0";
        assert_eq!(cpu_ticks(stat), Some(1290));
        assert_eq!(cpu_ticks("4242 (x) S 1"), None);
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(50) {
            std::hint::black_box(0u64);
        }
        assert!(tree_cpu_us(std::process::id()) > 0);
    }

    #[test]
    fn reads_vm_rss_from_proc_status() {
        let status = "Name:\tward\nVmHWM:\t  20480 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
        assert_eq!(vm_rss_kib(status), Some(12345));
        assert_eq!(vm_rss_kib("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_has_a_resident_size() {
        assert!(tree_rss_kib(std::process::id()) > 0);
    }
}
