"""What the private server processes (redis-server, mariadbd) share: a free port, a clean stop."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable


def free_port(accept: Callable[[int], bool], *, what: str = "free 127.0.0.1 port") -> int:
    """A port the OS reports free on 127.0.0.1 that `accept` also takes."""
    for _ in range(200):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if accept(port):
            return port
    raise RuntimeError(f"no {what}")


def stop(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
