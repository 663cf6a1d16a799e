"""Live, read-only copy of the Open vSwitch database (bridges, ports, interfaces).

Read-only by construction: this module never creates an
``ovs.db.idl.Transaction``; it only monitors. The IDL pushes every change, so
topology is never polled; each change is copied into frozen records
(``records.OvsdbSnapshot``) so no live ``Row`` ever leaves the collector thread.
"""

from __future__ import annotations

import errno
import threading
import time
from typing import Callable

import ovs.db.idl
import ovs.jsonrpc
import ovs.poller
import ovs.stream

# The row copying and the error sentences are shared with ovsdb_once (one read
# without python-ovs, for snapshot); their names stay importable from here.
from collectors.ovsdb_rows import (  # noqa: F401
    COLUMNS,
    DATABASE,
    OvsdbError,
    SnapshotCopier,
    describe_connect_error,
    int_set,
    interface_record,
    interface_records,
    optional,
    port_record,
)
from collectors.ovsdb_once import read_once  # noqa: F401  (snapshot's one read)
from model.records import OvsdbSnapshot, SourceState

SNAPSHOT_INTERVAL = 0.1  # s between snapshots during a burst of changes
WAKE_INTERVAL = 0.1  # s; the longest the loop sleeps, so stop() is prompt
MAX_BACKOFF = 5.0  # s between attempts while ovsdb-server is unreachable


# --------------------------------------------------------------------------
# Talking to the server.


def fetch_schema(remote: str, timeout: float, stop: threading.Event | None = None) -> dict:
    """The server's own schema, so we replicate whatever version it runs."""
    deadline = time.monotonic() + timeout
    error, stream = ovs.stream.Stream.open_block(
        ovs.stream.Stream.open(remote), max(1, int(timeout * 1000))
    )
    if error:
        raise OvsdbError(describe_connect_error(remote, error))
    rpc = ovs.jsonrpc.Connection(stream)
    try:
        request = ovs.jsonrpc.Message.create_request("get_schema", [DATABASE])
        error = rpc.send(request)
        while not error:
            error, msg = rpc.recv()
            if msg is not None and msg.id == request.id:
                if msg.type == ovs.jsonrpc.Message.T_ERROR:
                    raise OvsdbError(f"{remote} has no {DATABASE} database: {msg.error}")
                return msg.result
            if error == errno.EAGAIN:
                left = deadline - time.monotonic()
                if left <= 0 or (stop is not None and stop.is_set()):
                    error = errno.ETIMEDOUT
                    break
                rpc.run()
                poller = ovs.poller.Poller()
                rpc.wait(poller)
                rpc.recv_wait(poller)
                poller.timer_wait(int(min(left, WAKE_INTERVAL) * 1000))
                poller.block()
                error = 0
        raise OvsdbError(describe_connect_error(remote, error))
    finally:
        rpc.close()


def schema_helper(schema_json: dict) -> ovs.db.idl.SchemaHelper:
    helper = ovs.db.idl.SchemaHelper(schema_json=schema_json)
    for table, columns in COLUMNS.items():
        helper.register_columns(table, list(columns))
    return helper


class _Idl(ovs.db.idl.Idl):
    """An Idl that remembers which rows changed since the last copy."""

    def __init__(self, remote: str, helper: ovs.db.idl.SchemaHelper) -> None:
        self.changed_rows: set = set()
        super().__init__(remote, helper)

    def notify(self, event, row, updates=None) -> None:
        self.changed_rows.add(row.uuid)


def open_idl(remote: str, schema_json: dict) -> _Idl:
    idl = _Idl(remote, schema_helper(schema_json))
    # python-ovs has no public setter for this; neutron and ovsdbapp reach the
    # session the same way. Its default backoff grows to 8 s; cap it.
    idl._session.reconnect.set_backoff(1000, int(MAX_BACKOFF * 1000))
    return idl


def is_ready(idl: ovs.db.idl.Idl) -> bool:
    """Connected and holding a complete, current copy of the database."""
    # The Idl exposes no "connected?" query; its session is the only source.
    return idl._session.is_connected() and idl.state == idl.IDL_S_MONITORING


def copy_snapshot(idl: _Idl, copier: SnapshotCopier) -> OvsdbSnapshot:
    changed, idl.changed_rows = idl.changed_rows, set()
    return copier.copy(idl.tables["Open_vSwitch"].rows.values(), changed, idl.change_seqno)


def _wait(idl: ovs.db.idl.Idl, seconds: float) -> None:
    poller = ovs.poller.Poller()
    idl.wait(poller)
    poller.timer_wait(max(0, int(seconds * 1000)))
    poller.block()


