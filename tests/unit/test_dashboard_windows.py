"""Every dashboard window the service offers has a name in each page language and a tick
format: a window added to the service alone stopped the page from being built. The page's
one legend orders and escapes the series' names."""

from __future__ import annotations

import pandas as pd

from service.evaluation import WINDOWS
from ui.dashboard import TICKS, WINDOW_NAMES, colours, legend, y_span
from ui.i18n import TRANSLATIONS


def test_every_window_has_a_name_in_every_language_and_a_tick_format() -> None:
    assert set(WINDOW_NAMES) == set(WINDOWS)
    assert set(TICKS) == set(WINDOWS)
    for words in TRANSLATIONS.values():
        names = [words[key] for key in WINDOW_NAMES.values()]
        assert len(set(names)) == len(names)  # no two windows read the same


def test_the_value_axis_leaves_room_above_the_highest_point() -> None:
    frame = pd.DataFrame({"time": [1, 2], "value": [2.0, 8.0], "variant": ["a", "b"]})
    low, high = y_span(frame)
    assert low == 0 and high is not None and high > 8.0
    assert y_span(frame.iloc[0:0]) == [0, None]  # nothing to plot: the axis as Gradio sets it


def test_an_axis_of_zeros_still_has_height() -> None:
    """An error rate of 0 everywhere: the axis goes up to 1 (its ticks read 0%...100%), not
    a zero-height axis whose ticks read "0.000000"."""
    frame = pd.DataFrame({"time": [1, 2], "value": [0.0, 0.0], "variant": ["a", "b"]})
    assert y_span(frame) == [0, 1.0]


def test_the_legend_lists_each_variant_then_its_scores_and_escapes_names() -> None:
    frames = [
        pd.DataFrame({"variant": ["zeta", "alpha"]}),
        pd.DataFrame({"variant": ["rouge · zeta", "bleu · alpha", "<b>模型</b>"]}),
    ]
    colour_of = colours(frames)
    assert list(colour_of) == ["<b>模型</b>", "alpha", "bleu · alpha", "zeta", "rouge · zeta"]
    assert len(set(colour_of.values())) == 5
    html = legend(colour_of, "zh-CN")
    assert "&lt;b&gt;模型&lt;/b&gt;" in html and "<b>" not in html and "模型变体" in html
    assert legend({}, "en") == ""
