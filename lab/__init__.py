"""The built-in lab: a real ovsdb-server and ovs-vswitchd in network
namespaces, shaped like an OpenStack compute node."""
