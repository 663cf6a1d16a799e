"""Hostile input never takes a source down: libvirt XML, OVSDB values and saved
``ip -d link`` text are read or refused with the one documented error, and
odd names (quotes, commas, brackets, unicode) come back exactly as written.

The flow and dump-ports parsers have their own file
(test_flow_parsing_properties.py).
"""

from __future__ import annotations

import uuid as uuidlib
from pathlib import Path
from types import SimpleNamespace
from xml.sax.saxutils import escape, quoteattr

from hypothesis import example, given, settings
from hypothesis import strategies as st

from collectors.domains import DomainXmlError, parse_domain_xml
from collectors.netlink import parse_ip_link_detail
from collectors.ovsdb import SnapshotCopier, int_set, interface_record, optional, port_record
from model.records import Domain, Link, OvsInterface, OvsPort

FIXTURES = Path(__file__).parent.parent / "fixtures"
DOMAIN_XML = (FIXTURES / "libvirt" / "instance-00000027.xml").read_text()
IP_LINK = (FIXTURES / "seed" / "ip-d-link-show.txt").read_text()

# Any text, including what UTF-8 cannot carry (lone surrogates) and controls.
any_text = st.text(alphabet=st.characters(blacklist_categories=()), max_size=300)
# Names an operator, a buggy tool or an attacker might give a port, tap or instance.
hostile_names = st.text(
    alphabet=st.sampled_from(list("ab-_:,;= ()[]{}<>&\"'\\/#.*$`|!?") + ["ü", "名", "\u2028", "🙂"]),
    min_size=1, max_size=40,
).filter(lambda s: s.strip() == s and s.strip())
# Values XML 1.0 can carry in text and attributes alike (no controls, no surrogates,
# no U+FFFE/U+FFFF).
xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=40,
).filter(lambda s: s.strip() == s and s.strip())
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def read_or_refuse(xml: str) -> Domain | None:
    """The parser's whole contract: a Domain, or DomainXmlError and nothing else."""
    try:
        domain = parse_domain_xml(xml, state="running", id=1)
    except DomainXmlError:
        return None
    assert isinstance(domain, Domain)
    return domain


# --------------------------------------------------------------------------
# libvirt domain XML


@settings(max_examples=300)
@given(any_text)
@example("<domain><name>a\ud800</name><uuid>u</uuid></domain>")
@example('<?xml version="1.0" encoding="utf-16"?><domain/>')
@example("<domain>" + "<x>" * 5000 + "</x>" * 5000 + "</domain>")
@example("\x00<domain/>")
def test_any_text_is_a_domain_or_a_domain_xml_error(text):
    read_or_refuse(text)


@given(st.binary(max_size=400))
def test_undecodable_bytes_read_with_replacement_are_a_domain_or_an_error(raw):
    read_or_refuse(raw.decode("utf-8", errors="replace"))
    read_or_refuse(raw.decode("latin-1"))


@given(st.data())
def test_a_real_domain_cut_anywhere_is_refused_or_read(data):
    cut = data.draw(st.integers(min_value=0, max_value=len(DOMAIN_XML)))
    read_or_refuse(DOMAIN_XML[:cut])


@given(st.data())
def test_a_real_domain_with_a_byte_garbled_is_refused_or_read(data):
    at = data.draw(st.integers(min_value=0, max_value=len(DOMAIN_XML) - 1))
    char = data.draw(st.sampled_from(list("<>&\"'/=!?\x00\ud800") + ["]]>", "<!--"]))
    read_or_refuse(DOMAIN_XML[:at] + char + DOMAIN_XML[at + 1:])


@given(xml_text, xml_text, hostile_names, xml_text, xml_text, xml_text)
def test_odd_names_macs_and_nova_values_come_back_exactly(name, uuid, tap, mac, nova, project):
    xml = (f"<domain type='kvm'><name>{escape(name)}</name><uuid>{escape(uuid)}</uuid>"
           f"<metadata><nova:instance xmlns:nova='http://openstack.org/xmlns/libvirt/nova/1.1'>"
           f"<nova:name>{escape(nova)}</nova:name><nova:owner>"
           f"<nova:project uuid={quoteattr(project)}>{escape(project)}</nova:project>"
           f"</nova:owner></nova:instance></metadata>"
           f"<devices><interface type='ethernet'><mac address={quoteattr(mac)}/>"
           f"<target dev={quoteattr(tap)}/></interface></devices></domain>")
    domain = read_or_refuse(xml)
    assert domain is not None
    assert (domain.name, domain.uuid, domain.nova_name, domain.project) == (
        name, uuid, nova, project)
    assert [(v.mac, v.target) for v in domain.vnics] == [(mac, tap)]
    assert domain.project_id == project


@given(st.sampled_from(["<!DOCTYPE d>", '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">]>',
                        '<!doctype d SYSTEM "file:///etc/passwd">']))
def test_a_dtd_is_refused_before_any_entity_is_defined(dtd):
    xml = f"{dtd}<domain><name>x</name><uuid>u</uuid></domain>"
    assert read_or_refuse(xml) is None


