"""A DataTable updated by key: cells change in place, so the cursor and the
scroll position stay put across refreshes (clearing and refilling on a timer
would throw the operator's place away)."""

from __future__ import annotations

from typing import Mapping, Sequence

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

from widgets.textual_fixes import drop_stale_renders


class KeyedTable(DataTable):
    DEFAULT_CSS = """
    KeyedTable { height: 1fr; }
    """

    def __init__(self, columns: Sequence[tuple[str, str]], **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._column_spec = tuple(columns)
        self._order: list[str] = []
        self._rendered_for = -1  # the update count of the last _drop_dead_renders

    def on_mount(self) -> None:
        for key, label in self._column_spec:
            self.add_column(label, key=key)

    def sync(self, rows: Sequence[tuple[str, Sequence[str | Text] | Mapping[str, str | Text]]]
             ) -> None:
        """Make the table show ``rows`` (key, cells) in this order, touching only what changed.

        Cells are a list in column order, or a mapping by column key (so the
        column order is decided in one place, the column list).
        """
        rows = [(k, self._ordered(cells)) for k, cells in rows]
        wanted = [k for k, _ in rows]
        current = set(self._order)
        if [k for k in self._order if k in set(wanted)] != [k for k in wanted if k in current]:
            self._rebuild(rows)  # order changed: rare for these small tables
            return
        for key in current - set(wanted):
            self.remove_row(key)
        # the widest changed cell of each column that outgrew it: (width, row key, cell)
        widest: dict[str, tuple[int, str, str | Text]] = {}
        for key, cells in rows:
            if key in current:
                old = self.get_row(key)
                for (col, _), new, before in zip(self._column_spec, cells, old):
                    if new != before:
                        self.update_cell(key, col, new)
                        width = new.cell_len if isinstance(new, Text) else cell_len(str(new))
                        if width > self.columns[col].content_width \
                                and width > widest.get(col, (0,))[0]:
                            widest[col] = (width, key, new)
            else:
                self.add_row(*cells, key=key)
        # Widen a column once, for its widest new cell: DataTable re-measures
        # the whole column for each widened cell narrower than the widest
        # (200 rows whose counters appear: 2 s at the first frame with flows),
        # and for every narrower cell when all are widened (measured at 50k
        # flows: 36-41% CPU against 17-21%).
        for col, (_, key, new) in widest.items():
            self.update_cell(key, col, new, update_width=True)
        self._order = wanted
        if self._order != [r.value for r in self.rows]:
            self._rebuild(rows)
        self._drop_dead_renders()

    def _drop_dead_renders(self) -> None:
        """Free what DataTable rendered before this update (once per update)."""
        if self._update_count == self._rendered_for:
            return
        self._rendered_for = self._update_count
        drop_stale_renders(self)

    def _ordered(self, cells) -> Sequence[str | Text]:
        if isinstance(cells, Mapping):
            return [cells.get(key, "") for key, _ in self._column_spec]
        return cells

    def _rebuild(self, rows) -> None:
        key = self.cursor_key
        scroll = self.scroll_y
        self.clear()
        for k, cells in rows:
            self.add_row(*cells, key=k)
        self._order = [k for k, _ in rows]
        if key is not None and key in self._order:
            self.move_cursor(row=self._order.index(key), animate=False, scroll=False)
        self.scroll_to(y=scroll, animate=False)

    @property
    def cursor_key(self) -> str | None:
        if not self._order or not (0 <= self.cursor_row < len(self._order)):
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None
