"""Everything a page loads is served by The Eye itself, plotly.js from the plotly package."""

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import plotly
import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.support import ROOT, free_port, stop_process, wait_for

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def test_it_finds_plotly_js_inside_the_plotly_package():
    assert finders.find("plotly/plotly.min.js") == str(PLOTLY_JS.resolve())
    # Only that one file of the package's data folder is published.
    listed = [path for finder in finders.get_finders() for path, _ in finder.list(None)]
    assert "plotly.min.js" in listed
    assert not any(path.endswith("widgetbundle.js") for path in listed)


@pytest.mark.parametrize(
    "page",
    ["dashboard:overview", "dashboard:explore", "dashboard:live", "dashboard:errors"],
)
def test_it_loads_no_script_or_stylesheet_from_elsewhere(as_alice, page):
    html = as_alice.get(reverse(page)).content.decode()

    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(source.startswith("/static/") for source in sources), sources


def test_it_serves_plotly_from_its_own_static_url(as_alice):
    html = as_alice.get(reverse("dashboard:overview")).content.decode()

    assert '<script src="/static/plotly/plotly.min.js" defer></script>' in html


def test_it_serves_static_files_under_gunicorn_with_debug_off(tmp_path):
    env = {
        **os.environ,
        "EYE_DATA_DIR": str(tmp_path),
        "EYE_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "eye.settings",
    }
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    assert (tmp_path / "static" / "plotly" / "plotly.min.js").is_file()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "eye.wsgi", "--bind", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{base}/static/dashboard/eye.css", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_for(up, timeout=30), "gunicorn did not serve the stylesheet"
        plotly_js = httpx.get(f"{base}/static/plotly/plotly.min.js", timeout=10)
        assert plotly_js.status_code == 200
        assert plotly_js.headers["content-type"].startswith("text/javascript")
        assert plotly_js.content == PLOTLY_JS.read_bytes()
        assert httpx.get(f"{base}/static/dashboard/eye.js", timeout=5).status_code == 200
        assert httpx.get(f"{base}/static/plotly/widgetbundle.js", timeout=5).status_code != 200
    finally:
        stop_process(server)
