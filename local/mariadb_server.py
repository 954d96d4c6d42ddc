"""A private MariaDB server on a free 127.0.0.1 port: the local runtime's and the tests' Aurora.

Aurora MySQL 3 (MySQL 8.0) cannot run on this machine, so Debian's MariaDB 10.11 stands in. It
is configured to refuse what Aurora refuses:

- strict SQL mode: MySQL 8.0's default `sql_mode`, every flag of which MariaDB also has;
- utf8mb4 and the UTC time zone, as an Aurora cluster parameter group has them by default;
- two accounts, as the application has on Aurora: a writer (DML plus the DDL the migrations run)
  and a reader with SELECT only, so a write routed to the reader fails here as it does on an
  Aurora replica (with a different error number: see `courier.data.connections`).

It never reads the machine's option files (`--no-defaults`), so a shared MariaDB on port 3306 and
its configuration are never touched. Its data directory is a temporary one, removed by `close`;
`mariadb-install-db` fills it in about a second. Run as root (CI), mariadbd refuses to start
without `--user=root`, which is passed then.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local import server_process

DATABASE = "courier"
WRITER_USER = "courier_app"
READER_USER = "courier_reader"

# MySQL 8.0's default sql_mode; MariaDB 10.11 knows every one of these flags.
MYSQL80_SQL_MODE = ",".join(
    (
        "ONLY_FULL_GROUP_BY",
        "STRICT_TRANS_TABLES",
        "NO_ZERO_IN_DATE",
        "NO_ZERO_DATE",
        "ERROR_FOR_DIVISION_BY_ZERO",
        "NO_ENGINE_SUBSTITUTION",
    )
)

# Debian keeps the server in /usr/sbin, which is not on a non-root user's PATH.
_SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin")
# Small InnoDB files: a data directory of ~25 MB instead of ~115 MB, created faster.
_INNODB_SIZES = ("--innodb-log-file-size=8M", "--innodb-data-file-path=ibdata1:10M:autoextend")

# The writer runs the migrations too; the reader may only read.
_WRITER_GRANTS = (
    "SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP, INDEX, REFERENCES, CREATE VIEW, SHOW VIEW"
)
_READER_GRANTS = "SELECT, SHOW VIEW"


def _find(*names: str) -> str | None:
    search = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN_DIRS])
    for name in names:
        found = shutil.which(name, path=search)
        if found is not None:
            return found
    return None


def mariadb_binaries() -> tuple[str, str] | None:
    """(server, install-db) paths, or None when MariaDB's server package is not installed."""
    server = _find("mariadbd", "mysqld")
    install_db = _find("mariadb-install-db", "mysql_install_db")
    if server is None or install_db is None:
        return None
    return server, install_db


class MariaDbServer:
    """A mariadbd process of our own with the `courier` database, a writer and a reader account.

    `start` creates the data directory and the accounts the first time; `stop` then `start` again
    keeps the data (an outage in a fault test, not a new database). `close` stops it and removes
    its files. The passwords are random per server.
    """

    def __init__(self, *, port: int | None = None) -> None:
        binaries = mariadb_binaries()
        if binaries is None:
            raise RuntimeError(
                "MariaDB's server is not installed; `make mariadb-server` installs Debian's "
                "mariadb-server package"
            )
        self._server_binary, self._install_db = binaries
        # 3306 is never chosen: it is left to the machine's own server.
        self.port = port or server_process.free_port(lambda candidate: candidate != 3306)
        # A short path: a unix socket's path is limited to ~107 bytes.
        self.workdir = Path(tempfile.mkdtemp(prefix="courier-mariadb-"))
        self.datadir = self.workdir / "data"
        self.socket_path = self.workdir / "mysqld.sock"
        self.log_path = self.workdir / "error.log"
        self.writer_password = secrets.token_hex(16)
        self.reader_password = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None
        self._provisioned = False

    @property
    def writer_url(self) -> str:
        return f"mysql://{WRITER_USER}:{self.writer_password}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def reader_url(self) -> str:
        return f"mysql://{READER_USER}:{self.reader_password}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _as_root(self) -> list[str]:
        # mariadbd will not run as root unless told to, and then it runs as root.
        return ["--user=root"] if os.geteuid() == 0 else []

    def _install(self) -> None:
        result = subprocess.run(
            [
                self._install_db,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                *self._as_root(),
                *_INNODB_SIZES,
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")[-2000:]
            raise RuntimeError(f"mariadb-install-db failed ({result.returncode}):\n{output}")

    def start(self) -> None:
        if not self.datadir.exists():
            self._install()
        log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                [
                    self._server_binary,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    f"--socket={self.socket_path}",
                    f"--pid-file={self.workdir / 'mysqld.pid'}",
                    f"--port={self.port}",
                    "--bind-address=127.0.0.1",
                    "--skip-name-resolve",
                    *self._as_root(),
                    *_INNODB_SIZES,
                    "--innodb-buffer-pool-size=32M",
                    # Tests and local runs need no durability across a machine crash.
                    "--innodb-flush-log-at-trx-commit=2",
                    "--character-set-server=utf8mb4",
                    "--collation-server=utf8mb4_unicode_ci",
                    "--default-time-zone=+00:00",
                    f"--sql-mode={MYSQL80_SQL_MODE}",
                    "--max-connections=200",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()
        try:
            self._wait_ready(deadline=time.monotonic() + 30)
            if not self._provisioned:
                self._provision()
                self._provisioned = True
        except BaseException:
            self.stop()  # never leave a server running that its owner did not get back
            raise

    def _wait_ready(self, deadline: float) -> None:
        assert self._process is not None
        while not self._accepts_connections():
            if time.monotonic() > deadline or self._process.poll() is not None:
                raise RuntimeError(f"mariadbd did not start; its log ends:\n{self._log_tail()}")
            time.sleep(0.05)

    def _accepts_connections(self) -> bool:
        # PyMySQL leaks its socket when a unix-socket connect fails: wait for the file first.
        if not self.socket_path.exists():
            return False
        try:
            self.admin_connection().close()
        except Exception:
            return False
        return True

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def admin_connection(self) -> Any:
        """A PyMySQL connection as the server's root, over its unix socket (root has no TCP)."""
        import pymysql

        return pymysql.connect(
            unix_socket=str(self.socket_path), user="root", password="", connect_timeout=2
        )

    def _provision(self) -> None:
        connection = self.admin_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE DATABASE IF NOT EXISTS `{DATABASE}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
                for user, password, grants in (
                    (WRITER_USER, self.writer_password, _WRITER_GRANTS),
                    (READER_USER, self.reader_password, _READER_GRANTS),
                ):
                    # '%%': PyMySQL interpolates `%s`, so a literal % is doubled.
                    cursor.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
                    cursor.execute(f"GRANT {grants} ON `{DATABASE}`.* TO '{user}'@'%'")
        finally:
            connection.close()

    def reset_database(self) -> None:
        """Drop and re-create the `courier` database: empty, no migrations applied (grants stay)."""
        connection = self.admin_connection()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{DATABASE}`")
                cursor.execute(
                    f"CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
        finally:
            connection.close()

    def stop(self) -> None:
        if self._process is not None:
            server_process.stop(self._process, timeout=30)
            self._process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


@contextmanager
def mariadb_server() -> Iterator[MariaDbServer]:
    """A private MariaDB server on a free port, started; stopped and removed after."""
    server = MariaDbServer()
    try:
        server.start()
        yield server
    finally:
        server.close()
