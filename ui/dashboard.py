"""The Dashboard page: quality and operations over time, per variant, refreshing live."""

from __future__ import annotations

import asyncio
from typing import Any

import gradio as gr
import pandas as pd

from service.app import Runtime
from service.errors import ArbiterError
from service.evaluation import WINDOWS, series, usecases
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


ALL_TRAFFIC = "(all traffic)"


def frames(runtime: Runtime, window: str, use_case: str | None = None) -> list[pd.DataFrame]:
    scope = None if use_case in (None, "", ALL_TRAFFIC) else use_case
    points = series(runtime.store, window, use_case=scope)
    out = []
    for key, _ in PLOTS:
        rows = [
            (p.time.replace(tzinfo=None), p.value, p.variant) for p in points if p.series == key
        ]
        out.append(pd.DataFrame(rows, columns=COLUMNS))
    return out


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
            list(WINDOWS), value="last 24 hours", label=t("dash.window"), elem_id="dash-window"
        )
        # Use case names are filled when the page opens (they change while the page is open).
        scope = gr.Dropdown(
            [ALL_TRAFFIC],
            value=ALL_TRAFFIC,
            label=t("dash.use_case"),
            allow_custom_value=True,
            elem_id="dash-usecase",
        )
        live = gr.Checkbox(value=True, label=t("dash.live"), elem_id="dash-live")
        refresh = gr.Button(t("dash.refresh"), elem_id="dash-refresh")
    goal_head = gr.Markdown(elem_id="dash-goals-head")
    goal_rows = gr.Dataframe(interactive=False, wrap=True, elem_id="dash-goals", show_label=False)
    plots = []
    for k in range(0, len(PLOTS), 2):
        with gr.Row():
            for _, title in PLOTS[k : k + 2]:
                plots.append(
                    gr.LinePlot(
                        x="time",
                        y="value",
                        color="variant",
                        title=t(title),
                        height=260,
                        x_title="",
                        y_title="",
                    )
                )
    timer = gr.Timer(15, active=False)

    async def load(w: str, use_case: str | None = ALL_TRAFFIC) -> list[Any]:
        return await asyncio.to_thread(frames, runtime, w, use_case)

    async def load_goals(use_case: str | None, request: gr.Request) -> tuple[str, pd.DataFrame]:
        return await asyncio.to_thread(goals, runtime, use_case, request_language(request))

    async def open_tab(w: str, use_case: str | None, request: gr.Request) -> list[Any]:
        choices = [ALL_TRAFFIC, *await asyncio.to_thread(names, runtime)]
        use_case = use_case if use_case in choices else ALL_TRAFFIC
        return [
            *await load(w, use_case),
            gr.Dropdown(choices=choices, value=use_case),
            *await load_goals(use_case, request),
        ]

    inputs = [window, scope]
    refresh.click(load, inputs, plots, api_name="dashboard")
    refresh.click(load_goals, [scope], [goal_head, goal_rows], api_name="dashboard_goals")
    for event in (window.change, scope.input, timer.tick):
        event(load, inputs, plots, api_visibility="private")
    for event in (scope.input, timer.tick):
        event(load_goals, [scope], [goal_head, goal_rows], api_visibility="private")
    live.change(lambda on: gr.Timer(active=on), [live], [timer], api_visibility="private")
    return open_tab, inputs, [*plots, scope, goal_head, goal_rows], timer, live
