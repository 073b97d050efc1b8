"""The in-page dashboard: time series computed from the store, and the tab."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from service.app.runtime import Runtime
from service.evaluation.dashboard import Buckets, series, window_bounds
from service.ids import utcnow
from tests.fakes.script import Script
from tests.support.fixtures import LiveServer
from tests.support.gradio import page_client


def test_series_from_calls_scores_and_votes(
    runtime: Runtime,
    scripts: dict[str, Script],
    live: LiveServer,
    wait_for: Callable[[Callable[[], bool], float], None],
) -> None:
    url = live.url
    scripts["gamma"].failure = "server_error"
    for _ in range(3):
        turn = httpx.post(
            f"{url}/api/compare", json={"prompt": "q", "variants": ["alpha", "beta"]}, timeout=30
        ).json()
        httpx.post(
            f"{url}/api/turns/{turn['id']}/votes", json={"outcome": "a", "on_behalf_of": "r"}
        ).raise_for_status()
    httpx.post(
        f"{url}/api/compare", json={"prompt": "q", "variants": ["alpha", "gamma"]}, timeout=30
    )
    now = utcnow()
    points = series(runtime.store, "last hour", now=now)
    by = {(p.series, p.variant): p.value for p in points}
    assert by[("error rate", "gamma")] == 1.0 and by[("error rate", "alpha")] == 0.0
    # 4 answers, in the 5-minute bucket(s) on multiples of 5 minutes that hold them, the
    # current one cut at the window's end: each rate times its bucket's minutes adds up to 4.
    buckets = Buckets(*window_bounds("last hour", now))
    rates = [p for p in points if (p.series, p.variant) == ("answers per minute", "alpha")]
    assert all(p.time.minute % 5 == 0 or p.time == buckets.since for p in rates)
    assert sum(p.value * buckets.minutes(buckets.index(p.time)) for p in rates) == pytest.approx(4)
    assert by[("latency p50 (s)", "alpha")] > 0
    assert ("latency p50 (s)", "gamma") not in by  # failed answers have no latency
    assert (
        by[("win rate (ties half)", "alpha")] == 1.0 and by[("win rate (ties half)", "beta")] == 0.0
    )
    assert all(p.time.second == points[0].time.second for p in points)  # aligned buckets


def test_dashboard_tab(runtime: Runtime, live_ui: LiveServer) -> None:

    url = live_ui.url
    turn = httpx.post(
        f"{url}/api/compare", json={"prompt": "q", "variants": ["alpha", "beta"]}, timeout=30
    ).json()
    httpx.post(
        f"{url}/api/turns/{turn['id']}/votes", json={"outcome": "b", "on_behalf_of": "r"}
    ).raise_for_status()
    plots = page_client(url).predict("last 24 hours", api_name="/dashboard")
    assert len(plots) == 10
    latency, win = plots[1], plots[8]
    rows = latency["value"]["data"] if isinstance(latency.get("value"), dict) else latency["data"]
    assert {r[2] for r in rows} == {"alpha", "beta"}
    win_rows = win["value"]["data"] if isinstance(win.get("value"), dict) else win["data"]
    assert {(r[2], r[1]) for r in win_rows} == {("alpha", 0.0), ("beta", 1.0)}
