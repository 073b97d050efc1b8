"""The Dashboard tab: quality and operations over time, per variant, refreshing live."""

from __future__ import annotations

import asyncio
from typing import Any

import gradio as gr
import pandas as pd

from service.dashboard import WINDOWS, series
from service.runtime import Runtime

PLOTS = [
    ("latency p50 (s)", "Latency p50 (s)"),
    ("latency p90 (s)", "Latency p90 (s)"),
    ("latency p99 (s)", "Latency p99 (s)"),
    ("time to first token p50 (s)", "Time to first token p50 (s)"),
    ("answers per minute", "Throughput (answers per minute)"),
    ("error rate", "Error rate"),
    ("cost (USD)", "Cost (USD per bucket)"),
    ("score (mean)", "Automatic scores (mean)"),
    ("win rate (ties half)", "Preference win rate (ties count half)"),
    ("satisfaction (thumbs up)", "Satisfaction (share of thumbs up)"),
]
COLUMNS = ["time", "value", "variant"]


def frames(runtime: Runtime, window: str) -> list[pd.DataFrame]:
    points = series(runtime.store, window)
    out = []
    for key, _ in PLOTS:
        rows = [
            (p.time.replace(tzinfo=None), p.value, p.variant) for p in points if p.series == key
        ]
        out.append(pd.DataFrame(rows, columns=COLUMNS))
    return out


def build_dashboard(runtime: Runtime) -> tuple[Any, list[Any], list[Any], Any, Any]:
    """Returns the loader for when the tab opens, its inputs and outputs, the timer and the
    live checkbox."""
    with gr.Row(equal_height=True):
        window = gr.Radio(
            list(WINDOWS), value="last 24 hours", label="Window", elem_id="dash-window"
        )
        live = gr.Checkbox(value=True, label="Refresh every 15 s", elem_id="dash-live")
        refresh = gr.Button("Refresh", elem_id="dash-refresh")
    plots = []
    for k in range(0, len(PLOTS), 2):
        with gr.Row():
            for _, title in PLOTS[k : k + 2]:
                plots.append(
                    gr.LinePlot(
                        x="time",
                        y="value",
                        color="variant",
                        title=title,
                        height=260,
                        x_title="",
                        y_title="",
                    )
                )
    timer = gr.Timer(15, active=False)

    async def load(w: str) -> list[Any]:
        return await asyncio.to_thread(frames, runtime, w)

    refresh.click(load, [window], plots, api_name="dashboard")
    window.change(load, [window], plots, api_visibility="private")
    timer.tick(load, [window], plots, api_visibility="private")
    live.change(lambda on: gr.Timer(active=on), [live], [timer], api_visibility="private")
    return load, [window], plots, timer, live
