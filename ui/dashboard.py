"""The Dashboard page: quality and operations over time, per variant, refreshing live."""

from __future__ import annotations

import asyncio
import html
from typing import Any

import gradio as gr
import pandas as pd

from service.app import Runtime
from service.errors import ArbiterError
from service.evaluation import WINDOWS, series, usecases, window_bounds
from ui.i18n import DEFAULT_LANGUAGE, request_language, say, t
from ui.usecases import goal_table, names

PLOTS = [  # (series, key of its title)
    ("latency p50 (s)", "dash.plot_latency_p50"),
    ("latency p90 (s)", "dash.plot_latency_p90"),
    ("latency p99 (s)", "dash.plot_latency_p99"),
    ("time to first token p50 (s)", "dash.plot_ttft_p50"),
    ("answers per minute", "dash.plot_throughput"),
    ("error rate", "dash.plot_error_rate"),
    ("cost (USD)", "dash.plot_cost"),
    ("score (mean)", "dash.plot_scores"),
    ("win rate (ties half)", "dash.plot_win_rate"),
    ("satisfaction (thumbs up)", "dash.plot_satisfaction"),
]
COLUMNS = ["time", "value", "variant"]
# The window's label, by the key of its name on the page (the value stays the API's).
WINDOW_NAMES = {
    "last hour": "dash.window_hour",
    "last 24 hours": "dash.window_day",
    "last 7 days": "dash.window_week",
    "last 30 days": "dash.window_month",
}
# Tick labels: 24-hour clock (Vega's default writes 18:43 as "06:43" and a one-bucket axis
# in milliseconds, ".868"); the week's ticks name the day too.
TICKS = {
    "last hour": "%H:%M",
    "last 24 hours": "%H:%M",
    "last 7 days": "%a %H:%M",
    "last 30 days": "%d %b",
}

ALL_TRAFFIC = "(all traffic)"
# Vega's "tableau10" colours, given out by the variants' sorted names: a variant has one
# colour in every plot of a view, and the page draws one legend for all of them (each plot's
# own legend put its names in one line that ran off a phone's screen).
PALETTE = [
    "#4c78a8",
    "#f58518",
    "#e45756",
    "#72b7b2",
    "#54a24b",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
]
# Shares are drawn as percentages (a share of 0 otherwise reads "0.000000").
SHARES = {"dash.plot_error_rate", "dash.plot_win_rate", "dash.plot_satisfaction"}


def frames(runtime: Runtime, window: str, use_case: str | None = None) -> list[pd.DataFrame]:
    """One frame per plot: (time, value, variant), time naive in UTC."""
    scope = None if use_case in (None, "", ALL_TRAFFIC) else use_case
    points = series(runtime.store, window, use_case=scope)
    out = []
    for key, _ in PLOTS:
        rows = [
            (p.time.replace(tzinfo=None), p.value, p.variant) for p in points if p.series == key
        ]
        frame = pd.DataFrame(rows, columns=COLUMNS)
        # A time axis even with no rows (then the tick format applies, and the plot shows
        # the window's hours, empty).
        frame["time"] = pd.to_datetime(frame["time"])
        out.append(frame)
    return out


def y_span(frame: pd.DataFrame) -> list[float | None]:
    """From 0 to a little above the highest point, so no point sits half cut on the edge
    (all points at 0: up to 1, not an axis of zero height)."""
    if frame.empty:
        return [0, None]
    top = float(frame["value"].max())
    return [0, top * 1.15 if top > 0 else 1.0]


def _by_variant(series: str) -> tuple[str, str]:
    """Scores are drawn per "metric · variant": each after its variant's own series."""
    metric, _, variant = series.rpartition(" · ")
    return variant, metric


def colours(data: list[pd.DataFrame]) -> dict[str, str]:
    series = sorted({v for frame in data for v in frame["variant"]}, key=_by_variant)
    return {v: PALETTE[k % len(PALETTE)] for k, v in enumerate(series)}


def legend(colour_of: dict[str, str], lang: str = DEFAULT_LANGUAGE) -> str:
    """The variants and their colours, as HTML that wraps on a narrow screen."""
    if not colour_of:
        return ""
    keys = "".join(
        f'<span class="dash-key"><span class="dash-swatch" style="border-color:{c}"></span>'
        f"{html.escape(v)}</span>"
        for v, c in colour_of.items()
    )
    title = html.escape(say(lang, "lb.col_variant"))
    return f'<div class="dash-legend"><span class="dash-legend-title">{title}</span>{keys}</div>'


def charts(
    runtime: Runtime, window: str, use_case: str | None = None, lang: str = DEFAULT_LANGUAGE
) -> list[Any]:
    """The plots over the whole window (one bucket of data is a point where the window's
    hours are), their legend, what to do when there is nothing to plot, and which measures
    have no data. A plot without data is hidden while others have some: its empty axes said
    nothing, and on a phone their hours ran into each other."""
    data = frames(runtime, window, use_case)
    colour_of = colours(data)
    empty = all(f.empty for f in data)
    since, until, _ = window_bounds(window)
    span: list[float | None] = [
        since.timestamp(),
        until.timestamp(),
    ]  # a time axis' limits are in seconds
    plots = [
        gr.ScatterPlot(
            value=f,
            x_lim=span,
            y_lim=y_span(f),
            x_axis_format=TICKS[window],
            color_map=colour_of or None,
            colors_in_legend=[],  # the page's own legend names them
            visible=empty or not f.empty,
        )
        for f in data
    ]
    note = say(lang, "dash.empty", window=say(lang, WINDOW_NAMES[window])) if empty else ""
    missing = [say(lang, title) for f, (_, title) in zip(data, PLOTS, strict=True) if f.empty]
    without = (
        say(lang, "dash.missing", measures=say(lang, "status.list_separator").join(missing))
        if missing and not empty
        else ""
    )
    return [
        *plots,
        gr.HTML(legend(colour_of, lang), visible=not empty),
        gr.Markdown(note, visible=empty),
        gr.Markdown(without, visible=bool(without)),
    ]


