"""The Textual workarounds (widgets/textual_fixes.py) reach into Textual's
private parts and were measured on one version: on another, each must be
checked again before the tool is trusted for a long incident session."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from widgets import textual_fixes


def test_the_installed_textual_is_the_one_the_workarounds_were_written_for():
    installed = version("textual")
    assert installed == textual_fixes.WRITTEN_FOR, (
        f"textual {installed} is installed, widgets/textual_fixes.py was written for "
        f"{textual_fixes.WRITTEN_FOR}: re-check each workaround there against {installed} "
        f"(run tests/ui/test_screen_churn.py and the soak), then change WRITTEN_FOR")


def test_pyproject_pins_that_version():
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    assert f'"textual=={textual_fixes.WRITTEN_FOR}"' in pyproject
