"""A Redis primary, its replicas and three Sentinels on 127.0.0.1, each its own process with its own
directory, stopped by PID: the high-availability setup of docs/deployment.md, small."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from proctoring_site.embedded_redis import RedisServer, find_redis_server, free_port
from tests.support import wait_until

MASTER = "proctoring"


class Sentinel:
    """One `redis-server --sentinel` process watching `master` at `primary_port`."""

    def __init__(self, data_dir: Path, primary_port: int, quorum: int, down_after_ms: int) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.primary_port = primary_port
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Sentinel:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "sentinel.conf"  # Sentinel rewrites it as it learns
        config.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    "bind 127.0.0.1",
                    "daemonize no",
                    f"dir {self.data_dir}",
                    f"logfile {self.data_dir / 'sentinel.log'}",
                    f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} {self.quorum}",
                    f"sentinel down-after-milliseconds {MASTER} {self.down_after_ms}",
                    f"sentinel failover-timeout {MASTER} 10000",
                    f"sentinel parallel-syncs {MASTER} 2",
                    "",
                ]
            )
        )
        self.process = subprocess.Popen(
            [find_redis_server(), str(config), "--sentinel"], stdin=subprocess.DEVNULL
        )
        return self

    def client(self) -> redis.Redis:
        return redis.Redis(
            "127.0.0.1", self.port, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(10)


class SentinelGroup:
    """A primary with `replicas` replicas and three sentinels (quorum 2) that fail it over
    `down_after_ms` after it stops answering. `extra` directives go to every data node (each
    may become the primary)."""

    def __init__(
        self, base: Path, replicas: int = 2, down_after_ms: int = 1000, extra: tuple[str, ...] = ()
    ) -> None:
        self.primary = RedisServer(base / "node-0", appendonly=True, extra=extra)
        self.replicas = [
            RedisServer(
                base / f"node-{i}",
                appendonly=True,
                extra=(*extra, "--replicaof", "127.0.0.1", str(self.primary.port)),
            )
            for i in range(1, replicas + 1)
        ]
        self.nodes = [self.primary, *self.replicas]
        self.sentinels = [
            Sentinel(base / f"sentinel-{i}", self.primary.port, quorum=2, down_after_ms=down_after_ms)
            for i in range(3)
        ]

    @property
    def addresses(self) -> str:
        """`REDIS_SENTINELS` for this group."""
        return ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)

    def start(self, timeout: float = 30) -> SentinelGroup:
        try:
            for node in self.nodes:
                node.start()
            for sentinel in self.sentinels:
                sentinel.start()
            wait_until(self._ready, timeout, "replicas in sync and every sentinel seeing them and the others")
        except BaseException:
            self.stop()  # what did start, stopped by its PID
            raise
        return self

    def _ready(self) -> bool:
        for replica in self.replicas:
            with replica.client(socket_timeout=2) as client:
                if client.info("replication").get("master_link_status") != "up":
                    return False
        for sentinel in self.sentinels:
            try:
                with sentinel.client() as client:
                    fields = client.sentinel_master(MASTER)
            except redis.RedisError:
                return False
            if int(fields["num-slaves"]) < len(self.replicas) or int(fields["num-other-sentinels"]) < 2:
                return False
        return True

    def primary_port(self) -> int:
        """Where the sentinels say the primary is now."""
        with self.sentinels[0].client() as client:
            _, port = client.sentinel_get_master_addr_by_name(MASTER)
        return int(port)

    def node(self, port: int) -> RedisServer:
        return next(node for node in self.nodes if node.port == port)

    def kill(self, node: RedisServer) -> float:
        """kill -9 of a data node (its page cache survives it: the AOF holds what it answered);
        returns when it died (monotonic)."""
        assert node.process is not None
        node.process.kill()
        node.process.wait(10)
        node.process = None
        return time.monotonic()

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for node in self.nodes:
            node.stop()
