"""Serve plotly.js from the copy inside the installed `plotly` package.

Dashboards run on closed networks, so no page may load a script from a CDN; and pinning
the Python package already pins the JavaScript that matches its figures. This finder
exposes that one file as `plotly/plotly.min.js` (the package's data folder also holds
datasets and a widget bundle that nobody should download), so collectstatic and
WhiteNoise, the test live server and runserver all find it the usual way.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import CheckMessage, Error
from django.core.files.storage import FileSystemStorage

PLOTLY_JS = "plotly/plotly.min.js"
PACKAGE_DATA = Path(plotly.__file__).resolve().parent / "package_data"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=str(PACKAGE_DATA))
        # Finders that list files set `prefix` on their storage: collectstatic and
        # WhiteNoise put the file under it.
        self.storage.prefix = "plotly"

    def check(self, **kwargs: Any) -> list[CheckMessage]:
        if not (PACKAGE_DATA / "plotly.min.js").is_file():
            return [Error(f"plotly.min.js is missing from {PACKAGE_DATA}", id="dashboard.E001")]
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> str | list[str]:
        if path != PLOTLY_JS:
            return [] if find_all else ""
        found = str(PACKAGE_DATA / "plotly.min.js")
        return [found] if find_all else found

    def list(self, ignore_patterns: list[str] | None) -> Iterator[tuple[str, FileSystemStorage]]:
        yield "plotly.min.js", self.storage
