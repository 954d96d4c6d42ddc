"""The local runtime's database (local/database.py): a private MariaDB, migrated in a thread."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pymysql
import pytest

from courier.data.connections import open_database
from courier.data.errors import ReadOnlyViolation
from courier.data.migrations import MIGRATIONS_DIR
from courier.settings import Settings
from local.database import LocalDatabase


def test_the_local_database_starts_migrated_with_a_read_only_reader_and_is_removed_on_close() -> (
    None
):
    # Given the runtime's database, started in the background
    local = LocalDatabase()
    try:
        local.start_in_background()
        # When the runtime waits for it before the deploy
        applied = local.wait(timeout=120)
        # Then every migration file was applied to the writer's database
        assert applied == sorted(path.stem for path in MIGRATIONS_DIR.glob("*.sql"))
        database = open_database(
            Settings(database_url=local.writer_url, database_reader_url=local.reader_url)
        )
        with database.read_transaction() as cursor:
            cursor.execute("SELECT COUNT(*) AS n FROM daily_stats")
            assert cursor.fetchone() == {"n": 0}
        # And the reader URL, as the functions get it, can only read
        with pytest.raises(ReadOnlyViolation), database.read_transaction() as cursor:
            cursor.execute("DELETE FROM daily_stats")
        database.close()
        log_dir = Path(local.log_path).parent
    finally:
        local.close()
    # And close stops the server and removes its files
    assert not log_dir.exists()
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host="127.0.0.1", port=urlsplit(local.writer_url).port, connect_timeout=2)
