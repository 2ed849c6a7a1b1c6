"""Resources, sampled in a background thread every 0.25 s while the stack runs.

Each sample holds the RSS of every gunicorn worker and every consumer process (psutil),
the queue's length in Redis (waiting tasks, tasks in workers' hands, scheduled retries),
and the CPU seconds used so far by each role: web workers, consumer processes, the
PostgreSQL backends serving the benchmark's database, Redis, wrk, and the whole machine.
`window(start, end)` sums up one measurement from the samples between two instants.
"""

import contextlib
import re
import threading
import time
from dataclasses import dataclass, field

import psutil
import redis

from bench.services import DATABASE, SENTINEL, Stack, log

INTERVAL = 0.25
# A client backend's title names its client: "postgres: user db 127.0.0.1(5432) idle".
CLIENT_BACKEND = re.compile(r"\(\d+\)|\[local\]")
MB = 1024 * 1024


def queue_keys(queue_name: str) -> tuple[str, str, str]:
    """Huey's Redis keys for a queue name (huey.storage.RedisStorage cleans the name)."""
    name = re.sub("[^A-Za-z0-9_]", "", queue_name)
    return f"huey.redis.{name}", f"huey.schedule.{name}", f"huey.workers.{name}"


@dataclass
class Sample:
    at: float  # time.monotonic()
    web_rss: list[int]
    consumer_rss: list[int]
    queued: int
    in_hand: int
    scheduled: int
    cpu: dict[str, float]  # cumulative CPU seconds per role, and "machine" busy seconds
    flushed: bool = False  # the sentinel was gone: another program flushed our Redis db