def goals(
    runtime: Runtime, use_case: str | None, lang: str = DEFAULT_LANGUAGE
) -> tuple[str, pd.DataFrame]:
    """The use case's goal status over its own window, or nothing for all traffic."""
    if use_case in (None, "", ALL_TRAFFIC):
        return "", pd.DataFrame()
    try:
        spec = usecases.get(runtime.store, use_case)
    except ArbiterError as exc:
        return f"**{exc.message}**", pd.DataFrame()
    window = usecases.Window.last(spec.window_days)
    ranked = usecases.status(runtime.store, spec, window)
    met = [c.variant for c in ranked if c.all_met]
    verdict = (
        say(lang, "dash.goals_met", variants=", ".join(met))
        if met
        else say(lang, "dash.goals_none")
    )
    head = say(lang, "dash.goals", name=spec.name, window=window.describe(), verdict=verdict)
    return head, goal_table(ranked, lang)


def build_dashboard(runtime: Runtime) -> tuple[Any, list[Any], list[Any], Any, Any]:
    """Returns the loader for when the page opens, its inputs and outputs, the timer and the
    live checkbox."""
    with gr.Row(equal_height=True):
        window = gr.Radio(
            [(t(WINDOW_NAMES[w]), w) for w in WINDOWS],
            value="last 24 hours",
            label=t("dash.window"),
            elem_id="dash-window",
        )
        # Use case names are filled when the page opens (they change while the page is open).
        scope = gr.Dropdown(
            [(t("dash.all_traffic"), ALL_TRAFFIC)],
            value=ALL_TRAFFIC,
            label=t("dash.use_case"),
            allow_custom_value=True,
            elem_id="dash-usecase",
        )
        live = gr.Checkbox(value=True, label=t("dash.live"), elem_id="dash-live")
        refresh = gr.Button(t("dash.refresh"), elem_id="dash-refresh")
    empty = gr.Markdown(visible=False, elem_id="dash-empty")
    goal_head = gr.Markdown(elem_id="dash-goals-head")
    # Shown only for a use case: empty, a table shows made-up headers ("1 2 3").
    goal_rows = gr.Dataframe(
        interactive=False, wrap=True, elem_id="dash-goals", show_label=False, visible=False
    )
    key = gr.HTML(visible=False, elem_id="dash-legend")
    plots = []
    for k in range(0, len(PLOTS), 2):
        with gr.Row():
            for _, title in PLOTS[k : k + 2]:
                # Points, not lines: a line needs two buckets, and the default window
                # (24 hours in hourly buckets) often has one.
                plots.append(
                    gr.ScatterPlot(
                        x="time",
                        y="value",
                        color="variant",
                        title=t(title),
                        height=260,
                        x_title=t("dash.time_axis"),
                        y_title=" ",  # the title names the measure ("" shows "value")
                        colors_in_legend=[],
                        y_axis_format=".0%" if title in SHARES else None,
                        y_lim=[0, None],  # every series is a count, a time or a share
                        elem_classes=["dash-plot"],
                    )
                )
    without = gr.Markdown(visible=False, elem_id="dash-missing")
    timer = gr.Timer(15, active=False)

    async def load(w: str, use_case: str | None = ALL_TRAFFIC) -> list[Any]:
        """The plots, for the API (`dashboard`)."""
        return (await asyncio.to_thread(charts, runtime, w, use_case))[: len(PLOTS)]

    async def show(w: str, use_case: str | None, request: gr.Request) -> list[Any]:
        """The plots, their legend and the notes (empty window, measures without data),
        for the page."""
        return await asyncio.to_thread(charts, runtime, w, use_case, request_language(request))

    async def load_goals(use_case: str | None, request: gr.Request) -> tuple[str, pd.DataFrame]:
        return await asyncio.to_thread(goals, runtime, use_case, request_language(request))

    async def show_goals(use_case: str | None, request: gr.Request) -> tuple[str, Any]:
        head, table = await load_goals(use_case, request)
        return head, gr.Dataframe(table, visible=not table.empty)

    async def open_tab(w: str, use_case: str | None, request: gr.Request) -> list[Any]:
        known = await asyncio.to_thread(names, runtime)
        use_case = use_case if use_case in known else ALL_TRAFFIC
        everything = (say(request_language(request), "dash.all_traffic"), ALL_TRAFFIC)
        choices = [everything, *((n, n) for n in known)]
        return [
            *await show(w, use_case, request),
            gr.Dropdown(choices=choices, value=use_case),
            *await show_goals(use_case, request),
        ]

    inputs = [window, scope]
    shown = [*plots, key, empty, without]
    refresh.click(load, inputs, plots, api_name="dashboard")
    refresh.click(load_goals, [scope], [goal_head, goal_rows], api_name="dashboard_goals")
    # The API's event above gives the plots alone; the page's note follows them.
    refresh.click(show, inputs, shown, api_visibility="private")
    for event in (window.change, scope.input, timer.tick):
        event(show, inputs, shown, api_visibility="private")
    for event in (scope.input, timer.tick):
        event(show_goals, [scope], [goal_head, goal_rows], api_visibility="private")
    live.change(lambda on: gr.Timer(active=on), [live], [timer], api_visibility="private")
    return open_tab, inputs, [*shown, scope, goal_head, goal_rows], timer, live
