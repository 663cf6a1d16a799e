"""What a node left behind, read into the same records the live collectors make.

A sosreport (directory or tarball), a directory of command outputs pasted
into a ticket, or a saved ``snapshot --json``: ``read.read_saved(path)``
returns a ``SavedNode`` (the records and, per file, what it was read as).
"""
