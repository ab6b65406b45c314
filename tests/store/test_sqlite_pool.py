"""The SQLite adapter's readers are a bounded pool: a thread per request (Werkzeug's threaded
server, gunicorn's gthread) no longer leaves one open connection per thread behind."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from store.backend import FindQuery
from store.sqlite_backend import MAX_READERS, SqliteBackend


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_many_short_lived_threads_share_a_few_readers(tmp_path: Path) -> None:
    backend = SqliteBackend(tmp_path / "pool.db")
    backend.put("things", "a", {"_id": "a", "n": 1})
    before = _open_files()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(5):
                assert backend.find("things", FindQuery(where={"n": 1}))[0]["n"] == 1
                assert backend.count("things", {}) == 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    for _round in range(4):
        threads = [threading.Thread(target=read) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert backend._idle_readers.qsize() <= MAX_READERS
    # each reader holds the database file (and, in WAL mode, no more than a few handles)
    assert _open_files() - before <= MAX_READERS * 3
    backend.close()
    assert _open_files() <= before
