"""A table that renders only the rows on screen, for lists of flows.

Textual's DataTable was measured here too slow for flow dumps: adding 2,000
rows took 0.56 s and 20,000 rows 4.5 s (DataTable builds every row up
front), while a busy br-int has 50,000 flows refreshed every second. This
widget keeps rows as plain tuples and renders a line only when it is visible,
so a refresh costs the visible lines, whatever the number of rows. The cursor
follows its row's key across refreshes, so re-sorting by rate never loses the
operator's place. On a narrow terminal the columns with the highest
``drop`` go first, so what an operator needs stays on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Hashable, Mapping, Sequence

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int  # minimum width; the flexible columns share what is left
    justify: str = "left"
    flex: int = 0  # >0: takes this share of the spare width
    drop: int = 0  # >0: left out when the table is too narrow, highest first


@dataclass(frozen=True, slots=True)
class Row:
    key: Hashable  # equal across refreshes for the same thing (text, or a compact int)
    cells: tuple[str | Text, ...]
    style: str = ""  # e.g. "moved" rows get the highlight style


class LazyRows(Sequence[Row]):
    """Rows whose keys are known up front and whose cells are built only when
    drawn: building a Row for each of 50,000 flows cost 0.27 s a refresh on
    the UI thread, for the 40 that fit on screen."""

    def __init__(self, keys: Sequence[Hashable], build: Callable[[int], Row]) -> None:
        self.keys = keys
        self._build = build
        self._built: dict[int, Row] = {}

    @classmethod
    def of(cls, rows: Sequence[Row]) -> "LazyRows":
        rows = tuple(rows)
        return cls([r.key for r in rows], rows.__getitem__)

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self.keys)
        row = self._built.get(index)
        if row is None:
            row = self._built[index] = self._build(index)
        return row


# Enter on a row, here and in a KeyedTable (DataTable's own Enter): the help's word for it.
OPEN_ROW = Binding("enter", "select", "open", show=False,
                   tooltip="drill down into the selected row")


class VirtualTable(ScrollView, can_focus=True):
    """Rows in, lines out; Enter posts ``RowSelected`` with the row's key."""

    DEFAULT_CSS = """
    VirtualTable { height: 1fr; }
    VirtualTable > .virtual-table--header { text-style: bold; background: $panel; }
    VirtualTable > .virtual-table--cursor { background: $accent 60%; }
    VirtualTable > .virtual-table--moved { color: $warning; text-style: bold; }
    VirtualTable > .virtual-table--problem { color: $error; }
    VirtualTable > .virtual-table--dim { color: $text-muted; }
    """
    COMPONENT_CLASSES = {
        "virtual-table--header", "virtual-table--cursor", "virtual-table--moved",
        "virtual-table--problem", "virtual-table--dim",
    }
    BINDINGS = [
        Binding("up", "cursor(-1)", "up", show=False),
        Binding("down", "cursor(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "edge(0)", "first", show=False),
        Binding("end", "edge(1)", "last", show=False),
        OPEN_ROW,
    ]

    cursor = reactive(0, always_update=True, repaint=False)
    LEAD = 0  # spaces before the first column
    GAP = 1  # spaces between columns

    class RowSelected(Message):
        def __init__(self, table: "VirtualTable", key: Hashable) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> "VirtualTable":
            return self.table

    class RowHighlighted(Message):
        def __init__(self, table: "VirtualTable", key: Hashable | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> "VirtualTable":
            return self.table

    def __init__(self, columns: Sequence[Column], *, empty: str = "nothing to show",
                 name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = tuple(columns)
        self.rows: LazyRows = LazyRows.of(())
        self._index: Mapping[Hashable, int] = {}
        self.empty = empty
        self.hidden: frozenset[str] = frozenset()
        self._layout: tuple[tuple[int, int], ...] = ()  # (column index, width) shown
        self._layout_width = -1  # the width it was made for
        self._drawn: dict[int, tuple[tuple, Strip]] = {}  # row index -> (what, its line)
        self._columns_changed = False

    # -- data -----------------------------------------------------------------

    def set_rows(self, rows: Sequence[Row] | LazyRows,
                 index: Mapping[Hashable, int] | None = None) -> None:
        """Replace the rows; the cursor stays on the same key if it is still there.

        ``index`` (key -> position) may come ready-made from a worker thread.
        """
        old_key, old_rows, old_cursor = self.cursor_key, self.rows, self.cursor
        old_view = (int(self.scroll_y), self._layout, len(old_rows))
        self.rows = rows if isinstance(rows, LazyRows) else LazyRows.of(rows)
        self._index = index if index is not None else {
            k: i for i, k in enumerate(self.rows.keys)}
        self.virtual_size = Size(self._shown_width(), len(self.rows) + 1)
        new = self._index.get(old_key, min(self.cursor, max(len(self.rows) - 1, 0))) \
            if old_key is not None else 0
        self._move(new, post=new != self.cursor or old_key != self.cursor_key_at(new),
                   repaint=False)
        if self.rows and not self._columns_changed and self.cursor == old_cursor \
                and old_view == (int(self.scroll_y), self._layout, len(self.rows)):
            self._repaint_changed(old_rows)
        else:
            self.refresh()
        self._columns_changed = False

    def columns_changed(self) -> None:
        """Widths or columns changed: the next set_rows draws every line again."""
        self._layout = ()
        self._columns_changed = True

    def _repaint_changed(self, old: LazyRows) -> None:
        """Mark dirty only the lines on screen whose row changed: a refresh moves a
        few counters, and a whole pane sent again cost the UI thread 25-45 ms a
        refresh at 160x48 (what a key pressed then waited behind)."""
        top, width = int(self.scroll_y), self.size.width
        for y in range(1, self.size.height):
            index = top + y - 1
            if index >= len(self.rows):
                break
            if self.rows[index] != old[index]:
                self.refresh(Region(0, y, width, 1))

    def hide(self, keys: frozenset[str] | set[str]) -> None:
        """Leave these columns out (say, "since mark" while no mark is set)."""
        keys = frozenset(keys)
        if keys != self.hidden:
            self.hidden = keys
            self._layout = ()
            self.virtual_size = Size(self._shown_width(), len(self.rows) + 1)
            self.refresh()

    @property
    def cursor_key(self) -> Hashable | None:
        return self.cursor_key_at(self.cursor)

    def cursor_key_at(self, index: int) -> Hashable | None:
        return self.rows.keys[index] if 0 <= index < len(self.rows) else None

    def move_to_key(self, key: Hashable) -> bool:
        index = self._index.get(key)
        if index is None:
            return False
        self._move(index)
        return True

    # -- navigation -------------------------------------------------------------

    def _move(self, index: int, *, post: bool = True, repaint: bool = True) -> None:
        if not self.rows:
            self.cursor = 0
            return
        index = max(0, min(index, len(self.rows) - 1))
        self.cursor = index
        visible = max(self.size.height - 1, 1)
        top = int(self.scroll_y)
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + visible:
            self.scroll_to(y=index - visible + 1, animate=False)
        if repaint:
            self.refresh()
        if post:
            self.post_message(self.RowHighlighted(self, self.cursor_key))

    def action_cursor(self, step: int) -> None:
        self._move(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor + direction * max(self.size.height - 2, 1))

    def action_edge(self, end: int) -> None:
        self._move(len(self.rows) - 1 if end else 0)

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    def on_click(self, event) -> None:
        row = int(self.scroll_y) + event.y - 1
        if event.y >= 1 and 0 <= row < len(self.rows):
            if row == self.cursor and event.chain >= 2:
                self.action_select()
            self._move(row)

    # -- rendering --------------------------------------------------------------

    def on_resize(self) -> None:
        self._layout = ()
        self.virtual_size = Size(self._shown_width(), len(self.rows) + 1)

    def _width(self) -> int:
        """Room for the columns: the vertical scrollbar (which comes and goes
        with the number of rows, without a resize event) takes its share."""
        return self.scrollable_content_region.width

    def _columns_shown(self) -> tuple[int, ...]:
        """Indexes of the columns to show: not hidden, and the droppable ones
        left out (highest ``drop`` first) until the rest fit the width."""
        shown = [n for n, c in enumerate(self.columns) if c.key not in self.hidden]
        width = self._width()

        def needed() -> int:
            return self._span(shown)

        for n in sorted((n for n in shown if self.columns[n].drop),
                        key=lambda n: -self.columns[n].drop):
            if width <= 0 or needed() <= width:
                break
            shown.remove(n)
        return tuple(shown)

    def _column_layout(self) -> tuple[tuple[int, int], ...]:
        if not self._layout or self._layout_width != self._width():
            self._layout_width = self._width()
            shown = self._columns_shown()
            minimum = self._span(shown)
            spare = max(self._layout_width - minimum, 0)
            flex_total = sum(self.columns[n].flex for n in shown) or 1
            self._layout = tuple(
                (n, self.columns[n].width + spare * self.columns[n].flex // flex_total)
                for n in shown)
            if minimum != self.virtual_size.width:  # a column dropped or came back
                self.call_after_refresh(self._fit_virtual_width)
        return self._layout

    def _fit_virtual_width(self) -> None:
        self.virtual_size = Size(self._shown_width(), len(self.rows) + 1)

    def _shown_width(self) -> int:
        shown = self._columns_shown()
        return self._span(shown)

    def _span(self, shown: Sequence[int]) -> int:
        """The width these columns take, with the spaces before and between them."""
        return self.LEAD + sum(self.columns[n].width for n in shown) + self.GAP * (len(shown) - 1)

    def _line(self, cells: Sequence[str | Text], style: Style) -> Strip:
        text = Text(" " * self.LEAD, no_wrap=True, overflow="ellipsis", end="")
        for n, (index, width) in enumerate(self._column_layout()):
            column, cell = self.columns[index], cells[index] if index < len(cells) else ""
            if n:
                text.append(" " * self.GAP)
            t = cell.copy() if isinstance(cell, Text) else Text(str(cell))
            t.truncate(width, overflow="ellipsis", pad=False)
            pad = width - t.cell_len
            if column.justify == "right":
                text.append(" " * pad)
                text.append_text(t)
            else:
                text.append_text(t)
                text.append(" " * pad)
        segments = list(text.render(self.app.console))
        strip = Strip(segments).apply_style(style)
        return strip

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x = int(self.scroll_x)
        base = self.rich_style
        if y == 0:
            header = self.get_component_rich_style("virtual-table--header")
            strip = self._line([c.label for c in self.columns], base + header)
            return strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, base + header)
        index = int(self.scroll_y) + y - 1
        if not self.rows:
            if y == 1:
                dim = self.get_component_rich_style("virtual-table--dim")
                return Strip([Segment(self.empty[:width], base + dim)]).extend_cell_length(width, base)
            return Strip.blank(width, base)
        if index >= len(self.rows):
            return Strip.blank(width, base)
        row = self.rows[index]
        style = base
        if row.style:
            style = style + self.get_component_rich_style(f"virtual-table--{row.style}")
        if index == self.cursor and self.has_focus:
            style = style + self.get_component_rich_style("virtual-table--cursor")
        elif index == self.cursor:
            style = style + self.blurred_cursor_style()
        # A refresh rebuilds the rows but changes few of them, a cursor move two:
        # a line is drawn again only when what it shows changed.
        drawn = (row, style, scroll_x, width, self._column_layout())
        cached = self._drawn.get(index)
        if cached is not None and cached[0] == drawn:
            return cached[1]
        if len(self._drawn) > 4 * max(self.size.height, 50):
            self._drawn.clear()
        strip = self._line(row.cells, style)
        strip = strip.crop(scroll_x, scroll_x + width).extend_cell_length(width, style)
        self._drawn[index] = (drawn, strip)
        return strip

    def blurred_cursor_style(self) -> Style:
        """The cursor row while another widget has the focus."""
        return Style(reverse=True)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
