"""A Redis queue for Huey that loses nothing when a worker dies, and takes work in batches.

Huey's own Redis storage pops a task with BRPOP: from then on the task lives only in the
worker's memory, and a worker killed mid-task loses it (and with it events the API
already answered 202 for). Here a worker *moves* the task into a processing list of its
own (BLMOVE) and removes it only after the task ran (the ack). Each worker keeps a lease
key alive while it works; when a lease expires (the worker was killed or its host died),
any live worker moves that worker's unfinished tasks back to the queue. A task may then
run twice, which the store's unique key makes harmless: delivery is at least once,
storage exactly once.

The same list operations let a store task claim more waiting store tasks and write them
all in one statement, which is what keeps single-event ingest fast.

The API pushes with a bound: past `max_pending` waiting tasks it is refused, so the
API answers 503 instead of letting the queue grow without end.

Behind Sentinel, the master replicates asynchronously; a task it took and lost before a
replica had it would be gone after the failover. With `wait_replicas`, a push (and a
scheduled retry) is followed on the same connection by WAIT: the push counts as done only
once that many replicas hold it (fewer if fewer are connected: a master whose only replica
is down has nothing to wait for, and is then as safe as a single Redis). A push no replica
confirmed in time is taken back out of the queue and refused, so the API's 503 still means
that nothing was accepted.
"""

import os
import time
import uuid

from huey import RedisHuey
from huey.storage import RedisStorage
from redis import RedisError
from redis.client import Pipeline

from tasks.consumer import OrphanSafeConsumerMixin

# Push unless the queue already holds ARGV[2] tasks; returns the new length or -1.
BOUNDED_PUSH = """
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
return redis.call('LPUSH', KEYS[1], ARGV[1])
"""

# Move up to ARGV[1] tasks from the queue into a processing list, oldest first.
CLAIM = """
local claimed = {}
for i = 1, tonumber(ARGV[1]) do
    local item = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
    if not item then break end
    claimed[i] = item
end
return claimed
"""

# Put every task of a processing list back at the head of the queue (the end that is
# read next).
SWEEP = """
local moved = 0
while redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT') do moved = moved + 1 end
return moved
"""

# The same for a dead worker's list, which is then forgotten.
RECOVER = """
local moved = 0
while redis.call('LMOVE', KEYS[2], KEYS[1], 'LEFT', 'RIGHT') do moved = moved + 1 end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], KEYS[2])
return moved
"""


