"""Every workaround for a Textual leak, in one place, for one Textual version.

Each was measured in the soak (bench/soak.py) and the screen-churn test
(tests/ui/test_screen_churn.py) on Textual 8.2.8, and reaches into Textual's
private parts. tests/ui/test_textual_fixes.py fails when another Textual is
installed: re-check each fix against it (still needed? still right?), then
change WRITTEN_FOR.
"""

from __future__ import annotations

from textual._styles_cache import StylesCache
from textual.widgets import DataTable, Footer

WRITTEN_FOR = "8.2.8"  # the Textual these were measured on (pyproject.toml pins it)


class NodeFooter(Footer):
    """Textual 8.2.8's Footer keeps the `compact` watcher of every FooterKey
    it ever composed (pruned only when `compact` changes), so each screen or
    focus change leaked ~14 widgets; here the dead ones go after each recompose."""

    async def recompose(self) -> None:
        await super().recompose()
        watchers = getattr(self, "__watchers", {})
        if "compact" in watchers:
            watchers["compact"] = [(node, callback) for node, callback in watchers["compact"]
                                   if node.is_attached]


def forget_drawn_lines() -> None:
    """Call when a screen goes away.

    Textual 8.2.8 memoizes StylesCache.get_inner_outer with lru_cache(1024)
    on the instance, which keeps the rendered lines of up to 1,024 removed
    widgets alive (the soak: +50 MiB in a few minutes of screen visits).
    """
    StylesCache.get_inner_outer.cache_clear()


def drop_stale_renders(table: DataTable) -> None:
    """Call after updating a DataTable's cells.

    Textual 8.2.8 keys its row, cell and line caches by an update count that
    every update_cell bumps, so after an update no old entry can be hit
    again, yet each lingers until 1,000-10,000 newer ones push it out:
    measured in the soak, +50 MiB of dead Strips over the first minutes.
    """
    for cache in (table._row_render_cache, table._cell_render_cache,
                  table._row_renderable_cache, table._line_cache):
        cache.clear()
