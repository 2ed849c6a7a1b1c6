"""GET /metrics in Prometheus text format: what every process on this host counted, and
the queue's backlog read at scrape time."""

import glob
import hmac
import os
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from tasks.queue import QUEUE_ERRORS, queue_backlog


class StartedProcessesCollector(multiprocess.MultiProcessCollector):
    """What every process counted, leaving out the files of processes still starting.

    A process creates its file empty and sizes it a moment later (prometheus-client's
    MmapedDict); a scrape in between would fail on the empty file, and the whole of
    /metrics with it. An empty file holds nothing counted yet, and a file, once sized,
    is never empty again.
    """

    def collect(self) -> Iterable:
        files = [path for path in glob.glob(os.path.join(self._path, "*.db")) if _has_content(path)]
        return self.merge(files, accumulate=True)


def _has_content(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except FileNotFoundError:
        # A gauge file of a dead process, removed since the listing.
        return False


class BacklogCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            backlog = queue_backlog()
        except QUEUE_ERRORS:
            return
        yield GaugeMetricFamily(
            "eye_queue_backlog", "Tasks waiting in the queue.", value=backlog.pending
        )
        yield GaugeMetricFamily(
            "eye_queue_oldest_age_seconds",
            "How long the next task to run has waited, in seconds.",
            value=backlog.oldest_age_seconds or 0.0,
        )


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.EYE_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return HttpResponse("unauthorized\n", status=401, content_type="text/plain")
    registry = CollectorRegistry()
    StartedProcessesCollector(registry, path=os.environ["PROMETHEUS_MULTIPROC_DIR"])
    registry.register(BacklogCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
