"""The keys of the screen on top, on one line at the bottom.

Textual's Footer is a grid of one widget per key (12-15 on a node screen),
each with its own styles, layout and paint: measured at 50k flows on the
2-core bench machine, dropping it took 20-40 ms off every screen opened
(compose, restyle on focus, layout). One line of text shows the same keys;
a click on a key presses it.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget


class KeyLine(Widget):
    """The screen's shown bindings, one per action, the command palette's at the right."""

    DEFAULT_CSS = """
    KeyLine { dock: bottom; height: 1; background: $footer-background; }
    KeyLine > .key-line--key { color: $footer-key-foreground; background: $footer-key-background;
                               text-style: bold; }
    KeyLine > .key-line--description { color: $footer-description-foreground; }
    """
    COMPONENT_CLASSES = {"key-line--key", "key-line--description"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._keys: tuple = ()  # (key, shown key, description) in order
        self._palette: tuple | None = None
        self.spans: dict[str, tuple[int, int, str]] = {}  # description -> (start, end, key)

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        app = self.app
        active = screen.active_bindings
        keys, actions = [], set()
        for _, binding, enabled, _ in active.values():
            if binding.show and enabled and binding.action not in actions:
                actions.add(binding.action)
                keys.append((binding.key, app.get_key_display(binding), binding.description))
        palette = None
        if app.ENABLE_COMMAND_PALETTE and app.COMMAND_PALETTE_BINDING in active:
            binding = active[app.COMMAND_PALETTE_BINDING][1]
            palette = (binding.key, app.get_key_display(binding), binding.description)
            keys = [k for k in keys if k[0] != binding.key]
        if (tuple(keys), palette) != (self._keys, self._palette):
            self._keys, self._palette = tuple(keys), palette
            self.refresh()

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-line--key", partial=True)
        word_style = self.get_component_rich_style("key-line--description", partial=True)
        line = Text(" ", no_wrap=True, overflow="crop", end="")
        spans: dict[str, tuple[int, int, str]] = {}

        def add(key: str, shown: str, description: str) -> None:
            start = line.cell_len
            line.append(shown, style=key_style)  # as Textual's compact footer: "f all flows"
            line.append(f" {description} ", style=word_style)
            spans[description] = (start, line.cell_len, key)

        palette = 0 if self._palette is None else \
            len(self._palette[1]) + len(self._palette[2]) + 2
        width = self.size.width or 80
        for key in self._keys:  # the keys that fit beside the palette's
            if line.cell_len + len(key[1]) + len(key[2]) + 2 > width - palette:
                break
            add(*key)
        if self._palette is not None:
            line.append(" " * max(width - palette - line.cell_len, 0))
            add(*self._palette)
        self.spans = spans
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self.spans.values():
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