def test_a_comment_that_mentions_a_dtd_does_not_hide_the_domain():
    # libvirt keeps comments in <metadata> as written (seen with the test driver).
    xml = DOMAIN_XML.replace("<metadata>", "<metadata><!-- <!DOCTYPE x [<!ENTITY a 'b'>]> -->")
    domain = read_or_refuse(xml)
    assert domain is not None and domain.nova_name == "instance01"


# --------------------------------------------------------------------------
# OVSDB values. Rows are shaped as python-ovs IDL rows are (the schema fixes
# the types): optional columns are lists of zero or one value, sets are
# lists, maps are dicts, integers are 64-bit.

string_maps = st.dictionaries(hostile_names, st.text(max_size=30), max_size=5)


def iface_rows():
    return st.builds(
        lambda name, type_, ofport, options, ext, error, link, mac: SimpleNamespace(
            uuid=uuidlib.uuid4(), name=name, type=type_, ofport=ofport, options=options,
            external_ids=ext, error=error, link_state=link, admin_state=link,
            mac_in_use=mac),
        hostile_names, st.sampled_from(["", "internal", "patch", "tap", "vxlan", "?"]),
        st.lists(int64, max_size=1), string_maps, string_maps,
        st.lists(st.text(max_size=60), max_size=1), st.lists(st.sampled_from(["up", "down"]),
                                                              max_size=1),
        st.lists(st.text(max_size=20), max_size=1),
    )


def port_rows():
    return st.builds(
        lambda name, tag, trunks, mode, oc, ext, ifaces: SimpleNamespace(
            uuid=uuidlib.uuid4(), name=name, tag=tag, trunks=trunks, vlan_mode=mode,
            other_config=oc, external_ids=ext, interfaces=ifaces),
        hostile_names, st.lists(int64, max_size=1), st.lists(int64, max_size=10),
        st.lists(st.sampled_from(["trunk", "access", "native-tagged", "dot1q-tunnel"]),
                 max_size=1),
        string_maps, string_maps, st.lists(iface_rows(), max_size=3),
    )


@given(st.lists(st.one_of(int64, st.text(max_size=20)), max_size=1))
def test_optional_gives_the_single_value_or_none(value):
    assert optional(value) == (value[0] if value else None)


@given(st.lists(int64, max_size=50))
def test_int_sets_are_sorted_tuples_of_exactly_the_members(values):
    assert int_set(values) == tuple(sorted(values))


@given(iface_rows())
def test_any_interface_row_becomes_a_record_with_its_values_unchanged(row):
    record = interface_record(row)
    assert isinstance(record, OvsInterface)
    assert (record.name, record.type, record.ofport) == (row.name, row.type, optional(row.ofport))
    assert dict(record.options) == row.options and dict(record.external_ids) == row.external_ids
    assert record.peer == (row.options.get("peer") if row.type == "patch" else None)


@given(port_rows(), hostile_names)
def test_any_port_row_becomes_a_record_with_its_values_unchanged(row, bridge):
    record = port_record(row, bridge)
    assert isinstance(record, OvsPort)
    assert (record.name, record.bridge, record.tag) == (row.name, bridge, optional(row.tag))
    assert record.trunks == tuple(sorted(row.trunks))
    assert dict(record.other_config) == row.other_config
    assert sorted(i.name for i in record.interfaces) == sorted(i.name for i in row.interfaces)


@given(st.lists(st.tuples(hostile_names, st.lists(port_rows(), max_size=4)), max_size=4),
       st.lists(xml_text, max_size=1))
def test_any_database_copies_into_a_snapshot_twice_alike(bridges, version):
    rows = [SimpleNamespace(uuid=uuidlib.uuid4(), name=name, datapath_type="netdev",
                            fail_mode=[], ports=ports) for name, ports in bridges]
    root = SimpleNamespace(uuid=uuidlib.uuid4(), bridges=rows, ovs_version=version)
    copier = SnapshotCopier()
    first = copier.copy([root], set(), 1)
    again = copier.copy([root], set(), 2)  # nothing changed: the same records come back
    assert first.bridges == again.bridges
    assert first.ovs_version == optional(version)
    assert sorted(b.name for b in first.bridges) == sorted(name for name, _ in bridges)


# --------------------------------------------------------------------------
# Saved `ip -d link show` text


@settings(max_examples=300)
@given(st.one_of(any_text, st.binary(max_size=300).map(lambda b: b.decode("utf-8", "replace"))))
@example("1: eth0: <UP> mtu abc state UP\n")
@example("1: eth0: <UP> mtu " + "9" * 5000 + "\n")
@example("9" * 5000 + ": eth0: <UP> mtu 1500\n")
@example("1: eth0: <UP> mtu 1500\n    RX: bytes packets\n    ²³ 1\n")
def test_any_ip_link_text_gives_links_and_never_raises(text):
    links = parse_ip_link_detail(text)
    assert all(isinstance(link, Link) for link in links)


@given(st.data())
def test_the_seed_cut_anywhere_gives_a_prefix_of_its_links(data):
    whole = parse_ip_link_detail(IP_LINK)
    cut = data.draw(st.integers(min_value=0, max_value=len(IP_LINK)))
    names = [link.ifname for link in parse_ip_link_detail(IP_LINK[:cut])]
    assert names == [link.ifname for link in whole][:len(names)]
