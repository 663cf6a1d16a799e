"""Prometheus exporter: the node's VLAN health for the monitoring a fleet already has."""
