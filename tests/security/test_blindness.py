"""Blindness is enforced by the server (issue 23, item 7): nothing that identifies a model
of a blind (arena) turn — name, model id or URL in an error, cost, tokens, timings,
per-variant metrics, someone else's vote — leaves the server before that rater's vote is
stored, and a rater cannot vote again after the reveal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.app.bootstrap import build_runtime
from service.config import Settings
from service.serving import CompareEvent
from service.store import Store
from tests.fakes.script import Script
from tests.support.auth import ADMIN, new_key, secured
from tests.support.fixtures import LiveServer
from tests.support.sse import compare_stream
from tests.support.telemetry import metrics
from ui.conversation import Session

# Two models on endpoints that refuse connections: every pane fails with the provider's
# own words, which name the endpoint.
FAILING_TOML = """
[[variants]]
name = "gpt-secret"
[variants.model]
provider = "openai"
base_url = "http://127.0.0.1:9/v1"
model = "vendor-model-7b"

[[variants]]
name = "claude-secret"
[variants.model]
provider = "openai"
base_url = "http://127.0.0.1:9/v2"
model = "other-model-70b"
"""
IDENTIFYING = ("gpt-secret", "claude-secret", "vendor-model-7b", "other-model-70b", ":9/v")


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def keyed(
    store: Store, variants_file: Path, scripts: dict[str, Script], tmp_path: Path
) -> Iterator[LiveServer]:
    runtime = secured(
        store,
        variants_file,
        scripts,
        tmp_path,
        auth="keys",
        admin_key=ADMIN,
        metrics_key="scrape-" + "x" * 40,
    )
    with LiveServer(runtime) as server:
        yield server


def test_provider_errors_name_no_model_in_a_blind_turn(store: Store, tmp_path: Path) -> None:
    variants = tmp_path / "failing.toml"
    variants.write_text(FAILING_TOML)
    runtime = build_runtime(
        Settings(
            home=tmp_path,
            variants_file=variants,
            online_metrics="",
            example_use_case=False,
            default_timeout_s=10,
        ),
        store=store,
    )
    with LiveServer(runtime) as server:
        body = {"prompt": "hi", "variants": ["gpt-secret", "claude-secret"]}
        named = httpx.post(f"{server.url}/api/compare", json=body, timeout=60).text
        assert any(s in named for s in IDENTIFYING)  # the named view does tell (control)
        blind = httpx.post(
            f"{server.url}/api/compare", json={**body, "mode": "arena"}, timeout=60
        ).json()
        with compare_stream(server.url, {**body, "mode": "arena"}) as (_, stream):
            streamed = json.dumps([d for _, d in stream])
        turn_id = blind["id"]
        stored = httpx.get(f"{server.url}/api/turns/{turn_id}").text
        listed = httpx.get(f"{server.url}/api/turns").text
    assert [a["status"] for a in blind["answers"]] == ["error", "error"]
    assert all("start a new round" in a["error_message"] for a in blind["answers"])
    for text in (json.dumps(blind), streamed, stored):
        assert not [s for s in IDENTIFYING if s in text], text
    # The list holds the named turn too; the blind ones in it are anonymous.
    arena = [t for t in json.loads(listed)["turns"] if t["mode"] == "arena"]
    assert len(arena) == 2 and not [s for s in IDENTIFYING if s in json.dumps(arena)]


def test_cost_tokens_and_timings_are_withheld_until_the_vote(keyed: LiveServer) -> None:
    url, rater = keyed.url, new_key(keyed.url, "ann", ["compare", "vote"])
    turn = httpx.post(
        f"{url}/api/compare",
        json={"prompt": "q", "variants": ["alpha", "beta"], "mode": "arena"},
        headers=_bearer(rater),
        timeout=30,
    ).json()
    hidden = ("cost_usd", "tokens_in", "tokens_out", "ttft_ms", "latency_ms")
    for answer in turn["answers"]:
        assert answer["variant"] in ("model A", "model B")
        assert all(answer[k] is None for k in hidden), answer
    with compare_stream(
        url, {"prompt": "q", "variants": ["alpha", "beta"], "mode": "arena"}, _bearer(rater)
    ) as (_, stream):
        answers = [d for kind, d in stream if kind == "answer"]
    assert answers and all(a.get(k) is None for a in answers for k in hidden)
    assert all("variant" not in a for a in answers)
    vote = httpx.post(
        f"{url}/api/turns/{turn['id']}/votes", json={"outcome": "a"}, headers=_bearer(rater)
    )
    assert vote.status_code == 201
    after = httpx.get(f"{url}/api/turns/{turn['id']}", headers=_bearer(rater)).json()
    assert sorted(a["variant"] for a in after["answers"]) == ["alpha", "beta"]
    assert all(a["tokens_out"] is not None for a in after["answers"])


def test_a_throwaway_vote_reveals_but_a_second_vote_is_refused(keyed: LiveServer) -> None:
    url, rater = keyed.url, new_key(keyed.url, "ann", ["compare", "vote"])
    turn = httpx.post(
        f"{url}/api/compare",
        json={"prompt": "q", "variants": ["alpha", "beta"], "mode": "arena"},
        headers=_bearer(rater),
        timeout=30,
    ).json()
    first = httpx.post(
        f"{url}/api/turns/{turn['id']}/votes", json={"outcome": "tie"}, headers=_bearer(rater)
    )
    assert first.status_code == 201
    again = httpx.post(
        f"{url}/api/turns/{turn['id']}/votes", json={"outcome": "a"}, headers=_bearer(rater)
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_voted"
    batch = httpx.post(
        f"{url}/api/votes",
        json={"votes": [{"turn_id": turn["id"], "outcome": "b"}]},
        headers=_bearer(rater),
    )
    assert batch.status_code == 409
    board = httpx.get(f"{url}/api/leaderboard", headers=_bearer(rater)).json()
    assert board["battles"] == 1


def test_another_raters_vote_reveals_nothing_in_a_campaign(keyed: LiveServer, wait_for) -> None:  # type: ignore[no-untyped-def]
    url = keyed.url
    created = httpx.post(
        f"{url}/api/campaigns",
        json={"name": "c", "variants": ["alpha", "beta"], "prompts": ["p1"], "raters_per_item": 2},
        headers=_bearer(ADMIN),
    )
    assert created.status_code == 201, created.text
    ann, bob = (new_key(url, n, ["compare", "vote"]) for n in ("ann", "bob"))

    def next_for(key: str) -> httpx.Response:
        return httpx.get(f"{url}/api/campaigns/c/next", headers=_bearer(key))

    wait_for(lambda: next_for(ann).status_code == 200, 20)
    item = next_for(ann).json()
    turn_id = item["turn"]["id"]
    assert (
        httpx.post(
            f"{url}/api/turns/{turn_id}/votes", json={"outcome": "a"}, headers=_bearer(ann)
        ).status_code
        == 201
    )
    for_bob = next_for(bob).json()
    assert for_bob["turn"]["id"] == turn_id
    assert for_bob["turn"]["vote"] is None  # not ann's vote
    text = json.dumps(for_bob)
    assert "alpha" not in text and "beta" not in text
    as_bob = httpx.get(f"{url}/api/turns/{turn_id}", headers=_bearer(bob)).text
    assert "alpha" not in as_bob and "beta" not in as_bob and '"vote":null' in as_bob
    history = httpx.get(f"{url}/api/turns/{turn_id}/votes", headers=_bearer(bob)).json()
    assert history == []  # ann's vote is hers
    as_ann = httpx.get(f"{url}/api/turns/{turn_id}", headers=_bearer(ann)).json()
    assert sorted(a["variant"] for a in as_ann["answers"]) == ["alpha", "beta"]


def _calls(url: str, key: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics", headers=_bearer(key)).text
    return {
        dict(labels).get("variant", ""): value
        for (name, labels), value in metrics(text).items()
        if name == "arbiter_model_calls_total"
    }


def test_per_variant_metrics_move_only_after_the_vote(keyed: LiveServer, wait_for) -> None:  # type: ignore[no-untyped-def]
    url, scraper = keyed.url, "scrape-" + "x" * 40
    rater = new_key(url, "ann", ["compare", "vote"])
    assert httpx.get(f"{url}/metrics").status_code == 401
    assert httpx.get(f"{url}/metrics", headers=_bearer(rater)).status_code == 403
    before = _calls(url, scraper)
    turn = httpx.post(
        f"{url}/api/compare",
        json={"prompt": "q", "variants": ["alpha", "beta"], "mode": "arena"},
        headers=_bearer(rater),
        timeout=30,
    ).json()
    named = httpx.post(
        f"{url}/api/compare",
        json={"prompt": "q", "variants": ["alpha", "gamma"]},
        headers=_bearer(rater),
        timeout=30,
    )
    assert named.status_code == 200
    # Telemetry is exported off the request path: wait for the named turn's calls...
    wait_for(lambda: _calls(url, scraper).get("gamma", 0) == before.get("gamma", 0) + 1, 10)
    during = _calls(url, scraper)
    # ... which went out after the blind turn's, held back until its vote
    assert during.get("beta", 0) == before.get("beta", 0)
    httpx.post(
        f"{url}/api/turns/{turn['id']}/votes", json={"outcome": "b"}, headers=_bearer(rater)
    ).raise_for_status()
    wait_for(lambda: _calls(url, scraper).get("beta", 0) == before.get("beta", 0) + 1, 10)


def test_a_blind_pane_on_the_page_shows_no_provider_error_text() -> None:
    session = Session(blind=True)
    session.choose(["gpt-secret", "claude-secret"], [None, None])
    session.start(
        CompareEvent("turn", {"turn_id": "t", "conversation_id": "c", "position": 0, "panes": []}),
        "hi",
        regenerate=False,
        link=str,
    )
    failed = {
        "id": "x",
        "pane": 0,
        "variant": "gpt-secret",
        "status": "error",
        "text": "",
        "error_code": "provider_error",
        "error_message": "vendor-model-7b at http://127.0.0.1:9/v1 refused the connection",
    }
    session.apply(CompareEvent("answer", failed))
    shown = json.dumps(session.transcripts)
    assert "provider_error" in shown and not [s for s in IDENTIFYING if s in shown]
