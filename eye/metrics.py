"""Prometheus metrics of the web processes and the queue workers.

prometheus-client runs in multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set in settings),
so /metrics sums what every gunicorn worker and every consumer process on this host
counted. The queue's backlog is read at scrape time.
"""

from prometheus_client import Counter, Histogram

events_accepted = Counter("eye_events_accepted", "Events answered with 202 and queued.")
requests_rejected = Counter(
    "eye_requests_rejected",
    "Ingest requests refused, by status and the field at fault (or the cause).",
    ["status", "reason"],
)
refusals_unlogged = Counter(
    "eye_refusals_unlogged",
    "Refusals without a valid key past EYE_KEYLESS_REFUSALS_PER_MINUTE, counted, not logged.",
)
events_stored = Counter("eye_events_stored", "Events written to the store (new rows).")
events_duplicate = Counter(
    "eye_events_duplicate", "Events delivered again and ignored by the unique key."
)
events_dead_lettered = Counter(
    "eye_events_dead_lettered", "Events the database refused, set aside in the dead-letter table."
)
insert_batch_size = Histogram(
    "eye_insert_batch_size",
    "Events per insert statement.",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
insert_seconds = Histogram("eye_insert_seconds", "Time to write one batch, in seconds.")
request_seconds = Histogram(
    "eye_request_seconds",
    "Request latency by endpoint, in seconds.",
    ["method", "endpoint", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
process_restarts = Counter(
    "eye_process_restarts",
    "Children of `make run`'s supervisor (web, worker) started again after they died.",
    ["process"],
)
