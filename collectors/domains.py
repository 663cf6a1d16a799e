"""libvirt domains, their vNICs and vNIC counters, read through a read-only connection.

Named ``domains`` so it never shadows the ``libvirt`` package.

The connection is opened with ``openReadOnly`` and nothing else: the tool must
never be able to change an operator's instances.

Thread-safety: a libvirt connection may be used from several threads and the
bindings release the GIL, so ``list_domains`` and ``interface_stats`` (both
blocking) may run in a worker thread while lifecycle events arrive on the
asyncio loop. ``register_events``, ``open`` and ``close`` change this object
and must run on the loop's thread, never at the same time as a read.

Measured here (libvirt 9.0, libvirt-python 12.8) with the in-process test
driver (``test:///<absolute path>/node.xml``):

- ``<target dev='tap...'>`` names, ``<mac>`` addresses and the Nova
  ``<metadata>`` come back as written, except: MACs are lowercased; a missing
  ``<mac>`` gets a random ``52:54:00:...`` one; a target named ``vnet*`` (a
  name libvirt treats as its own) is replaced by ``testnetN``.
- ``<test:runstate>5</test:runstate>`` inside a ``<domain>`` makes it shut off
  (ID -1); without it a domain is running.
- ``interfaceStats`` answers for running domains only (a shut-off one raises
  VIR_ERR_OPERATION_INVALID); its counters come from the wall clock, not from
  traffic (bytes grow ~100 kB/s), and its drop counters are huge: they are
  marked ``synthetic`` (``getType()`` is "TEST") and shown as such.
- Every libvirt error is also printed on stderr by libvirt's default handler,
  which would scribble over a full-screen UI: ``open`` installs a silent one
  (errors still raise).
- libvirt accepts one event implementation per process, ever: a second
  ``virEventRegisterImpl`` raises RuntimeError("Event loop is already
  registered"). Events are therefore bound to the first asyncio loop that asks.
- ``setKeepAlive`` is not supported by the test driver; close callbacks
  register but only remote connections (qemu:///system) ever fire them.
"""

from __future__ import annotations

import asyncio
import errno
import xml.etree.ElementTree as ET
from typing import Callable, Iterable

from model.records import Domain, NovaPort, Vnic, VnicStats

# Nova's metadata namespaces: 1.1 (newer, with <nova:ports>) and 1.0 (older
# Nova, e.g. Newton's RHOSP 10); the elements read here are the same in both.
NOVA_NAMESPACES = ("{http://openstack.org/xmlns/libvirt/nova/1.1}",
                   "{http://openstack.org/xmlns/libvirt/nova/1.0}")

# virDomainState, in libvirt's order.
STATES = ("nostate", "running", "blocked", "paused", "shutdown", "shutoff",
          "crashed", "pmsuspended")

# virDomainEventType, in libvirt's order.
EVENTS = ("defined", "undefined", "started", "suspended", "resumed", "stopped",
          "shutdown", "pmsuspended", "crashed")

# virConnectCloseReason, in libvirt's order.
CLOSE_REASONS = ("error", "eof", "keepalive", "client")

INSTALL_HINT = ("libvirt-python is not installed: apt-get install libvirt-dev pkg-config gcc "
                "python3-dev, then pip install libvirt-python (it builds from source)")


class DomainXmlError(ValueError):
    """A domain's XML could not be read."""


class LibvirtUnavailable(Exception):
    """libvirt cannot be read; the message says why and what to do."""


# --------------------------------------------------------------------------
# Domain XML


class _NoDtd(ET.TreeBuilder):
    """Stops the parse at a DTD, before it can define an entity."""

    def doctype(self, name, pubid, system) -> None:
        raise DomainXmlError("domain XML must not contain a DTD")


