"""The overview's panes: rows by key, columns as wide as their content, and
only the lines on screen drawn.

They were DataTables (widgets/keyed_table.py). With 200 ports a refresh
changes a few rate cells, and DataTable then draws every visible cell again
(its render caches are keyed by an update count that any cell change bumps):
measured at 50k flows on the 2-core bench machine, 130-320 ms of the UI
thread after each refresh, which every key pressed meanwhile waited behind.
Here a refresh builds plain tuples and VirtualTable draws one line per row
on screen.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding

from widgets.virtual_table import Column, Row, VirtualTable


def _width(cell: str | Text) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(cell)


class PaneTable(VirtualTable):
    """A VirtualTable fed (key, cells by column key) rows, as KeyedTable was.

    A column only ever widens (as DataTable's did), so the columns do not
    jump about while a rate's digits come and go.
    """

    DEFAULT_CSS = """
    PaneTable { height: auto; }
    PaneTable > .virtual-table--cursor { background: $block-cursor-background;
                                         color: $block-cursor-foreground;
                                         text-style: $block-cursor-text-style; }
    PaneTable > .pane-table--blurred-cursor { background: $block-cursor-blurred-background;
                                              color: $block-cursor-blurred-foreground;
                                              text-style: $block-cursor-blurred-text-style; }
    """
    COMPONENT_CLASSES = VirtualTable.COMPONENT_CLASSES | {"pane-table--blurred-cursor"}
    LEAD, GAP = 1, 2  # as DataTable spaced its cells: a pane reads as it did
    BINDINGS = [
        # the columns beyond the pane's width (80 columns) scroll into view
        Binding("left", "scroll_left", "scroll left", show=False),
        Binding("right", "scroll_right", "scroll right", show=False),
    ]

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs) -> None:
        super().__init__([Column(key, label, cell_len(label)) for key, label in columns],
                         empty="", **kwargs)

    def sync(self, rows: Sequence[tuple[str, Mapping[str, str | Text]]]) -> None:
        """Show ``rows`` in this order; the cursor stays on its key."""
        built = [Row(key, tuple(cells.get(c.key, "") for c in self.columns))
                 for key, cells in rows]
        widths = [c.width for c in self.columns]
        for row in built:
            for n, cell in enumerate(row.cells):
                w = _width(cell)
                if w > widths[n]:
                    widths[n] = w
        if widths != [c.width for c in self.columns]:
            self.columns = tuple(dataclasses.replace(c, width=w)
                                 for c, w in zip(self.columns, widths))
            self.columns_changed()
        self.set_rows(built)

    def blurred_cursor_style(self) -> Style:
        # three panes, one focused: the others' cursors stay quiet (as DataTable's did)
        return self.get_component_rich_style("pane-table--blurred-cursor")

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def get_row(self, key: str) -> tuple[str | Text, ...]:
        """The cells of the row with this key, in column order."""
        return self.rows[self._index[key]].cells
