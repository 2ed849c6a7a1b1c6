"""The services a benchmark run starts for itself, and stops again whatever happens.

- a scratch database `eye_bench`, on the private TimescaleDB cluster of the test suite
  (127.0.0.1:5433, started with tests/services/timescaledb.sh) when it can be had, else on
  the machine's PostgreSQL (127.0.0.1:5432);
- the machine's Redis, in a database and queue name of the benchmark's own;
- The Eye itself, exactly as `make run` starts it (eye/serve.py): gunicorn with its sync
  workers and `manage.py run_huey`.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil
import psycopg
import redis

from eye.serve import consumer_command, web_command

ROOT = Path(__file__).resolve().parent.parent
TIMESCALEDB_SCRIPT = ROOT / "tests" / "services" / "timescaledb.sh"
TIMESCALEDB_PORT = 5433
PLAIN_PORT = 5432
DATABASE = "eye_bench"
# db 14 was the plan, but the dashboard's test runs use db 14 and flush it between tests
# (seen here: it emptied the benchmark's queue mid-run, and our flush would break them).
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 13
# Written at the start; if it disappears, someone flushed the benchmark's Redis database
# during the run, taking queued events with it, and the stored/lost figures are void.
SENTINEL = "bench:sentinel"
QUEUE_NAME = "eye-bench"
# Tables a truncation between measurements keeps: the application and its key, users,
# sessions and Django's own bookkeeping. Everything else (events, rollups, refusals, dead
# letters) is what the measurements fill.
KEPT_TABLES = ("django_", "auth_", "events_application", "events_apikey")


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- PostgreSQL -----------------------------------------------------------------------


@dataclass
class Database:
    port: int
    note: str  # why this cluster was chosen
    started_here: bool = False

    def url(self, name: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def connect(self, name: str = DATABASE, **kwargs: object) -> psycopg.Connection:
        return psycopg.connect(self.url(name), **kwargs)


def database_start(log_file: IO[str], *, choice: str = "auto") -> Database:
    """The TimescaleDB cluster if the test suite's script can start it, else plain 5432
    (`choice` "plain" goes there at once; "timescaledb" refuses the fallback)."""
    if choice == "plain":
        note = "chosen with --database plain"
    elif not TIMESCALEDB_SCRIPT.exists():
        note = f"{TIMESCALEDB_SCRIPT.relative_to(ROOT)} does not exist"
    else:
        was_up = port_open(TIMESCALEDB_PORT)
        log("starting TimescaleDB with tests/services/timescaledb.sh start (may build it once)")
        try:
            done = subprocess.run(
                ["bash", str(TIMESCALEDB_SCRIPT), "start"],
                cwd=ROOT,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=900,
                check=False,
            )
            failed = done.returncode != 0
            note = f"timescaledb.sh start exited {done.returncode}"
        except subprocess.TimeoutExpired:
            failed, note = True, "timescaledb.sh start took over 900 s"
        if not failed and port_open(TIMESCALEDB_PORT):
            return Database(TIMESCALEDB_PORT, "TimescaleDB cluster", started_here=not was_up)
    if choice == "timescaledb":
        raise SystemExit(f"bench: TimescaleDB is not available ({note})")
    log(f"using the PostgreSQL on {PLAIN_PORT} ({note})")
    if not port_open(PLAIN_PORT):
        raise SystemExit(f"bench: no PostgreSQL on 127.0.0.1:{PLAIN_PORT} either")
    return Database(PLAIN_PORT, f"plain PostgreSQL fallback: {note}")


def database_stop(database: Database, log_file: IO[str]) -> None:
    """Stop the TimescaleDB cluster only if this run started it."""
    if database.started_here and TIMESCALEDB_SCRIPT.exists():
        log("stopping the TimescaleDB cluster this run started")
        subprocess.run(
            ["bash", str(TIMESCALEDB_SCRIPT), "stop"],
            cwd=ROOT,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        )


def database_postmaster(database: Database) -> int | None:
    """The pid of the cluster's postmaster, from its data directory (as root we can read it)."""
    with database.connect("postgres", autocommit=True) as connection:
        data_directory = connection.execute("SHOW data_directory").fetchone()[0]
    try:
        return int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def database_recreate(database: Database) -> None:
    with database.connect("postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def database_drop(database: Database) -> None:
    with database.connect("postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def database_flavour(database: Database) -> dict:
    """What the events table really is: a hypertable on TimescaleDB, or a plain table."""
    with database.connect() as connection:
        server = connection.execute("SHOW server_version").fetchone()[0]
        row = connection.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        hypertable = False
        if row:
            hypertable = bool(
                connection.execute(
                    "SELECT 1 FROM timescaledb_information.hypertables "
                    "WHERE hypertable_name = 'events'"
                ).fetchone()
            )
        # Durability changes what a commit costs: the test suite's cluster runs without it.
        durability = dict(
            connection.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN ('fsync', "
                "'synchronous_commit', 'full_page_writes', 'shared_buffers') ORDER BY name"
            ).fetchall()
        )
    timescaledb = row[0] if row else None
    if timescaledb and hypertable:
        label = f"TimescaleDB {timescaledb} on PostgreSQL {server} (events is a hypertable)"
    else:
        label = f"plain PostgreSQL {server} (no TimescaleDB; events is a plain table)"
    label += f", port {database.port}, " + ", ".join(f"{k}={v}" for k, v in durability.items())
    return {
        "label": label,
        "settings": durability,
        "port": database.port,
        "postgresql": server,
        "timescaledb": timescaledb,
        "hypertable": hypertable,
        "note": database.note,
    }


def tables_truncate(database: Database) -> list[str]:
    """Empty every table the measurements fill, so that each starts from nothing."""
    with database.connect() as connection:
        names = [
            name
            for (name,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
            if not name.startswith(KEPT_TABLES)
        ]
        if names:
            connection.execute(f"TRUNCATE {', '.join(names)}")
    return names


def events_count(database: Database) -> int:
    with database.connect(autocommit=True) as connection:
        return connection.execute("SELECT count(*) FROM events").fetchone()[0]


# --- Redis and the environment of The Eye's processes ---------------------------------


@dataclass
class Queue:
    client: redis.Redis
    db: int
    note: str

    @property
    def url(self) -> str:
        return f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.db}"


def redis_pick(preferred: int = REDIS_DB) -> Queue:
    """The Redis database of this run, flushed, with the sentinel in it.

    Another program using the same database (a test suite flushes its database between
    tests) would empty the benchmark's queue under it, and the benchmark's flush would
    break that program. So if the preferred database has other clients or keys that are
    not a benchmark's, the highest free one below it is taken instead, and the report
    says so."""
    admin = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
    me = admin.client_id()
    busy = {int(c["db"]) for c in admin.client_list() if int(c["id"]) != me}
    # A database holding keys is someone's, unless an earlier run of ours left them.
    for name in admin.info("keyspace"):
        number = int(name.removeprefix("db"))
        if not redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number).exists(SENTINEL):
            busy.add(number)
    db, note = preferred, f"db {preferred}"
    if preferred in busy:
        free = [n for n in range(preferred - 1, 0, -1) if n not in busy]
        if not free:
            raise SystemExit(f"bench: Redis db {preferred} is in use and no other db is free")
        db = free[0]
        note = f"db {db}, because another program uses db {preferred}"
        log(f"Redis db {preferred} is in use by another program; using db {db}")
    admin.close()
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
    client.flushdb()
    client.set(SENTINEL, "1")
    return Queue(client, db, note)


def bench_env(database: Database, queue: Queue, data_dir: Path) -> dict[str, str]:
    """The environment of every process of The Eye in this run: the operator's own EYE_*
    settings pass through (to benchmark a tuning), the places are the benchmark's."""
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        DJANGO_SETTINGS_MODULE="eye.settings",
        EYE_DATABASE_URL=database.url(),
        EYE_REDIS_URL=queue.url,
        EYE_QUEUE_NAME=QUEUE_NAME,
        EYE_DATA_DIR=str(data_dir),
        EYE_METRICS_DIR=str(data_dir / "metrics"),
        EYE_SECRET_KEY=secrets.token_urlsafe(40),
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *args: str, log_file: IO[str] | None = None) -> str:
    """Run a management command; its stdout is returned, its stderr goes to the log."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log_file,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} exited {done.returncode}; see the logs")
    return done.stdout


def app_key_create(env: dict[str, str], log_file: IO[str]) -> str:
    output = manage(env, "create_app_key", "bench", "--read", "--write", log_file=log_file)
    return output.strip().splitlines()[-1]


SESSION_CODE = """
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
user, _ = get_user_model().objects.get_or_create(
    username="bench", defaults={"is_staff": True, "is_superuser": True}
)
client = Client()
client.force_login(user)
name = settings.SESSION_COOKIE_NAME
print(f"{name}={client.cookies[name].value}")
"""


def login_cookie(env: dict[str, str], log_file: IO[str]) -> str:
    """A session cookie of a logged-in staff user, for the dashboard pages."""
    return manage(env, "shell", "-c", SESSION_CODE, log_file=log_file).strip().splitlines()[-1]


# --- The Eye: web and consumer --------------------------------------------------------


class Stack:
    """gunicorn and the Huey consumer as `make run` starts them, logs to files. Stopped
    like eye/serve.py stops them (SIGTERM to gunicorn, SIGINT to the consumer), killed
    if they do not stop in 30 s."""

    def __init__(self, env: dict[str, str], *, port: int, workers: int, log_dir: Path) -> None:
        self.env = env
        self.port = port
        self.workers = workers
        self.log_dir = log_dir
        self.web: subprocess.Popen | None = None
        self.consumer: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, command: list[str], name: str) -> subprocess.Popen:
        with open(self.log_dir / f"{name}.log", "ab") as output:
            return subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self) -> "Stack":
        self.web = self._spawn(web_command("127.0.0.1", str(self.port), str(self.workers)), "web")
        self.consumer = self._spawn(consumer_command(), "consumer")
        self._wait_until(self._web_answers, "gunicorn to answer HTTP")
        self._wait_until(lambda: len(self.web_workers()) >= self.workers, "gunicorn's workers")
        # Process workers show as children; give them a moment (thread workers never do).
        expected = int(self.env.get("EYE_QUEUE_WORKERS") or 4)
        deadline = time.monotonic() + 15
        while len(self.consumer_processes()) <= expected and time.monotonic() < deadline:
            self.check_alive()
            time.sleep(0.2)
        return self

    def _wait_until(self, ready: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"gave up waiting for {what} after {timeout:.0f} s")
            time.sleep(0.2)

    def check_alive(self) -> None:
        for name, process in (("web", self.web), ("consumer", self.consumer)):
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {name}.log")

    def _web_answers(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.base_url}/bench-ready", timeout=2)
        except urllib.error.HTTPError:
            return True  # any HTTP answer (a 404 here) means the server is serving
        except OSError:
            return False
        return True

    def web_workers(self) -> list[psutil.Process]:
        return _children(self.web)

    def consumer_processes(self) -> list[psutil.Process]:
        """The consumer's main process and its worker processes."""
        if self.consumer is None or self.consumer.poll() is not None:
            return []
        try:
            main = psutil.Process(self.consumer.pid)
            return [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> None:
        for process, stop_signal in ((self.web, signal.SIGTERM), (self.consumer, signal.SIGINT)):
            if process is not None and process.poll() is None:
                process.send_signal(stop_signal)
        for name, process in (("web", self.web), ("consumer", self.consumer)):
            if process is None:
                continue
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log(f"{name} did not stop in 30 s; killing its process group")
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _children(process: subprocess.Popen | None) -> list[psutil.Process]:
    if process is None or process.poll() is not None:
        return []
    try:
        return psutil.Process(process.pid).children()
    except psutil.NoSuchProcess:
        return []


def wrk_path() -> str:
    """wrk from Debian, installed on first use when this runs as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("bench: wrk is missing; install it with `apt-get install -y wrk`")
    log("wrk is missing; installing Debian's package")
    install = ["apt-get", "install", "-y", "-qq", "wrk"]
    if subprocess.run(install, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(install, check=True)
    return shutil.which("wrk") or "wrk"
