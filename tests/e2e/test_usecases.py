"""Use cases: target parsing and validation, goal status on seeded data (CIs checked
against reference computations), the model-selection report, and the definition's life
in the store, the API and the command line."""

from __future__ import annotations

from pathlib import Path

import httpx

from service.app.runtime import Runtime
from service.evaluation import usecases
from service.evaluation.dashboard import series
from tests.support.cli import run
from tests.support.fixtures import LiveServer
from tests.support.gradio import page_client


def test_use_cases_over_http(runtime: Runtime, live: LiveServer) -> None:
    url = live.url
    body = {"variants": ["alpha", "beta"], "targets": ["error_rate <= 0.5"], "min_samples": 2}
    bad = httpx.put(f"{url}/api/usecases/chat", json={**body, "targets": ["rouge_l => 1"]})
    assert bad.status_code == 422 and "unknown operator '=>'" in bad.json()["error"]["message"]
    unknown = httpx.put(f"{url}/api/usecases/chat", json={**body, "variants": ["alpha", "zeta"]})
    assert unknown.status_code == 422 and "zeta" in unknown.json()["error"]["message"]
    created = httpx.put(f"{url}/api/usecases/chat", json=body)
    assert created.status_code == 200 and created.json()["created"] is True
    again = httpx.put(f"{url}/api/usecases/chat", json={**body, "description": "v2"})
    assert again.json()["created"] is False
    assert httpx.get(f"{url}/api/usecases/chat").json()["description"] == "v2"

    missing = httpx.post(
        f"{url}/api/compare", json={"prompt": "q", "variants": ["alpha", "beta"], "use_case": "x"}
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_use_case"
    for i, use_case in enumerate(["chat", "chat", None]):  # the last is outside it
        turn = httpx.post(
            f"{url}/api/compare",
            json={"prompt": f"q{i}", "variants": ["alpha", "beta"], "use_case": use_case},
            timeout=30,
        ).json()
        httpx.post(
            f"{url}/api/turns/{turn['id']}/votes", json={"outcome": "a", "on_behalf_of": "r"}
        ).raise_for_status()
    status = httpx.get(f"{url}/api/usecases/chat/status").json()
    rows = {v["variant"]: v for v in status["variants"]}
    assert rows["alpha"]["goals"][0]["status"] == "met"
    assert rows["alpha"]["goals"][0]["samples"] == 2  # the turn outside it is not counted
    assert status["recommendation"].startswith("Recommended: ")
    turns = httpx.get(f"{url}/api/turns", params={"use_case": "chat"}).json()["turns"]
    assert sorted(t["prompt"] for t in turns) == ["q0", "q1"]
    board = httpx.get(f"{url}/api/leaderboard", params={"use_case": "chat"}).json()
    assert board["battles"] == 2
    assert httpx.get(f"{url}/api/leaderboard").json()["battles"] == 3
    dry = httpx.get(
        f"{url}/api/exports/trl-preference", params={"use_case": "chat", "dry_run": True}
    ).json()
    assert dry["records"] == 2
    run = {"variants": ["alpha"], "metrics": ["rouge_l"], "use_case": "nope"}
    assert httpx.post(f"{url}/api/eval-runs", json=run).status_code == 404
    started = httpx.post(f"{url}/api/eval-runs", json={**run, "use_case": "chat"}, timeout=30)
    assert started.status_code == 202
    listed = httpx.get(f"{url}/api/eval-runs", params={"use_case": "chat"}).json()
    assert [r["id"] for r in listed] == [started.json()["id"]] and listed[0]["use_case"] == "chat"

    scoped = {p.variant for p in series(runtime.store, "last hour", use_case="chat")}
    assert scoped == {"alpha", "beta"}
    assert series(runtime.store, "last hour", use_case="nobody") == []
    page = httpx.get(f"{url}/api/usecases/chat/report.html")
    assert page.status_code == 200 and "Model selection: chat" in page.text
    md = httpx.get(f"{url}/api/usecases/chat/report.md", params={"baseline": "beta"})
    assert "## alpha vs baseline beta" in md.text
    assert httpx.get(f"{url}/api/usecases/nope/status").status_code == 404
    alarms = httpx.get(f"{url}/api/usecases/chat/alarms").json()
    assert len(alarms) == 2 and alarms[0]["MetricName"] == "GoalMet"
    names = {m["name"] for m in httpx.get(f"{url}/api/usecases/target-metrics").json()}
    assert {"rouge_l", "p90_latency_s", "satisfaction", "cost_per_1k_requests_usd"} <= names


def test_goal_gauges_on_metrics(runtime: Runtime, live: LiveServer) -> None:
    url = live.url
    httpx.put(
        f"{url}/api/usecases/chat",
        json={
            "variants": ["alpha", "gamma"],
            "targets": ["error_rate <= 0.5", "satisfaction >= 0.5"],
            "min_samples": 2,
        },
    ).raise_for_status()
    for _ in range(2):
        httpx.post(
            f"{url}/api/compare",
            json={"prompt": "q", "variants": ["alpha", "gamma"], "use_case": "chat"},
            timeout=30,
        ).raise_for_status()
    records = usecases.refresh_goals(runtime.store, runtime.telemetry.emit)
    assert {(r.variant, r.target, r.met) for r in records} == {
        ("alpha", "error_rate <= 0.5", True),
        ("gamma", "error_rate <= 0.5", True),
        ("alpha", "satisfaction >= 0.5", None),
        ("gamma", "satisfaction >= 0.5", None),
    }
    assert runtime.telemetry.flush(5)
    text = httpx.get(f"{url}/metrics").text
    assert 'arbiter_goal_met{target="error_rate <= 0.5",usecase="chat",variant="alpha"} 1.0' in text
    assert 'arbiter_goal_samples{target="satisfaction >= 0.5",usecase="chat"' in text
    assert 'arbiter_goal_met{target="satisfaction >= 0.5"' not in text  # not enough data


def test_usecase_commands(tmp_path: Path) -> None:

    (tmp_path / "arbiter.toml").write_text(
        '[[variants]]\nname = "one"\n[variants.model]\nprovider = "openai"\n'
        'base_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n'
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nvariants: [one]\ntargets: ['rouge_x >= 1']\n")
    result = run(["usecase", "apply", str(bad)], tmp_path)
    assert result.returncode != 0 and "did you mean 'rouge_l'" in result.stdout + result.stderr
    good = tmp_path / "good.yaml"
    good.write_text("name: x\nvariants: [one]\ntargets: ['error_rate <= 0.1']\nmin_samples: 3\n")
    result = run(["usecase", "apply", str(good)], tmp_path)
    assert result.returncode == 0 and "created use case x" in result.stdout, result.stderr
    result = run(["usecase", "status", "x"], tmp_path)
    assert result.returncode == 1 and "not enough data: 0 answers" in result.stdout
    result = run(["usecase", "report", "x", "--out", "sel.md"], tmp_path)
    assert result.returncode == 0 and "No recommendation" in result.stdout
    assert (tmp_path / "sel.md").read_text().startswith("# Model selection: x")
    listed = run(["usecase", "list"], tmp_path)
    assert "x" in listed.stdout and "error_rate <= 0.1" in listed.stdout


def test_use_cases_tab_and_dashboard_goals(runtime: Runtime, live_ui: LiveServer) -> None:

    client = page_client(live_ui.url)
    message, _ = client.predict(
        "name: x\nvariants: [alpha]\ntargets: [bleu => 1]\n", api_name="/usecase_apply"
    )
    assert message.startswith("**Not saved.**") and "unknown operator '=>'" in message
    text = "name: chat\nvariants: [alpha, beta]\nbaseline: beta\ntargets: ['error_rate <= 0.5']\nmin_samples: 2\n"
    message, _ = client.predict(text, api_name="/usecase_apply")
    assert message.startswith("Created use case **chat**")
    for _ in range(2):
        httpx.post(
            f"{live_ui.url}/api/compare",
            json={"prompt": "q", "variants": ["alpha", "beta"], "use_case": "chat"},
            timeout=30,
        ).raise_for_status()
    summary, table, frame = client.predict("chat", None, "(its own)", api_name="/usecase_status")
    assert summary.startswith("**Recommended: ")
    assert table["headers"] == ["variant", "all targets met", "error_rate <= 0.5"]
    assert {row[0] for row in table["data"]} == {"alpha", "beta"}
    assert all(row[2].startswith("✓ 0.000") for row in table["data"])
    assert "/api/usecases/chat/report.html" in frame
    head, goals = client.predict("chat", api_name="/dashboard_goals")
    assert "Goals of chat" in head and "all targets met by" in head
    assert len(goals["data"]) == 2
    plots = client.predict("last hour", "chat", api_name="/dashboard")
    assert len(plots) == 10
