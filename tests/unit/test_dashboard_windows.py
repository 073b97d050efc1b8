"""Every dashboard window the service offers has a name in each page language and a tick
format: a window added to the service alone stopped the page from being built."""

from __future__ import annotations

from service.evaluation import WINDOWS
from ui.dashboard import TICKS, WINDOW_NAMES
from ui.i18n import TRANSLATIONS


def test_every_window_has_a_name_in_every_language_and_a_tick_format() -> None:
    assert set(WINDOW_NAMES) == set(WINDOWS)
    assert set(TICKS) == set(WINDOWS)
    for words in TRANSLATIONS.values():
        names = [words[key] for key in WINDOW_NAMES.values()]
        assert len(set(names)) == len(names)  # no two windows read the same
