"""The production files (compose.yml, the Dockerfile, .env.example) against the code.

Docker is not run here: these tests parse the files, so that a service, a healthcheck or a
setting cannot go missing, or drift away from what eye/settings.py reads, unnoticed.
"""

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

LONG_RUNNING = {"timescaledb", "redis", "web", "worker"}
APP_SERVICES = {"migrate", "web", "worker"}
# Read by compose.yml or the Dockerfile, never by Django.
DEPLOYMENT_VARIABLES = {"EYE_PORT", "EYE_WEB_WORKERS", "EYE_WEB_THREADS"}

SETTINGS_READ = re.compile(
    r"""(?:env_\w+|os\.environ\.get|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)
APP_VARIABLE = re.compile(r"\b((?:EYE|SENTRY)_[A-Z0-9_]+)\b")
ENV_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")
INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


@pytest.fixture(autouse=True)
def _fresh_queue_and_caches():
    """Overrides the suite-wide fixture that flushes Redis: these tests only read files."""
    yield


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {m[1]: m[2] for line in lines if (m := ENV_LINE.match(line))}


@pytest.fixture(scope="module")
def settings_variables() -> set[str]:
    source = (ROOT / "eye" / "settings.py").read_text()
    return {a or b for a, b in SETTINGS_READ.findall(source)}


def words(command: str | list) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(w) for w in command]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def interpolate(value: str, env: dict[str, str]) -> str:
    """`value` as compose would interpolate it, with `env` as the .env file."""

    def one(match: re.Match) -> str:
        name, operator, argument = match.groups()
        found = env.get(name)
        if found is None or (found == "" and operator and operator.startswith(":")):
            assert "?" not in (operator or ""), f"{name} is required: {argument}"
            return argument if operator else ""
        return found

    return INTERPOLATION.sub(one, value)


def option(command: list[str], name: str) -> str:
    assert name in command, f"{name} missing from {command}"
    return command[command.index(name) + 1]


def test_it_finds_what_settings_read(settings_variables):
    # Guards the regex: if it stopped matching, the checks below would pass on nothing.
    assert {"EYE_SECRET_KEY", "EYE_DATABASE_URL", "EYE_REDIS_URL", "SENTRY_DSN"} <= (
        settings_variables
    )


def test_it_runs_four_long_running_services_and_a_migration(services):
    assert LONG_RUNNING | {"migrate"} <= set(services)


def test_it_checks_the_health_of_every_service_but_migrate(services):
    for name, service in services.items():
        if name == "migrate":
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable"), f"{name} disables its healthcheck"
        assert words(check["test"])[0] != "NONE", f"{name} disables its healthcheck"


def test_it_runs_migrate_once_when_the_database_is_healthy(services):
    migrate = services["migrate"]
    assert words(migrate["command"])[-3:] == ["manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["timescaledb"]["condition"] == "service_healthy"


def test_it_keeps_redis_data_in_an_append_only_file(services):
    command = words(services["redis"]["command"])
    assert command[0] == "redis-server"
    assert option(command, "--appendonly") == "yes"
    assert option(command, "--appendfsync") in {"everysec", "always"}
    assert any(str(v).split(":")[1] == "/data" for v in services["redis"]["volumes"])


def test_it_runs_web_under_gunicorn_with_several_workers(services, env_example):
    command = words(services["web"]["command"])
    assert command[:2] == ["gunicorn", "eye.wsgi"]
    assert option(command, "--bind") == "0.0.0.0:8000"
    workers = option(command, "--workers")
    assert int(interpolate(workers, {})) > 1
    assert int(interpolate(workers, env_example)) > 1


def test_it_serves_web_with_the_worker_that_slow_clients_cannot_hold(services):
    command = words(services["web"]["command"])
    # eye/gunicorn_conf.py names the worker class; nothing may override it.
    assert option(command, "--config") == "python:eye.gunicorn_conf"
    assert "--worker-class" not in command and "-k" not in command


def test_it_checks_web_health_on_the_health_endpoint(services):
    test = " ".join(words(services["web"]["healthcheck"]["test"]))
    assert "http://127.0.0.1:8000/api/health" in test
    # The check asks for 127.0.0.1, so Django must accept that host or it answers 400.
    allowed = interpolate(environment(services["web"])["EYE_ALLOWED_HOSTS"], {})
    assert "127.0.0.1" in allowed.split(",")


def test_it_runs_the_queue_consumer_in_worker(services):
    worker = services["worker"]
    assert words(worker["command"])[-2:] == ["manage.py", "run_huey"]
    # Huey drops the tasks in hand on SIGTERM and finishes them on SIGINT.
    assert worker["stop_signal"] == "SIGINT"
    assert "/proc/1/cmdline" in " ".join(words(worker["healthcheck"]["test"]))


@pytest.mark.parametrize("name", ["web", "worker"])
def test_it_starts_app_services_after_migrations_and_redis(services, name):
    depends_on = services[name]["depends_on"]
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on["redis"]["condition"] == "service_healthy"


def test_it_stores_events_in_timescaledb(services):
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb:")
    for name in APP_SERVICES:
        assert environment(services[name])["EYE_TIMESCALEDB"] == "required"


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_it_wires_app_services_to_the_other_containers(services, env_example, name):
    service = services[name]
    assert service["build"] == "."
    assert service["env_file"] in (".env", [".env"])
    env = {key: interpolate(value, env_example) for key, value in environment(service).items()}
    database = urlsplit(env["EYE_DATABASE_URL"])
    assert (database.scheme, database.hostname, database.path) == (
        "postgres",
        "timescaledb",
        "/eye",
    )
    assert urlsplit(env["EYE_REDIS_URL"]).hostname == "redis"


def test_it_declares_and_uses_named_volumes(compose, services):
    declared = set(compose["volumes"])
    assert {"timescaledb-data", "redis-data"} <= declared
    used = {
        str(volume).split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
    }
    named = {source for source in used if not source.startswith((".", "/", "~"))}
    assert named == declared
    assert any(
        str(v) == "timescaledb-data:/var/lib/postgresql/data"
        for v in services["timescaledb"]["volumes"]
    )


def test_it_names_only_variables_that_settings_read(settings_variables, env_example):
    known = settings_variables | DEPLOYMENT_VARIABLES
    named = set(APP_VARIABLE.findall((ROOT / "compose.yml").read_text()))
    assert named - known == set(), "compose.yml names variables settings.py does not read"
    documented = {name for name in env_example if APP_VARIABLE.fullmatch(name)}
    assert documented - known == set(), ".env.example names variables settings.py does not read"


def test_it_uses_every_deployment_variable():
    files = (ROOT / "compose.yml").read_text() + (ROOT / "Dockerfile").read_text()
    for name in DEPLOYMENT_VARIABLES:
        assert f"${{{name}:-" in files, f"{name} is documented but nothing reads it"


def test_it_documents_every_setting_in_env_example(settings_variables, env_example):
    assert settings_variables - set(env_example) == set()
    assert "POSTGRES_PASSWORD" in env_example


def test_it_comments_every_variable_in_env_example():
    lines = (ROOT / ".env.example").read_text().splitlines()
    for number, line in enumerate(lines):
        if ENV_LINE.match(line):
            assert lines[number - 1].startswith("# "), f"no comment above {line!r}"


def test_it_ships_production_values_in_env_example(env_example):
    assert env_example["EYE_DEBUG"] == "false"
    assert env_example["EYE_SECRET_KEY"] == "change-me"
    assert env_example["EYE_TIMESCALEDB"] == "required"


def test_it_runs_gunicorn_as_a_non_root_user_in_the_image():
    lines = [
        line
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]
    # Continued lines belong to the instruction they continue.
    joined = "\n".join(lines).replace("\\\n", " ")
    instructions = [line.split(None, 1) for line in joined.splitlines() if line.strip()]
    by_keyword = {}
    for keyword, *rest in instructions:
        by_keyword.setdefault(keyword.upper(), []).append(rest[0] if rest else "")
    assert by_keyword["FROM"][0].startswith("python:3.11-slim")
    assert by_keyword["USER"][-1] not in {"root", "0"}
    cmd = by_keyword["CMD"][-1]
    assert "gunicorn eye.wsgi --config python:eye.gunicorn_conf" in cmd
    assert "--worker-class" not in cmd
    assert "0.0.0.0:8000" in cmd
    assert "${EYE_WEB_WORKERS:-" in cmd
