"""Kubernetes probes of a web pod, read from its own /api/health.

    python -m eye.probe live     # the server answers at all (200 or 503)
    python -m eye.probe ready    # ... and can queue events

/api/health answers 503 for problems that no single pod causes or cures: the database
down (the API goes on accepting, with the keys it has seen), a backlog or a silent
worker. A liveness probe failing on those would restart every pod at once, and a
readiness probe failing on those would take every pod out of the Service, refusing
events the queue could still take. So a pod is restarted only when it does not answer,
and taken out only when it cannot reach the queue, the one thing it cannot accept
without (another pod, on another node, may still reach it).

It imports nothing of Django: a probe runs every few seconds and must cost little.
"""

import json
import sys
import urllib.error
import urllib.request

HEALTH_URL = "http://127.0.0.1:8000/api/health"
# The problem /api/health names (api/health.py) when this process cannot reach the queue.
QUEUE_UNREACHABLE = "queue: unreachable"


def probe_check(*, kind: str, url: str = HEALTH_URL, timeout: float = 4.0) -> str | None:
    """None when the pod passes the probe; otherwise why it does not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            body = answer.read()
    except urllib.error.HTTPError as answer:
        body = answer.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return f"no answer from {url}: {exc}"
    if kind == "live":
        return None
    try:
        problems = json.loads(body)["problems"]
    except (ValueError, KeyError, TypeError):
        return f"{url} answered something other than The Eye's health"
    unreachable = [problem for problem in problems if problem.startswith(QUEUE_UNREACHABLE)]
    return unreachable[0] if unreachable else None


def main() -> int:
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if kind not in {"live", "ready"}:
        print("usage: python -m eye.probe live|ready [URL]", file=sys.stderr)
        return 2
    url = sys.argv[2] if len(sys.argv) > 2 else HEALTH_URL
    failure = probe_check(kind=kind, url=url)
    if failure:
        print(f"eye probe {kind}: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