def parse_domain_xml(xml: str, *, state: str, id: int | None) -> Domain:
    """The record for one ``virsh dumpxml`` document.

    ElementTree never fetches external entities; a DTD (which libvirt never
    writes) is refused so internal entity expansion cannot blow up either.
    Only a real DTD is refused: libvirt keeps comments in <metadata>, and one
    that merely mentions "<!DOCTYPE" must not hide a domain.
    """
    parser = ET.XMLParser(target=_NoDtd())
    try:
        parser.feed(xml)
        root = parser.close()
    except (ET.ParseError, ValueError) as e:  # ValueError: text that is not Unicode (surrogates)
        if isinstance(e, DomainXmlError):
            raise
        raise DomainXmlError(f"malformed domain XML: {e}") from None
    return domain_record(root, state=state, id=id)


def domain_record(root: ET.Element, *, state: str, id: int | None) -> Domain:
    """The record for a parsed ``<domain>`` (or the ``<domstatus>`` around one)."""
    if root.tag == "domstatus":
        # libvirt's status XML (run/libvirt/qemu/*.xml) wraps the live domain
        inner = root.find("domain")
        if inner is None:
            raise DomainXmlError("<domstatus> holds no <domain>")
        root = inner
    if root.tag != "domain":
        raise DomainXmlError(f"expected <domain>, got <{root.tag}>")
    name = root.findtext("name")
    uuid = root.findtext("uuid")
    if not name or not uuid:
        raise DomainXmlError("domain XML lacks <name> or <uuid>")

    nova, ns = None, NOVA_NAMESPACES[0]
    for ns in NOVA_NAMESPACES:
        nova = root.find(f"metadata/{ns}instance")
        if nova is not None:
            break
    flavor = nova.find(f"{ns}flavor") if nova is not None else None
    project = nova.find(f"{ns}owner/{ns}project") if nova is not None else None
    ports = nova.iterfind(f"{ns}ports/{ns}port") if nova is not None else ()
    return Domain(
        name=name.strip(),
        uuid=uuid.strip(),
        state=state,
        id=id,
        nova_name=_text(nova.find(f"{ns}name")) if nova is not None else None,
        flavor=flavor.get("name") if flavor is not None else None,
        project=_text(project),
        project_id=project.get("uuid") if project is not None else None,
        vnics=tuple(_vnic(i) for i in root.iterfind("devices/interface")),
        nova_ports=tuple(_nova_port(p, ns) for p in ports if p.get("uuid")),
    )


def _nova_port(port: ET.Element, ns: str) -> NovaPort:
    return NovaPort(uuid=port.get("uuid", "").strip(),
                    fixed_ips=tuple(ip.get("address", "") for ip in port.iterfind(f"{ns}ip")
                                    if ip.get("type", "fixed") == "fixed" and ip.get("address")))


def _vnic(iface: ET.Element) -> Vnic:
    vport = iface.find("virtualport")
    params = vport.find("parameters") if vport is not None else None
    return Vnic(
        mac=_attr(iface, "mac", "address"),
        target=_attr(iface, "target", "dev"),
        type=iface.get("type"),
        source_bridge=_attr(iface, "source", "bridge"),
        model=_attr(iface, "model", "type"),
        virtualport=vport.get("type") if vport is not None else None,
        iface_id=params.get("interfaceid") if params is not None else None,
    )


def _attr(parent: ET.Element, child: str, attr: str) -> str | None:
    el = parent.find(child)
    return el.get(attr) if el is not None else None