# Move every task due by ARGV[1] from the schedule into the queue, in due order, in one
# step. Huey pops them from the schedule and pushes them to the queue in two: a scheduler
# killed in between would lose the retries it held, and with them accepted events.
SCHEDULE_TO_QUEUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]))
for _, item in ipairs(due) do redis.call('LPUSH', KEYS[2], item) end
if #due > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1])) end
return #due
"""


class QueueFull(Exception):
    """The queue holds as many tasks as it may; nothing was added."""


class QueueNotReplicated(RedisError):
    """No replica confirmed a write in time; a task it pushed was taken back out.

    A RedisError, so that everything that copes with an unreachable Redis copes with this."""


class ReliableRedisStorage(RedisStorage):
    def __init__(
        self,
        *args,
        lease_seconds: float = 30.0,
        max_pending: int = 0,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 1000,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lease_seconds = lease_seconds
        self.max_pending = max_pending
        self.wait_replicas = wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self._connected_replicas = 0
        self._replicas_counted_at = float("-inf")
        self.workers_key = f"huey.workers.{self.name}"
        self._claim = self.conn.register_script(CLAIM)
        self._recover = self.conn.register_script(RECOVER)
        self._schedule_to_queue = self.conn.register_script(SCHEDULE_TO_QUEUE)
        self._owner_pid: int | None = None
        self._token = ""
        self._in_flight: bytes | None = None
        self._next_recovery = 0.0
        # Redis round trips are most of a worker's cost per task, so the lease is renewed
        # only when a third of it has gone.
        self._lease_renewed_at = float("-inf")

    # --- this worker's identity ----------------------------------------------------

    @property
    def processing_key(self) -> str:
        # Worker processes are forked from the consumer, so the identity is made lazily,
        # in the process that uses it.
        if self._owner_pid != os.getpid():
            self._owner_pid = os.getpid()
            self._token = uuid.uuid4().hex
            self._in_flight = None
            self._lease_renewed_at = float("-inf")
        return f"huey.processing.{self.name}.{self._token}"

    def _lease_key(self, processing_key: str) -> str:
        return f"{processing_key}.lease"

    def renew_lease(self, *, force: bool = True) -> None:
        processing = self.processing_key
        due = time.monotonic() - self._lease_renewed_at > self.lease_seconds / 3
        if not (force or due):
            return
        pipe = self.conn.pipeline(transaction=False)
        pipe.sadd(self.workers_key, processing)
        pipe.set(self._lease_key(processing), b"1", px=int(self.lease_seconds * 1000))
        pipe.execute()
        self._lease_renewed_at = time.monotonic()

    # --- the consumer's side -------------------------------------------------------

    def dequeue(self) -> bytes | None:
        if time.monotonic() >= self._next_recovery:
            self._next_recovery = time.monotonic() + min(5.0, self.lease_seconds / 2)
            self.recover_abandoned()
        self.renew_lease(force=False)
        # Between two tasks a worker holds nothing, so whatever its list still holds goes
        # back to the queue first, in the same round trip as the move: a task whose ack
        # failed or that ended in an error, claimed ones never acked, and one that a move
        # put there when Redis went away before its reply came back (redis-py then sends
        # the move again, or raises). The worker never learnt that it held that one, and
        # its lease stays alive, so nobody else would ever take it back: a soak lost an
        # event this way when Redis shut down mid-move.
        pipe = self.conn.pipeline(transaction=False)
        pipe.eval(SWEEP, 2, self.queue_key, self.processing_key)
        if self.blocking:
            pipe.blmove(self.queue_key, self.processing_key, self.read_timeout, "RIGHT", "LEFT")
        else:
            pipe.lmove(self.queue_key, self.processing_key, "RIGHT", "LEFT")
        _, item = pipe.execute()
        self._in_flight = item
        return item

    def ack(self) -> None:
        """The task this worker took last has run (or been rescheduled): forget it."""
        if self._in_flight is not None:
            self.conn.lrem(self.processing_key, 1, self._in_flight)
            self._in_flight = None

    def claim(self, limit: int) -> list[bytes]:
        """Take up to `limit` more waiting tasks into this worker's hands."""
        self.renew_lease(force=False)
        return self._claim(keys=[self.queue_key, self.processing_key], args=[limit])

    def ack_many(self, items: list[bytes]) -> None:
        pipe = self.conn.pipeline(transaction=False)
        for item in items:
            pipe.lrem(self.processing_key, 1, item)
        pipe.execute()

    def give_back(self, items: list[bytes]) -> None:
        """Return claimed tasks to the head of the queue, untouched."""
        pipe = self.conn.pipeline(transaction=True)
        for item in reversed(items):
            pipe.rpush(self.queue_key, item)
            pipe.lrem(self.processing_key, 1, item)
        pipe.execute()

    def recover_abandoned(self) -> int:
        """Requeue the tasks of workers whose lease ran out; returns how many."""
        moved = 0
        for processing in self.conn.smembers(self.workers_key):
            processing = processing.decode()
            if not self.conn.exists(self._lease_key(processing)):
                moved += self._recover(keys=[self.queue_key, processing, self.workers_key])
        return moved

    # --- the scheduler's side -------------------------------------------------------

    def read_schedule(self, ts: object) -> list[bytes]:
        """Queue the due tasks here, atomically; the scheduler is left nothing to enqueue."""
        self._schedule_to_queue(
            keys=[self.schedule_key, self.queue_key], args=[self.convert_ts(ts)]
        )
        return []

    # --- the API's side -------------------------------------------------------------

    def enqueue_bounded(self, data: bytes) -> None:
        # One pipeline is one connection, and WAIT counts the writes of its own connection.
        pipe = self.conn.pipeline(transaction=False)
        if self.max_pending:
            # EVAL, not the registered script: a pipeline holding one asks SCRIPT EXISTS
            # first, a second round trip per request. Redis caches the script all the same.
            pipe.eval(BOUNDED_PUSH, 1, self.queue_key, data, self.max_pending)
        else:
            pipe.lpush(self.queue_key, data)
        wanted = self._wait_for_replicas(pipe)
        pushed, *replicated = pipe.execute()
        if pushed == -1:
            raise QueueFull(f"the queue already holds {self.max_pending} tasks")
        if replicated and replicated[0] < wanted:
            self._replicas_counted_at = float("-inf")
            if self.conn.lrem(self.queue_key, 1, data):
                raise QueueNotReplicated(
                    f"{replicated[0]} of {wanted} replicas confirmed the task "
                    f"within {self.wait_timeout_ms} ms; it was withdrawn"
                )
            # Not in the queue any more: a worker took it within the wait and holds it in
            # its own hands, so it will be stored; withdrawing is no longer possible.

    def add_to_schedule(self, data: bytes, ts: object) -> None:
        """A retry holds accepted events too: it waits for the replicas like a push.

        Unconfirmed, it raises, the task that scheduled it is not acked, and it runs again
        (the store's unique key makes that harmless)."""
        pipe = self.conn.pipeline(transaction=False)
        pipe.zadd(self.schedule_key, {data: self.convert_ts(ts)})
        wanted = self._wait_for_replicas(pipe)
        _, *replicated = pipe.execute()
        if replicated and replicated[0] < wanted:
            self._replicas_counted_at = float("-inf")
            raise QueueNotReplicated(
                f"{replicated[0]} of {wanted} replicas confirmed a retry "
                f"within {self.wait_timeout_ms} ms"
            )

    def _wait_for_replicas(self, pipe: Pipeline) -> int:
        """Add a WAIT for as many replicas as are wanted and connected; returns how many."""
        wanted = min(self.wait_replicas, self._replicas_connected())
        if wanted:
            pipe.execute_command("WAIT", wanted, self.wait_timeout_ms)
        return wanted

    def _replicas_connected(self) -> int:
        """The master's replicas in sync, looked up at most once a second: an INFO per
        push would double the API's round trips. After a failover the count is at most a
        second stale, and a WAIT that times out looks it up again at once."""
        if not self.wait_replicas:
            return 0
        if time.monotonic() - self._replicas_counted_at > 1.0:
            info = self.conn.info("replication")
            # A replica still making its first copy is listed but cannot confirm anything.
            self._connected_replicas = sum(
                1
                for key, value in info.items()
                if key.startswith("slave")
                and isinstance(value, dict)
                and value.get("state") == "online"
            )
            self._replicas_counted_at = time.monotonic()
        return self._connected_replicas

    # --- housekeeping ----------------------------------------------------------------

    def in_processing(self) -> int:
        """Tasks taken by workers and not yet finished."""
        keys = [key.decode() for key in self.conn.smembers(self.workers_key)]
        pipe = self.conn.pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
        return sum(pipe.execute()) if keys else 0

    def flush_queue(self) -> None:
        super().flush_queue()
        for processing in self.conn.smembers(self.workers_key):
            self.conn.delete(processing, self._lease_key(processing.decode()))
        self.conn.delete(self.workers_key)
        self._in_flight = None
        # The lease went with the rest: the next dequeue must set it again.
        self._lease_renewed_at = float("-inf")


class ReliableRedisHuey(OrphanSafeConsumerMixin, RedisHuey):
    storage_class = ReliableRedisStorage

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._unfinished = False
        self.signal("interrupted", "error")(self._on_unfinished)

    def _on_unfinished(self, signal: str, task: object, *args: object) -> None:
        self._unfinished = True

    def execute(self, task, timestamp=None):  # noqa: ANN001, ANN201 (Huey's signature)
        self._unfinished = False
        try:
            return super().execute(task, timestamp)
        finally:
            # A task cut short by shutdown, or one that failed (say, Redis vanished while it
            # rescheduled its events), is not acked: it stays in the processing list and
            # goes back to the queue before this worker takes its next task.
            if not self._unfinished:
                self.storage.ack()
