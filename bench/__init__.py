"""The benchmark suite of The Eye: `make bench` (python -m bench.run).

One run starts its own services (a scratch database, a Redis queue of its own, web under
gunicorn and the Huey consumer), measures the raw COPY ceiling, single-event and batch
ingest under wrk, query latency at growing table sizes and the memory of each process,
and prints every figure beside its ratio to the ceiling and the issue's target. Nothing
here asserts: it reports what the code does.
"""