@dataclass
class Sampler:
    stack: Stack
    redis_client: redis.Redis
    queue_name: str
    postmaster: int | None = None
    samples: list[Sample] = field(default_factory=list)
    extra_pids: dict[str, set[int]] = field(default_factory=dict)  # e.g. {"wrk": {pid}}
    _cpu_seen: dict[tuple[str, int], float] = field(default_factory=dict)
    _postgres: list[psutil.Process] = field(default_factory=list)
    _postgres_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> "Sampler":
        self._thread = threading.Thread(target=self._loop, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL):
            try:
                self.sample()
            except (psutil.Error, redis.RedisError, OSError):
                continue  # a process ending between listing and reading it; next tick

    def track(self, role: str, pid: int) -> None:
        with self._lock:
            self.extra_pids.setdefault(role, set()).add(pid)

    def _postgres_processes(self) -> list[psutil.Process]:
        """The cluster's own processes (checkpointer, WAL writer, ...) and the backends of
        the benchmark's database, whose titles name it; not other databases' backends
        (a test suite may share the cluster). Listed every 2 s."""
        if self.postmaster is None:
            return []
        if time.monotonic() - self._postgres_at > 2:
            self._postgres_at = time.monotonic()
            try:
                children = psutil.Process(self.postmaster).children()
            except psutil.Error:
                children = []
            found = []
            for process in children:
                try:
                    title = " ".join(process.cmdline())
                except psutil.Error:
                    continue
                if f" {DATABASE} " in title or not CLIENT_BACKEND.search(title):
                    found.append(process)
            self._postgres = found
        return self._postgres

    def _cpu(self, role: str, processes: list[psutil.Process]) -> None:
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            self._cpu_seen[(role, process.pid)] = times.user + times.system

    def sample(self) -> Sample:
        """Take one sample now (also called at the edges of each measurement)."""
        with self._lock:
            web = self.stack.web_workers()
            consumer = self.stack.consumer_processes()
            web_rss = [_rss(p) for p in web]
            consumer_rss = [_rss(p) for p in consumer]
            queue_key, schedule_key, workers_key = queue_keys(self.queue_name)
            pipe = self.redis_client.pipeline(transaction=False)
            pipe.llen(queue_key)
            pipe.zcard(schedule_key)
            pipe.smembers(workers_key)
            pipe.set(SENTINEL, "1", get=True)  # the old value: None if it was flushed away
            queued, scheduled, hands, sentinel = pipe.execute()
            in_hand = 0
            if hands:
                pipe = self.redis_client.pipeline(transaction=False)
                for key in hands:
                    pipe.llen(key)
                in_hand = sum(pipe.execute())
            self._cpu("web", web)
            self._cpu("consumer", consumer)
            self._cpu("postgres", self._postgres_processes())
            for role, pids in self.extra_pids.items():
                self._cpu(role, [p for p in map(_process, pids) if p is not None])
            cpu: dict[str, float] = {}
            for (role, _), seconds in self._cpu_seen.items():
                cpu[role] = cpu.get(role, 0.0) + seconds
            machine = psutil.cpu_times()
            cpu["machine"] = sum(
                getattr(machine, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq")
            )
            # Time the hypervisor gave to other guests: contention the figures cannot see.
            cpu["steal"] = getattr(machine, "steal", 0.0)
            sample = Sample(
                time.monotonic(),
                [r for r in web_rss if r],
                [r for r in consumer_rss if r],
                queued,
                in_hand,
                scheduled,
                cpu,
                flushed=sentinel is None,
            )
            self.samples.append(sample)
            return sample

    def window(self, start: float, end: float) -> dict:
        """Peaks, queue lengths and CPU shares of the samples taken between two instants."""
        with self._lock:
            inside = [s for s in self.samples if start <= s.at <= end]
        if len(inside) < 2:
            return {}
        first, last = inside[0], inside[-1]
        elapsed = last.at - first.at
        cores = psutil.cpu_count() or 1
        consumer_totals = [sum(s.consumer_rss) for s in inside if s.consumer_rss]
        return {
            "samples": len(inside),
            "web_worker_rss_peak_mb": _mb(max(max(s.web_rss, default=0) for s in inside)),
            "consumer_process_rss_peak_mb": _mb(
                max(max(s.consumer_rss, default=0) for s in inside)
            ),
            "consumer_total_rss_first_mb": _mb(consumer_totals[0] if consumer_totals else 0),
            "consumer_total_rss_last_mb": _mb(consumer_totals[-1] if consumer_totals else 0),
            "consumer_total_rss_peak_mb": _mb(max(consumer_totals, default=0)),
            "queue_db_flushed_by_others": any(s.flushed for s in inside),
            "queue_max": max(s.queued for s in inside),
            "queue_last": last.queued,
            "in_hand_max": max(s.in_hand for s in inside),
            "scheduled_max": max(s.scheduled for s in inside),
            "queue_timeline": [
                [round(s.at - first.at, 1), s.queued] for s in inside[:: max(1, len(inside) // 40)]
            ],
            # Each role's CPU as a share of the whole machine (100% = every core busy);
            # "others" is what the machine did besides: anything not started by this run.
            "cpu_percent_of_machine": _cpu_shares(first, last, elapsed * cores),
        }


def _cpu_shares(first: Sample, last: Sample, capacity: float) -> dict[str, float]:
    if capacity <= 0:
        return {}
    used = {role: last.cpu.get(role, 0.0) - first.cpu.get(role, 0.0) for role in last.cpu}
    shares = {role: 100 * seconds / capacity for role, seconds in used.items()}
    ours = sum(v for role, v in shares.items() if role not in ("machine", "steal"))
    shares["others"] = max(0.0, shares.get("machine", 0.0) - ours)
    order = ("web", "consumer", "postgres", "redis", "wrk", "others", "machine", "steal")
    return {role: round(shares[role], 1) for role in order if role in shares}


def machine_busy(seconds: float = 2.0) -> dict:
    """How busy the machine is before the run starts anything, and with what: other work
    on the same 2 cores (a test suite, say) lowers every figure of the run."""
    processes = list(psutil.process_iter(["name"]))
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.cpu_percent(None)
    busy = psutil.cpu_percent(interval=seconds)
    top = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            top.append((process.cpu_percent(None), process.info["name"]))
    cores = psutil.cpu_count() or 1
    top = [f"{name} {share / cores:.0f}%" for share, name in sorted(top, reverse=True)[:3]]
    return {"busy_percent": busy, "seconds": seconds, "top": top if busy >= 5 else []}


def machine_quiet_wait(seconds: float) -> dict:
    """machine_busy(), measured again until it is under 10% or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    busy = machine_busy()
    while busy["busy_percent"] >= 10 and time.monotonic() < deadline:
        log(f"machine {busy['busy_percent']:.0f}% busy ({', '.join(busy['top'])}); waiting")
        time.sleep(10)
        busy = machine_busy()
    return busy


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _rss(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


def _mb(size: int) -> float:
    return round(size / MB, 1)
