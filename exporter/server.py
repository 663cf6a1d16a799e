"""The exporter's process: live sources, a refresh on its own schedule, /metrics.

A scrape never waits for a flow dump: a background thread refreshes every
``interval`` seconds and builds the metric families once; a scrape formats
the last ones. A source that is stale or down is served as such
(``ovsvlan_source_up`` 0, its last values kept), never as an HTTP error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import start_http_server

from collectors.endpoints import Endpoints
from exporter.metrics import ExporterState, families
from node.live import LiveBackend

log = logging.getLogger("ovsvlan.exporter")

DEFAULT_PORT = 9479
DEFAULT_INTERVAL = 5.0


class ListenError(ValueError):
    """A --listen value that is not HOST:PORT; the message says what to write."""


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


DEFAULT_LISTEN = Listen("127.0.0.1", DEFAULT_PORT)


def parse_listen(text: str) -> Listen:
    """HOST:PORT, [IPv6]:PORT or PORT alone (loopback).

    An empty host (``:9479``), which many servers read as every interface,
    is refused: listening beyond loopback is written out (0.0.0.0:9479).
    """
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = DEFAULT_LISTEN.host, text
    elif host == "":
        raise ListenError(f"{text!r} has no address: write 127.0.0.1{text} for this machine "
                          f"only, or 0.0.0.0{text} to listen on every interface")
    try:
        port = int(port_text)
    except ValueError:
        raise ListenError(f"not HOST:PORT: {text!r} (e.g. 127.0.0.1:{DEFAULT_PORT})") from None
    if not 1 <= port <= 65535:
        raise ListenError(f"port must be between 1 and 65535, not {port_text}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ListenError(f"not an IP address: {host!r} (e.g. 127.0.0.1:{port} or "
                          f"[::1]:{port})") from None
    return Listen(host, port)


class _Served:
    """The registry's collector: hands out the families of the last refresh."""

    def __init__(self) -> None:
        self.families: list = families(ExporterState(None))

    def collect(self):
        return list(self.families)


class Exporter:
    """Sources on a loop thread, refreshes on another, the HTTP server on a third."""

    def __init__(self, endpoints: Endpoints, *, interval: float = DEFAULT_INTERVAL,
                 top_flows: int = 0) -> None:
        self.endpoints = endpoints
        self.interval = interval
        self.top_flows = top_flows
        self.state = ExporterState(None)
        self.registry = CollectorRegistry(auto_describe=False)
        self._served = _Served()
        self.registry.register(self._served)
        ProcessCollector(registry=self.registry)  # the exporter's own CPU and memory
        self._backend = LiveBackend(endpoints)
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._refresher: threading.Thread | None = None
        self._httpd = None

    def bind(self, listen: Listen) -> None:
        """Raises OSError (address in use, not on this machine) before any source is read."""
        self._httpd, _thread = start_http_server(listen.port, listen.host, registry=self.registry)

    def start(self) -> None:
        started = threading.Event()

        def run_loop() -> None:
            loop = self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)

            def start_sources() -> None:  # inside the running loop, as the TUI does it
                try:
                    self._backend.start(loop, lambda source: None)
                finally:
                    started.set()
            loop.call_soon(start_sources)
            loop.run_forever()

        loop_thread = threading.Thread(target=run_loop, name="exporter-sources", daemon=True)
        loop_thread.start()
        started.wait(30)
        self._refresher = threading.Thread(target=self._refresh_forever,
                                           name="exporter-refresh", daemon=True)
        self._refresher.start()

    def refresh_once(self) -> None:
        """Refresh and build the families; a failure (a bug of ours) is logged,
        counted in ovsvlan_refresh_failures_total, and the previous refresh served."""
        try:
            refresh = self._backend.refresh()
            state = ExporterState(refresh, self.state.times.observe(refresh.took),
                                  self.state.failures, time.time())
            built = families(state, top_flows=self.top_flows)
        except Exception:
            log.exception("refresh failed; serving the previous one")
            state = replace(self.state, failures=self.state.failures + 1)
            built = families(state, top_flows=self.top_flows)
        self.state = state
        self._served.families = built

    def _refresh_forever(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.refresh_once()
            took = time.monotonic() - started
            # a refresh slower than the interval stretches the cycle instead of queueing
            interval = max(self.interval, took * 1.5)
            self._stop.wait(max(interval - took, 0.05))

    def stop(self) -> None:
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout=15)  # a refresh under way finishes first
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._loop is not None:
            future = asyncio.run_coroutine_threadsafe(self._backend.stop(), self._loop)
            try:
                future.result(timeout=15)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)


def run_exporter(endpoints: Endpoints, listen: Listen, *, interval: float = DEFAULT_INTERVAL,
                 top_flows: int = 0) -> int:
    """Serve until SIGTERM or SIGINT. 1 when the address cannot be listened on."""
    logging.basicConfig(level=logging.WARNING, format="ovsvlan-tui exporter: %(message)s")
    exporter = Exporter(endpoints, interval=interval, top_flows=top_flows)
    try:
        exporter.bind(listen)
    except OSError as e:
        print(f"ovsvlan-tui exporter: cannot listen on {listen}: {e.strerror or e} "
              "(choose another with --listen HOST:PORT)", file=sys.stderr)
        return 1
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    exporter.start()
    print(f"ovsvlan-tui exporter: serving http://{listen}/metrics, refreshing every "
          f"{interval:g} s", file=sys.stderr, flush=True)
    while not done.wait(1.0):
        pass
    exporter.stop()
    return 0