def probe(remote: str, timeout: float = 0.2) -> int:
    """0 if `remote` accepts a connection now, else the errno."""
    error, stream = ovs.stream.Stream.open_block(ovs.stream.Stream.open(remote), int(timeout * 1000))
    if stream is not None:
        stream.close()
    return error


def read_once_idl(remote: str, timeout: float = 5.0) -> OvsdbSnapshot:
    """One snapshot through the IDL, blocking: ``read_once`` for a remote other
    than one unix socket (tcp:, ssl:, a list)."""
    deadline = time.monotonic() + timeout
    idl = open_idl(remote, fetch_schema(remote, timeout))
    try:
        while True:
            idl.run()
            if is_ready(idl):
                return copy_snapshot(idl, SnapshotCopier())
            left = deadline - time.monotonic()
            if left <= 0:
                raise OvsdbError(describe_connect_error(remote, errno.ETIMEDOUT))
            _wait(idl, left)
    finally:
        idl.close()


# --------------------------------------------------------------------------


class OvsdbCollector:
    """Follows OVSDB in one daemon thread and reports snapshots and health.

    Both callbacks are invoked from the collector thread (the caller marshals
    them to its UI) and must not block for long: they delay the next update.
    A burst of changes yields at most one snapshot per SNAPSHOT_INTERVAL, and
    the last change is always delivered.
    """

    def __init__(
        self,
        remote: str,
        on_snapshot: Callable[[OvsdbSnapshot], None],
        on_state: Callable[[SourceState], None],
    ) -> None:
        self.remote = remote
        self._on_snapshot = on_snapshot
        self._on_state = on_state
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state: SourceState | None = None
        self._last_ok: float | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ovsdb-collector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _report(self, status: str, detail: str) -> None:
        if self._state is None or (self._state.status, self._state.detail) != (status, detail):
            self._state = SourceState("ovsdb", status, detail, last_ok=self._last_ok)
            self._on_state(self._state)

    def _run(self) -> None:
        """Follow until stopped. Anything unexpected (a python-ovs error, a bug
        of ours) is reported and the connection started over: a dead thread
        behind a pane still saying "live" would be the worst outcome."""
        delay = 0.25
        while not self._stop.is_set():
            try:
                self._session()
                return
            except Exception as e:
                self._report("error", f"reading OVSDB failed ({e!r}); starting over")
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, MAX_BACKOFF)

    def _session(self) -> None:
        self._report("connecting", f"connecting to {self.remote}")
        schema = self._fetch_schema()
        if schema is None:
            return
        self._report("connecting", f"connecting to {self.remote}")
        idl = open_idl(self.remote, schema)
        try:
            self._follow(idl)
        finally:
            idl.close()

    def _fetch_schema(self) -> dict | None:
        """Retries with backoff until the server answers; None if stopped."""
        delay = 0.25
        while not self._stop.is_set():
            try:
                return fetch_schema(self.remote, timeout=MAX_BACKOFF, stop=self._stop)
            except OvsdbError as e:
                if self._stop.is_set():
                    return None
                self._report("error", str(e))
            if self._stop.wait(delay):
                return None
            delay = min(delay * 2, MAX_BACKOFF)
        return None

    def _follow(self, idl: _Idl) -> None:
        copier = SnapshotCopier()
        delivered = None  # change_seqno of the last snapshot handed out
        next_copy = 0.0  # time.monotonic() before which no snapshot is made
        was_ready = False
        while not self._stop.is_set():
            idl.run()
            ready = is_ready(idl)
            if not ready:
                if was_ready:
                    self._report_lost()
                copier.forget()
                delivered = None  # a reconnect always ends with a fresh snapshot
            was_ready = ready
            pending = ready and idl.change_seqno != delivered
            if pending and time.monotonic() >= next_copy:
                snapshot = copy_snapshot(idl, copier)
                delivered = snapshot.seqno
                self._last_ok = time.time()
                self._on_snapshot(snapshot)
                self._report("live", f"following {self.remote}")
                next_copy = time.monotonic() + SNAPSHOT_INTERVAL
                pending = False
            _wait(idl, min(WAKE_INTERVAL, next_copy - time.monotonic()) if pending else WAKE_INTERVAL)

    def _report_lost(self) -> None:
        error = probe(self.remote)
        reason = describe_connect_error(self.remote, error) if error else "connection dropped"
        if self._last_ok is None:
            self._report("error", reason)
        else:
            self._report("stale", f"showing the last snapshot while reconnecting: {reason}")