def _text(el: ET.Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


def state_name(state: int) -> str:
    return STATES[state] if 0 <= state < len(STATES) else "nostate"


# --------------------------------------------------------------------------
# The connection


def _import_libvirt():
    try:
        import libvirt
    except ImportError:
        raise LibvirtUnavailable(INSTALL_HINT) from None
    return libvirt


class LibvirtSource:
    """One read-only libvirt connection, with optional lifecycle events."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._conn = None
        self._events: tuple[Callable[[str, str], None], Callable[[str], None] | None] | None = None
        self._callback_id: int | None = None

    def register_events(self, loop: asyncio.AbstractEventLoop,
                        on_event: Callable[[str, str], None],
                        on_closed: Callable[[str], None] | None = None) -> None:
        """Deliver lifecycle events on ``loop`` once ``open()`` has run.

        Must come before ``open()``: libvirt only hooks connections opened
        after its event implementation is in place. ``on_event(uuid, event)``
        gets names from EVENTS; ``on_closed(reason)`` one of CLOSE_REASONS when
        the daemon drops the connection. Both run on the loop's thread.
        """
        if self._conn is not None:
            raise RuntimeError("register_events() must be called before open()")
        self._bind_event_loop(loop)
        self._events = (on_event, on_closed)

    @staticmethod
    def _bind_event_loop(loop: asyncio.AbstractEventLoop) -> None:
        _import_libvirt()
        import libvirtaio

        current = libvirtaio.getCurrentImpl()
        if current is not None:
            if current.loop is loop:
                return
            raise LibvirtUnavailable(
                "libvirt events are already bound to another asyncio loop in this process "
                "(libvirt allows one per process); read without events")
        try:
            libvirtaio.virEventRegisterAsyncIOImpl(loop)
        except RuntimeError as e:  # someone registered a non-asyncio implementation
            raise LibvirtUnavailable(f"cannot receive libvirt events here: {e}") from None

    def open(self) -> None:
        """Connect (read-only). After a dropped connection, ``close()`` then
        ``open()`` again; events asked for earlier are registered again."""
        if self._conn is not None:
            raise RuntimeError("LibvirtSource is already open")
        libvirt = _import_libvirt()
        # The default handler prints every error on stderr, over the UI.
        libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
        _check_node_file(self.uri)
        try:
            conn = libvirt.openReadOnly(self.uri)
        except libvirt.libvirtError as e:
            raise LibvirtUnavailable(_explain(libvirt, self.uri, e)) from None
        if self._events is not None:
            try:
                self._subscribe(libvirt, conn, *self._events)
            except libvirt.libvirtError as e:
                conn.close()
                raise LibvirtUnavailable(
                    f"libvirt at {self.uri} refused event registration: {e.get_error_message()}"
                ) from None
        self._conn = conn

    def _subscribe(self, libvirt, conn, on_event, on_closed) -> None:
        self._callback_id = conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            lambda _c, dom, event, _detail, _o: on_event(dom.UUIDString(), _event_name(event)),
            None)
        if on_closed is not None:
            conn.registerCloseCallback(
                lambda _c, reason, _o: on_closed(_close_reason(reason)), None)
        try:
            conn.setKeepAlive(5, 3)  # notice a dead daemon within ~20 s
        except libvirt.libvirtError:
            pass  # local drivers (test://) have no keepalive

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        libvirt = _import_libvirt()
        try:
            if self._callback_id is not None:
                conn.domainEventDeregisterAny(self._callback_id)
            if self._events is not None and self._events[1] is not None:
                conn.unregisterCloseCallback()
        except libvirt.libvirtError:
            pass  # the connection is already gone
        finally:
            self._callback_id = None
            conn.close()

    def __enter__(self) -> LibvirtSource:
        self.open()
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def list_domains(self) -> tuple[Domain, ...]:
        """Every defined domain, running or not. Blocking."""
        libvirt = _import_libvirt()
        conn = self._connection()
        try:
            doms = conn.listAllDomains()
        except libvirt.libvirtError as e:
            raise LibvirtUnavailable(f"lost libvirt ({self.uri}): {e.get_error_message()}") from None
        out = []
        for dom in doms:
            try:
                state = state_name(dom.state()[0])
                dom_id = dom.ID()
                xml = dom.XMLDesc()
                name, uuid = dom.name(), dom.UUIDString()
            except libvirt.libvirtError:
                continue  # undefined between the listing and now
            dom_id = dom_id if dom_id >= 0 else None
            try:
                out.append(parse_domain_xml(xml, state=state, id=dom_id))
            except DomainXmlError as e:
                # Shown with its reason rather than dropped, and the others still read.
                out.append(Domain(name=name, uuid=uuid, state=state, id=dom_id, error=str(e)))
        return tuple(out)

    def interface_stats(self, domains: Iterable[Domain]) -> tuple[VnicStats, ...]:
        """Counters of each running domain's vNICs, by target device. Blocking.

        An interface libvirt cannot read (gone, or the domain stopped) is left out.
        """
        libvirt = _import_libvirt()
        conn = self._connection()
        try:  # the test driver makes its counters up: they must not pass for traffic
            synthetic = conn.getType().upper() == "TEST"
        except libvirt.libvirtError:
            synthetic = self.uri.startswith("test:")
        out = []
        for d in domains:
            if d.state != "running":
                continue
            try:
                dom = conn.lookupByUUIDString(d.uuid)
            except libvirt.libvirtError:
                continue
            for vnic in d.vnics:
                if not vnic.target:
                    continue
                try:
                    rx_b, rx_p, _rx_e, rx_d, tx_b, tx_p, _tx_e, tx_d = dom.interfaceStats(vnic.target)
                except libvirt.libvirtError:
                    continue
                out.append(VnicStats(domain_uuid=d.uuid, target=vnic.target,
                                     rx_packets=rx_p, rx_bytes=rx_b,
                                     tx_packets=tx_p, tx_bytes=tx_b,
                                     rx_drop=rx_d, tx_drop=tx_d, synthetic=synthetic))
        return tuple(out)

    def _connection(self):
        if self._conn is None:
            raise RuntimeError("LibvirtSource.open() has not been called")
        return self._conn


def _check_node_file(uri: str) -> None:
    """The test driver's node file must be readable before libvirt opens it:
    libxml2 reports a missing one straight on stderr (fd 2, the TUI's screen),
    past any handler Python can install."""
    if not uri.startswith("test:///") or uri == "test:///default":
        return
    path = uri[len("test://"):].split("?", 1)[0]
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise LibvirtUnavailable(
            f"cannot open libvirt {uri}: {e.strerror}: {path}. Pass --libvirt with the "
            "URI of this node's libvirt (qemu:///system on a compute node).") from None


def _event_name(event: int) -> str:
    return EVENTS[event] if 0 <= event < len(EVENTS) else f"event-{event}"


def _close_reason(reason: int) -> str:
    return CLOSE_REASONS[reason] if 0 <= reason < len(CLOSE_REASONS) else f"reason-{reason}"


def _explain(libvirt, uri: str, e) -> str:
    """What an operator should do about a failed open."""
    msg = e.get_error_message() or str(e)
    code, sys_errno = e.get_error_code(), e.get_int1()
    denied = {libvirt.VIR_ERR_AUTH_FAILED, libvirt.VIR_ERR_AUTH_CANCELLED,
              libvirt.VIR_ERR_AUTH_UNAVAILABLE, libvirt.VIR_ERR_OPERATION_DENIED,
              libvirt.VIR_ERR_ACCESS_DENIED}
    if code in denied or sys_errno in (errno.EACCES, errno.EPERM):
        return f"libvirt refused {uri}: {msg}. Run as root or in the libvirt group."
    unreachable = {libvirt.VIR_ERR_SYSTEM_ERROR, libvirt.VIR_ERR_NO_CONNECT}
    if code in unreachable and sys_errno in (errno.ENOENT, errno.ECONNREFUSED):
        return (f"cannot reach libvirt at {uri}: {msg}. "
                "Is libvirtd/virtqemud running? Pass --libvirt URI to read another one.")
    return f"cannot open libvirt {uri}: {msg}. Pass --libvirt URI to read another one."
