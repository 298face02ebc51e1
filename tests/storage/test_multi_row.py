"""``MultiRowInsert``: any number of rows, in order, in few statements, duplicates skipped by its tail."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.storage.multi_row import CHUNK, MultiRowInsert


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(tmp_path / "rows.db", isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT NOT NULL, v BLOB, "
                       "UNIQUE (k))")
    return connection


def statements(conn: sqlite3.Connection) -> list[str]:
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    return seen


@pytest.mark.parametrize("count", [0, 1, 2, 3, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 37, 1000])
def test_every_row_is_stored_in_order_with_its_values(conn: sqlite3.Connection, count: int) -> None:
    insert = MultiRowInsert("t", ["k", "v"])
    rows = [(f"id-{i}", bytes([i % 256]) * (i % 7)) for i in range(count)]
    conn.execute("BEGIN")
    added = insert.run(conn, iter(rows))  # any iterable of rows, read once
    conn.execute("COMMIT")
    assert added == count
    assert conn.execute("SELECT k, v FROM t ORDER BY seq").fetchall() == rows


@pytest.mark.parametrize("count", [1, CHUNK, 1000, 1023])
def test_rows_go_many_to_a_statement(conn: sqlite3.Connection, count: int) -> None:
    # The point of the class: the GIL is taken back once a statement, not once a row.
    insert = MultiRowInsert("t", ["k", "v"])
    seen = statements(conn)
    insert.run(conn, [(f"id-{i}", None) for i in range(count)])
    assert len(seen) == count // CHUNK + bin(count % CHUNK).count("1")
    assert len(seen) <= count // CHUNK + CHUNK.bit_length()


def test_a_tail_that_skips_duplicates_counts_only_the_rows_added(conn: sqlite3.Connection) -> None:
    insert = MultiRowInsert("t", ["k", "v"], tail="ON CONFLICT (k) DO NOTHING")
    conn.execute("INSERT INTO t (k, v) VALUES ('before', x'00')")
    # repeats inside one statement, across two statements of the same run, and of a stored row
    rows = [(f"id-{i}", b"first") for i in range(CHUNK + 10)]
    rows[3] = ("id-1", b"again")
    rows[CHUNK + 2] = ("id-0", b"again")
    rows.append(("before", b"again"))
    added = insert.run(conn, rows)
    assert added == CHUNK + 10 - 2
    assert conn.execute("SELECT v FROM t WHERE k IN ('id-0', 'id-1', 'before') ORDER BY seq").fetchall() == [
        (b"\x00",), (b"first",), (b"first",)]


def test_a_row_of_the_wrong_width_is_refused_before_anything_is_written(conn: sqlite3.Connection) -> None:
    insert = MultiRowInsert("t", ["k", "v"])
    with pytest.raises(ValueError, match="rows of 2"):
        insert.run(conn, [("a", None), ("b",)])
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_a_failing_row_fails_the_run_and_its_transaction_rolls_back(conn: sqlite3.Connection) -> None:
    insert = MultiRowInsert("t", ["k", "v"])
    conn.execute("BEGIN")
    with pytest.raises(sqlite3.IntegrityError):
        insert.run(conn, [(f"id-{i}", None) for i in range(CHUNK)] + [("id-5", None)])
    conn.execute("ROLLBACK")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_wide_rows_stay_under_the_oldest_sqlite_variable_limit(conn: sqlite3.Connection) -> None:
    # SQLite before 3.32 refuses a statement binding more than 999 values.
    columns = [f"c{i}" for i in range(40)]
    conn.execute(f"CREATE TABLE wide ({', '.join(columns)})")
    conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    insert = MultiRowInsert("wide", columns)
    assert insert.chunk * len(columns) <= 999 and insert.chunk == 16  # a power of two, as large as fits
    rows = [tuple(range(n, n + 40)) for n in range(100)]
    assert insert.run(conn, rows) == 100
    assert conn.execute("SELECT * FROM wide").fetchall() == rows
