"""What the measurement scripts share: a `ward serve` on a copy of an example, its tokens, and
Postgres schemas of their own. Standard library only.

Environment: WARD_BIN (the binary; each script names its default), WARD_TEST_POSTGRES_URL.
"""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "wardlab-secret-0123456789abcdef-0123456789abcdef"


def ward_bin(default="target/release/ward"):
    """The ward binary: WARD_BIN, or `default` under the repository."""
    ward = os.environ.get("WARD_BIN", default)
    return ward if os.path.isabs(ward) else os.path.join(ROOT, ward)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_example(work, name="tasks"):
    """A copy of examples/NAME in `work`, without its state: its path."""
    project = os.path.join(work, name)
    shutil.copytree(os.path.join(ROOT, "examples", name), project,
                    ignore=shutil.ignore_patterns(".ward"))
    return project


def env():
    return dict(os.environ, WARD_JWT_SECRET=SECRET)


def token(ward, project, sub, roles="member"):
    return subprocess.run([ward, "token", project, "--sub", sub, "--roles", roles],
                          check=True, capture_output=True, text=True, env=env()).stdout.strip()


class Server:
    """`ward serve PROJECT` on a free port; started, killed and started again on one database."""

    def __init__(self, ward, project, database=None, args=(), prefix=(), log=None):
        self.port = free_port()
        self.args = [*prefix, ward, "serve", project, "--listen", f"127.0.0.1:{self.port}",
                     *(["--database", database] if database else []), *args]
        self.log = log if log is not None else subprocess.DEVNULL
        self.proc = None

    def start(self, within=30):
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=self.log, env=env())
        deadline = time.time() + within
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"ward exited with {self.proc.returncode}")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"ward did not become ready within {within} s")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def pg_schema(base):
    """A schema of its own on the Postgres at `base`: (name, a database URL that uses it)."""
    name = f"wardlab_{uuid.uuid4().hex}"
    subprocess.run(["psql", base, "-qc", f"CREATE SCHEMA {name}"], check=True)
    sep = "&" if "?" in base else "?"
    return name, f"{base}{sep}options=-csearch_path%3D{name}"


def drop_schema(base, name):
    subprocess.run(["psql", base, "-qc", "SET client_min_messages = warning",
                    "-c", f"DROP SCHEMA IF EXISTS {name} CASCADE"], check=False)
