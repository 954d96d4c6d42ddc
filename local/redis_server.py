"""A private redis-server process on a free 127.0.0.1 port: for the local runtime and the tests.

It runs in cluster mode, one node holding every hash slot, because ElastiCache Serverless runs
Valkey in cluster mode: a command whose keys hash to different slots fails with CROSSSLOT there,
and so it does here, on every test, benchmark and local run that uses Redis.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from local import server_process

# A cluster-mode node also listens on its cluster bus, at its port + 10000.
CLUSTER_BUS_OFFSET = 10_000
_MAX_PORT = 65_535 - CLUSTER_BUS_OFFSET  # ports from here on have no bus port


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _usable(port: int) -> bool:
    """Free on 127.0.0.1, and so is its cluster bus port."""
    return port < _MAX_PORT and _bindable(port) and _bindable(port + CLUSTER_BUS_OFFSET)


def free_port(preferred: int | None = None) -> int:
    """`preferred` when it is free on 127.0.0.1, else a port the OS picks; either way one below
    55535 whose port + 10000 is free too, so a cluster-mode redis-server can take it."""
    if preferred is not None and _usable(preferred):
        return preferred
    return server_process.free_port(
        _usable, what="free 127.0.0.1 port below 55535 with its port + 10000 free"
    )


class RedisServer:
    """A cluster-mode redis-server process of our own on one 127.0.0.1 port, owning all 16384
    hash slots, which can be stopped and started again on that port (the fault suites take Redis
    away and give it back).

    Nothing is persisted: each start is a fresh node (a new cluster config file) given every
    slot again. Its working directory is a temporary one, removed by `close`. `auth` is the
    (username, password) to set the cluster up with when `extra_args` turn the default user off.
    """

    def __init__(
        self, *extra_args: str, port: int | None = None, auth: tuple[str, str] | None = None
    ) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; `make tools` installs it")
        self._binary = binary
        self._extra_args = extra_args
        self._auth = auth
        self.port = port or free_port()
        if self.port >= _MAX_PORT:
            raise ValueError(f"port {self.port}: a cluster-mode node needs port + 10000 too")
        self.workdir = tempfile.mkdtemp(prefix="courier-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        config = Path(self.workdir) / "nodes.conf"
        config.unlink(missing_ok=True)  # a fresh node: the slots are added again below
        self._process = subprocess.Popen(
            [
                self._binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.workdir,
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                str(config),
                *self._extra_args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline or self._process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)
        self._assign_all_slots(deadline)

    def _assign_all_slots(self, deadline: float) -> None:
        """Give this one node every hash slot and wait until the cluster serves them."""
        import redis

        username, password = self._auth or (None, None)
        client = redis.Redis(host="127.0.0.1", port=self.port, username=username, password=password)
        try:
            client.cluster("ADDSLOTSRANGE", 0, 16383)
            # A master waits about 2 s after start-up before it reports cluster_state:ok.
            while client.cluster("INFO").get("cluster_state") != "ok":
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not reach cluster_state:ok")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self._process is not None:
            server_process.stop(self._process, timeout=10)
            self._process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextmanager
def redis_server(*extra_args: str, auth: tuple[str, str] | None = None) -> Iterator[str]:
    """A cluster-mode redis-server of our own on a free port; yields its URL, stops it after."""
    server = RedisServer(*extra_args, auth=auth)
    try:
        server.start()
        yield server.url
    finally:
        server.close()
