"""One node read as a whole: its sources behind one interface, the refresh
cycle that joins them into the model. UI-free: the TUI, snapshot, bench and
the exporter all run it."""
