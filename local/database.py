"""The local runtime's Aurora: a private MariaDB server with the migrations applied.

It starts in a thread of its own while redis-server, MiniStack and `sam build` start, so its
second or two of `mariadb-install-db` and start-up add nothing to `make dev`'s wait; `wait`
joins it before the deploy, which hands the functions its writer and reader URLs
(`DatabaseAccess=external`). The migrations run here, through the app's own
`courier.data.migrations`, the way the deploy-time migration function runs them on Aurora.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from urllib.parse import urlsplit, urlunsplit

from local.mariadb_server import MariaDbServer


class LocalDatabase:
    """A MariaDbServer started and migrated in the background; `close` stops it and its files."""

    def __init__(self) -> None:
        # Raises (with how to install it) when MariaDB's server is missing: before anything starts.
        self._server = MariaDbServer()
        self._executor: ThreadPoolExecutor | None = None
        self._started: Future[list[str]] | None = None

    @property
    def writer_url(self) -> str:
        return self._server.writer_url

    @property
    def reader_url(self) -> str:
        return self._server.reader_url

    @property
    def log_path(self) -> str:
        return str(self._server.log_path)

    def start_in_background(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-mariadb")
        self._started = self._executor.submit(self._start)

    def wait(self, timeout: float = 120) -> list[str]:
        """Block until the server runs and is migrated; the ids of the migrations applied."""
        assert self._started is not None, "start_in_background first"
        return self._started.result(timeout=timeout)

    def _start(self) -> list[str]:
        from courier.data.connections import open_database
        from courier.data.migrations import apply_migrations
        from courier.settings import Settings

        self._server.start()
        settings = Settings(database_url=self.writer_url, database_reader_url=self.reader_url)
        return apply_migrations(open_database(settings).writer_factory)

    def close(self) -> None:
        if self._started is not None:
            # Let a start still under way finish (or fail) before its server is stopped.
            with suppress(Exception):
                self._started.result(timeout=120)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self._server.close()


def without_password(url: str) -> str:
    """`url` with its password replaced by `***`, for a line printed on the terminal."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
