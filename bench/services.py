"""The services a benchmark run starts for itself, and stops again whatever happens.

- a PostgreSQL cluster of its own (the machine's newest PostgreSQL, with TimescaleDB
  preloaded when it is installed, as tests/services/timescaledb.sh installs it), in a
  scratch directory on a free port: durable by default (fsync, synchronous_commit and
  full_page_writes on), sized like the embedded database of `make run`
  (eye/embedded_sizing.py); `--fast-unsafe` turns the three off;
- a Redis server of its own, with compose.yml's persistence (appendonly yes, appendfsync
  everysec), or none with `--fast-unsafe`;
- The Eye itself, exactly as `make run` starts it (eye/serve.py): gunicorn with its
  workers and `manage.py run_huey`.

Nothing shared is touched: the test suite's clusters and the machine's Redis keep
running as they are.
"""

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil
import psycopg
import redis

from eye.embedded_sizing import embedded_settings, memory_available
from eye.serve import consumer_command, web_command

ROOT = Path(__file__).resolve().parent.parent
POSTGRESQL = Path("/usr/lib/postgresql")
DATABASE = "eye_bench"
# Written at the start; if it disappears, something flushed the benchmark's Redis during
# the run, taking queued events with it, and the stored/lost figures are void.
SENTINEL = "bench:sentinel"
QUEUE_NAME = "eye-bench"
# Tables a truncation between measurements keeps: the application and its key, users,
# sessions and Django's own bookkeeping. Everything else (events, rollups, refusals, dead
# letters) is what the measurements fill.
KEPT_TABLES = ("django_", "auth_", "events_application", "events_apikey")
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
UNSAFE = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
REDIS_DURABLE = {"appendonly": "yes", "appendfsync": "everysec"}
REDIS_UNSAFE = {"appendonly": "no"}


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
    note: str  # what this cluster is
    data_dir: Path | None = None
    bin_dir: Path | None = None
    settings: dict[str, str] = field(default_factory=dict)

    def url(self, name: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def connect(self, name: str = DATABASE, **kwargs: object) -> psycopg.Connection:
        return psycopg.connect(self.url(name), **kwargs)


def _as_postgres(command: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    """PostgreSQL refuses to run as root: as root, run its commands as the postgres user."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, cwd="/", check=True, **kwargs)


def _timescaledb_installed(bin_dir: Path) -> bool:
    done = subprocess.run(
        [str(bin_dir / "pg_config"), "--pkglibdir"], capture_output=True, text=True, check=True
    )
    return (Path(done.stdout.strip()) / "timescaledb.so").exists()


def database_start(log_file: IO[str], *, choice: str = "auto", unsafe: bool = False) -> Database:
    """A cluster of the benchmark's own: TimescaleDB when it is installed (`choice`
    "plain" leaves it out; "timescaledb" refuses to go without)."""
    versions = (
        sorted(POSTGRESQL.iterdir(), key=lambda path: int(path.name)) if POSTGRESQL.exists() else []
    )
    if not versions:
        raise SystemExit("bench: PostgreSQL is not installed (/usr/lib/postgresql is empty)")
    bin_dir = versions[-1] / "bin"
    timescaledb = choice != "plain" and _timescaledb_installed(bin_dir)
    if choice == "timescaledb" and not timescaledb:
        raise SystemExit(
            "bench: TimescaleDB is not installed; `bash tests/services/timescaledb.sh install`"
        )
    data_dir = Path(tempfile.mkdtemp(prefix="eye-bench-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(data_dir, user.pw_uid, user.pw_gid)
    port = free_port()
    log(f"initdb of a private PostgreSQL {versions[-1].name} cluster in {data_dir}, port {port}")
    _as_postgres(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    settings = {
        **embedded_settings(memory=memory_available(), disk_free=shutil.disk_usage(data_dir).free),
        **(UNSAFE if unsafe else DURABLE),
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{data_dir}'",
        "max_connections": "100",
    }
    if timescaledb:
        settings.update(
            shared_preload_libraries="'timescaledb'", **{"timescaledb.telemetry_level": "off"}
        )
    conf = "".join(f"{name} = {value}\n" for name, value in settings.items())
    with open(data_dir / "postgresql.conf", "a") as config:
        config.write("\n# bench/services.py\n" + conf)
    _as_postgres(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-l",
            str(data_dir / "server.log"),
            "-w",
            "start",
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    flavour = "TimescaleDB" if timescaledb else "plain PostgreSQL"
    return Database(
        port,
        f"{flavour} cluster of this run ({data_dir})",
        data_dir=data_dir,
        bin_dir=bin_dir,
        settings={k: v.strip("'") for k, v in settings.items()},
    )


def database_stop(database: Database, log_file: IO[str]) -> None:
    """Stop the run's cluster and remove its files."""
    if database.data_dir is None or database.bin_dir is None:
        return
    log("stopping this run's PostgreSQL cluster")
    try:
        _as_postgres(
            [
                str(database.bin_dir / "pg_ctl"),
                "-D",
                str(database.data_dir),
                "-m",
                "fast",
                "-w",
                "stop",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log(f"pg_ctl stop failed ({exc}); see setup.log")
    shutil.rmtree(database.data_dir, ignore_errors=True)


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
        # Durability changes what a commit costs: the report always names it, as the
        # server reports it.
        durability = dict(
            connection.execute(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) "
                "ORDER BY name",
                [
                    [
                        "fsync",
                        "synchronous_commit",
                        "full_page_writes",
                        "shared_buffers",
                        "max_wal_size",
                        "maintenance_work_mem",
                        "checkpoint_timeout",
                    ]
                ],
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
    """Rows in events, counted by the hour rollup: it is kept in the very statement that
    stores them, so it sees exactly the committed rows, and costs the same at 30M events
    as at none (a count(*) would take seconds there, and compete with the consumer)."""
    with database.connect(autocommit=True) as connection:
        return connection.execute(
            "SELECT coalesce(sum(events), 0)::bigint FROM event_counts_hour"
        ).fetchone()[0]


def events_count_raw(database: Database) -> int:
    with database.connect(autocommit=True) as connection:
        return connection.execute("SELECT count(*) FROM events").fetchone()[0]


# --- Redis and the environment of The Eye's processes ---------------------------------


@dataclass
class Queue:
    client: redis.Redis
    port: int
    process: subprocess.Popen
    data_dir: Path
    settings: dict[str, str]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def note(self) -> str:
        return f"redis-server of this run, port {self.port}, " + ", ".join(
            f"{k} {v}" for k, v in self.settings.items()
        )


def redis_start(log_file: IO[str], *, unsafe: bool = False) -> Queue:
    """A Redis server of the run's own, with compose.yml's persistence unless unsafe."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("bench: redis-server is missing; `apt-get install -y redis-server`")
    data_dir = Path(tempfile.mkdtemp(prefix="eye-bench-redis-"))
    port = free_port()
    settings = REDIS_UNSAFE if unsafe else REDIS_DURABLE
    options = [f"--{name} {value}".split(" ", 1) for name, value in settings.items()]
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir)]
    command += ["--save", ""] + [part for option in options for part in option]
    process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=port, db=0)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench: redis-server did not start; see setup.log") from None
            time.sleep(0.1)
    client.set(SENTINEL, "1")
    return Queue(client, port, process, data_dir, dict(settings))


def redis_stop(queue: Queue) -> None:
    queue.process.terminate()
    try:
        queue.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        queue.process.kill()
        queue.process.wait()
    shutil.rmtree(queue.data_dir, ignore_errors=True)


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
    # Kept fresh, the dashboard the insights part opens would be computed again by the
    # worker in the background of every later measurement.
    env.setdefault("EYE_INSIGHT_KEEP_FRESH_SECONDS", "0")
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
    if they do not stop in 30 s. The consumers part (bench/consumers.py) swaps the one
    consumer for two and back, as a second host would add one."""

    def __init__(self, env: dict[str, str], *, port: int, workers: int, log_dir: Path) -> None:
        self.env = env
        self.port = port
        self.workers = workers
        self.log_dir = log_dir
        self.web: subprocess.Popen | None = None
        self.consumers: list[subprocess.Popen] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def consumer(self) -> subprocess.Popen | None:
        """The first consumer: the only one, but while the consumers part runs two."""
        return self.consumers[0] if self.consumers else None

    @property
    def consumer_workers(self) -> int:
        """Worker processes of each consumer (EYE_QUEUE_WORKERS, as in eye/settings.py)."""
        return int(self.env.get("EYE_QUEUE_WORKERS") or 4)

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
        self.consumers_start(count=1)
        self._wait_until(self._web_answers, "gunicorn to answer HTTP")
        self._wait_until(lambda: len(self.web_workers()) >= self.workers, "gunicorn's workers")
        return self

    def consumers_start(self, *, count: int) -> None:
        """Start `count` more consumers (`manage.py run_huey`, each with its own worker
        processes), and return once their workers have been forked: from then on they
        take tasks."""
        for _ in range(count):
            number = len(self.consumers) + 1
            name = "consumer" if number == 1 else f"consumer-{number}"
            self.consumers.append(self._spawn(consumer_command(), name))
        # A consumer forks its scheduler, then its workers; the last fork is the last
        # worker ready. Give them a moment (thread workers would never show).
        expected = len(self.consumers) * (2 + self.consumer_workers)
        deadline = time.monotonic() + 30
        while len(self.consumer_processes()) < expected and time.monotonic() < deadline:
            self.check_alive()
            time.sleep(0.2)

    def consumers_stop(self) -> None:
        """Stop every consumer gracefully (SIGINT: the tasks in hand are finished)."""
        for process in self.consumers:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.consumers:
            _stopped_wait(process, "consumer")
        self.consumers = []

    def _wait_until(self, ready: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError(f"gave up waiting for {what} after {timeout:.0f} s")
            time.sleep(0.2)

    def check_alive(self) -> None:
        named = [("web", self.web)] + [("consumer", process) for process in self.consumers]
        for name, process in named:
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
        """Every consumer's main process and its worker processes."""
        found = []
        for process in self.consumers:
            if process.poll() is not None:
                continue
            try:
                main = psutil.Process(process.pid)
                found += [main, *main.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
        return found

    def stop(self) -> None:
        if self.web is not None and self.web.poll() is None:
            self.web.send_signal(signal.SIGTERM)
        self.consumers_stop()
        if self.web is not None:
            _stopped_wait(self.web, "web")

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stopped_wait(process: subprocess.Popen, name: str) -> None:
    """Wait up to 30 s for a process told to stop, then kill its process group."""
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        log(f"{name} did not stop in 30 s; killing its process group")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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
