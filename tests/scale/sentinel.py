"""A Redis Sentinel set of real processes: one master, one replica, three sentinels, each on
a port of its own, for tests that kill the master and watch the failover."""

import subprocess
import time
from pathlib import Path

import redis

from tests.support import free_port, wait_for

SERVICE = "eye"


class SentinelSet:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.master_port = free_port()
        self.replica_port = free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def start(self) -> None:
        # The replica's first copy starts at once instead of after Redis's 5 s delay.
        self._redis("master", self.master_port, "--repl-diskless-sync-delay", "0")
        self._redis("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        for index, port in enumerate(self.sentinel_ports):
            config = self.directory / f"sentinel-{index}.conf"
            # Sentinels rewrite their file as they learn the set, so each has its own.
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 5000\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
            self.processes[f"sentinel-{index}"] = subprocess.Popen(
                ["redis-server", str(config), "--sentinel"], stdout=subprocess.DEVNULL
            )
        master = redis.Redis(port=self.master_port)
        assert wait_for(
            lambda: _answers(lambda: master.info("replication")["slave0"]["state"] == "online"),
            timeout=20,
        ), "the replica never connected to the master"
        for port in self.sentinel_ports:
            sentinel = redis.Redis(port=port)
            assert wait_for(
                lambda s=sentinel: _answers(
                    lambda: (
                        len(s.sentinel_slaves(SERVICE)) == 1
                        and int(s.sentinel_master(SERVICE)["num-other-sentinels"]) == 2
                    )
                ),
                timeout=20,
            ), f"sentinel on {port} never learnt the whole set"

    def _redis(self, name: str, port: int, *extra: str) -> None:
        self.processes[name] = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--dbfilename",
                f"{name}.rdb",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
        )

    def master_address(self) -> tuple[str, int]:
        sentinel = redis.Redis(port=self.sentinel_ports[0])
        master = sentinel.sentinel_get_master_addr_by_name(SERVICE)
        return master[0], int(master[1])

    def kill_master(self) -> float:
        """SIGKILL the master, as a lost machine would; returns when."""
        self.processes["master"].kill()
        self.processes["master"].wait()
        return time.monotonic()

    def stop(self) -> None:
        for process in self.processes.values():
            process.kill()
        for process in self.processes.values():
            process.wait()


def _answers(check) -> bool:
    try:
        return bool(check())
    except (redis.RedisError, KeyError, IndexError):
        return False
