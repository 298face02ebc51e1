"""The durable log's SQLite files must stay the ones its connection has open.

An operator "cleaning up" ``gateway.db-wal`` while the gateway runs unlinks a file SQLite keeps
writing through its open descriptor: commits still succeed, into a file no one will find again,
and the next crash loses every event acknowledged since. A replaced ``gateway.db`` is the same
fault. So before each group commit the writer compares the files' device and inode numbers with
those it recorded after its first commit (two ``stat`` calls, microseconds). On a change:

- what was acknowledged is rescued where possible: a checkpoint through the open connection
  copies the (unlinked) WAL's frames into the database file;
- every later write is refused with 503 and ``/ready`` answers 503 (``LogHealth.broken``), until
  the gateway is restarted on files it can trust. Nothing is answered 200 on a WAL no one can find.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from gateway.errors import Unavailable
from gateway.storage.log_health import LogHealth

log = logging.getLogger("gateway.log")
Identity = tuple[tuple[int, int] | None, ...]


class LogFilesChanged(Unavailable):
    code = "log_files_changed"


def _identity(paths: tuple[Path, ...]) -> Identity:
    found: list[tuple[int, int] | None] = []
    for path in paths:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            found.append(None)
        else:
            found.append((st.st_dev, st.st_ino))
    return tuple(found)


class LogFiles:
    def __init__(self, db_path: str | Path, health: LogHealth) -> None:
        db = Path(db_path)
        self.paths = (db, db.with_name(db.name + "-wal"))
        self.health = health
        self._known: Identity | None = None
        self._changed: str | None = None

    def committed(self) -> None:
        """After a commit: the first one records the files the connection writes."""
        if self._known is None:
            known = _identity(self.paths)
            if all(known):
                self._known = known

    def verify(self, conn: sqlite3.Connection) -> None:
        """Before a commit: raise LogFilesChanged when a file vanished or was replaced."""
        if self._changed is None and self._known is not None:
            now = _identity(self.paths)
            if now != self._known:
                self._changed = ", ".join(str(p.name) for p, a, b in zip(self.paths, self._known, now, strict=True)
                                          if a != b)
                self._rescue(conn)
                self.health.broken(f"{self._changed} vanished or was replaced while the gateway ran; restart it")
        if self._changed is not None:
            raise LogFilesChanged(f"the durable log's files changed under it ({self._changed}); events cannot "
                                  "be stored until the gateway is restarted", retry_after=30)

    def _rescue(self, conn: sqlite3.Connection) -> None:
        try:
            busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            log.critical("durable log: %s changed under the gateway and the checkpoint failed (%s): events "
                         "acknowledged since the last checkpoint may be lost", self._changed, exc)
            return
        how = "all of them" if not busy and frames == copied else f"{copied} of {frames} frames"
        log.critical("durable log: %s vanished or was replaced while the gateway ran; the events in the open "
                     "WAL were checkpointed into %s (%s); refusing writes (503) until a restart",
                     self._changed, self.paths[0].name, how)


ROOM_NEEDED_BYTES = 1024 * 1024  # a group commit of small events needs about this much WAL


def probe(conn: sqlite3.Connection, files: LogFiles) -> str | None:
    """Why the log cannot write now (None when it can): its files, its disk's room, its write lock."""
    try:
        files.verify(conn)
    except LogFilesChanged as exc:
        return exc.message
    try:
        st = os.statvfs(files.paths[0].parent)
        if st.f_bavail * st.f_frsize < ROOM_NEEDED_BYTES:
            return "the durable log's disk is full"
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except (OSError, sqlite3.Error) as exc:
        return f"the durable log cannot take its write lock: {type(exc).__name__}"
    return None
