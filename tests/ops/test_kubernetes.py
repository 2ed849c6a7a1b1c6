"""The Kubernetes manifests (docs/kubernetes/) against the code: parsed, not applied, so
that an image, a command, a probe or a setting cannot drift away from the app unnoticed."""

import importlib.util
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands
from django.urls import resolve

from eye import probe
from tests.ops.test_compose import DEPLOYMENT_VARIABLES, SETTINGS_READ, words

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "docs" / "kubernetes"
# Set from the pod itself (the downward API), for EYE_ALLOWED_HOSTS; not a setting.
POD_VARIABLES = {"POD_IP"}


@pytest.fixture(autouse=True)
def _fresh_queue_and_caches():
    """Overrides the suite-wide fixture that flushes Redis: these tests only read files."""
    yield


@pytest.fixture(scope="module")
def documents() -> dict[tuple[str, str], dict]:
    found = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found[(document["kind"], document["metadata"]["name"])] = document
    return found


@pytest.fixture(scope="module")
def settings_variables() -> set[str]:
    source = (ROOT / "eye" / "settings.py").read_text()
    return {a or b for a, b in SETTINGS_READ.findall(source)}


def pod_spec(documents: dict, kind: str, name: str) -> dict:
    return documents[(kind, name)]["spec"]["template"]["spec"]


def containers(documents: dict) -> list[dict]:
    return [
        container
        for (kind, _), document in documents.items()
        if kind in {"Deployment", "Job"}
        for container in document["spec"]["template"]["spec"]["containers"]
    ]


def container(documents: dict, deployment: str, name: str) -> dict:
    spec = pod_spec(documents, "Deployment", deployment)
    [found] = [c for c in spec["containers"] if c["name"] == name]
    return found


def test_it_has_web_worker_migrate_and_their_settings(documents):
    assert {
        ("Deployment", "eye-web"),
        ("Service", "eye-web"),
        ("Deployment", "eye-worker"),
        ("Job", "eye-migrate"),
        ("ConfigMap", "eye-config"),
        ("Secret", "eye-secrets"),
    } <= set(documents)


def test_it_runs_one_image_everywhere_with_resource_requests(documents):
    every = containers(documents)
    assert len({c["image"] for c in every}) == 1
    for c in every:
        requests = c["resources"]["requests"]
        assert requests["cpu"] and requests["memory"], f"{c['name']} requests nothing"
        assert c["resources"]["limits"]["memory"], f"{c['name']} has no memory limit"


def test_it_starts_commands_that_exist(documents):
    commands = get_commands()
    for c in containers(documents):
        command = words(c["command"])
        if command[0] == "gunicorn":
            assert importlib.util.find_spec(command[1]) is not None
            config = command[command.index("--config") + 1].removeprefix("python:")
            assert importlib.util.find_spec(config) is not None
        else:
            script = " ".join(command)
            for part in script.split("manage.py ")[1:]:
                assert part.split()[0] in commands, f"no manage.py {part.split()[0]}"
    worker = words(container(documents, "eye-worker", "worker")["command"])
    assert worker == ["python", "manage.py", "run_huey"]


def test_it_migrates_in_a_job_that_runs_once(documents):
    job = documents[("Job", "eye-migrate")]
    [migrate] = job["spec"]["template"]["spec"]["containers"]
    script = " ".join(words(migrate["command"]))
    assert "python manage.py migrate --noinput" in script
    # The first admin is made after the tables exist, in the same run.
    assert script.index("migrate") < script.index("first_run")
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_it_serves_the_web_port_the_service_and_probes_point_at(documents):
    web = container(documents, "eye-web", "web")
    command = words(web["command"])
    bind_port = int(command[command.index("--bind") + 1].rsplit(":", 1)[1])
    [port] = web["ports"]
    assert port["containerPort"] == bind_port
    service = documents[("Service", "eye-web")]["spec"]
    assert service["ports"][0]["targetPort"] == port["name"]
    labels = documents[("Deployment", "eye-web")]["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    assert documents[("Deployment", "eye-web")]["spec"]["selector"]["matchLabels"] == labels
    assert probe.HEALTH_URL == f"http://127.0.0.1:{bind_port}/api/health"


def test_it_probes_a_real_health_path_with_the_probe_module(documents):
    web = container(documents, "eye-web", "web")
    assert web["livenessProbe"]["exec"]["command"] == ["python", "-m", "eye.probe", "live"]
    assert web["startupProbe"]["exec"]["command"] == ["python", "-m", "eye.probe", "live"]
    assert web["readinessProbe"]["exec"]["command"] == ["python", "-m", "eye.probe", "ready"]
    assert resolve("/api/health")
    # The problem the readiness probe looks for is the one the health check names.
    assert 'f"queue: unreachable (' in (ROOT / "api" / "health.py").read_text()
    assert probe.QUEUE_UNREACHABLE == "queue: unreachable"
    # The metrics container of the worker pod is asked on its own port.
    metrics = container(documents, "eye-worker", "metrics")
    url = metrics["livenessProbe"]["exec"]["command"][-1]
    command = words(metrics["command"])
    assert url.endswith(
        ":" + command[command.index("--bind") + 1].rsplit(":", 1)[1] + "/api/health"
    )


def test_it_stops_the_consumer_with_the_signal_that_finishes_its_tasks(documents):
    worker = container(documents, "eye-worker", "worker")
    hook = " ".join(worker["lifecycle"]["preStop"]["exec"]["command"])
    assert "kill -INT 1" in hook
    spec = pod_spec(documents, "Deployment", "eye-worker")
    assert spec["terminationGracePeriodSeconds"] >= 60


def test_it_sets_only_variables_the_settings_read(documents, settings_variables):
    config = documents[("ConfigMap", "eye-config")]["data"]
    secret = documents[("Secret", "eye-secrets")]["stringData"]
    known = settings_variables | DEPLOYMENT_VARIABLES
    for name in [*config, *secret]:
        assert name in known, f"{name} is not read by eye/settings.py"
    assert {"EYE_SECRET_KEY", "EYE_DATABASE_URL", "EYE_REDIS_URL"} <= set(secret)
    for c in containers(documents):
        for variable in c.get("env", []):
            assert variable["name"] in known | POD_VARIABLES, variable["name"]
        sources = {ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in c["envFrom"]}
        assert sources == {"eye-config", "eye-secrets"}, c["name"]


def test_it_gives_each_pod_one_metrics_directory_for_its_processes(documents):
    metrics_dir = documents[("ConfigMap", "eye-config")]["data"]["EYE_METRICS_DIR"]
    for name in ("web", "worker"):
        spec = pod_spec(documents, "Deployment", f"eye-{name}")
        volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        for c in spec["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert mounts.get(metrics_dir) in volumes, f"{name}/{c['name']}"
