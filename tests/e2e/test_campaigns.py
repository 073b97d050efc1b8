"""Labelling campaigns, raters' roles and reviews, through the HTTP API (SQLite and
PostgreSQL): K raters per item, next unjudged item, progress, agreement, and rejected
labels left out of rankings and exports but kept."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from service.app.runtime import Runtime
from service.labels.exports import ExportOptions, prepare
from service.store.filters import Filters
from tests.support.fixtures import LiveServer
from tests.support.gradio import page_client


def take_part(url: str, campaign: str, rater: str, outcome: str) -> list[str]:
    """Vote on every item the campaign gives this rater; returns the turn ids."""
    turns = []
    while True:
        r = httpx.get(f"{url}/api/campaigns/{campaign}/next", params={"on_behalf_of": rater})
        if r.status_code == 204:
            return turns
        assert r.status_code == 200, r.text
        turn = r.json()["turn"]
        assert {a["variant"] for a in turn["answers"]} == {"model A", "model B"}  # blind
        v = httpx.post(
            f"{url}/api/turns/{turn['id']}/votes", json={"outcome": outcome, "on_behalf_of": rater}
        )
        assert v.status_code == 201, v.text
        turns.append(turn["id"])


def test_campaign_flow(
    runtime: Runtime, live: LiveServer, wait_for: Callable[[Callable[[], bool], float], None]
) -> None:
    url = live.url
    prompts = ["Name a colour.", "Name a fruit.", "Name a city."]
    r = httpx.post(
        f"{url}/api/campaigns",
        json={
            "name": "colours",
            "variants": ["alpha", "beta"],
            "prompts": prompts,
            "raters_per_item": 2,
        },
    )
    assert r.status_code == 201, r.text
    wait_for(lambda: httpx.get(f"{url}/api/campaigns/colours").json()["answered"] == 3, 30)

    first = take_part(url, "colours", "r1", "a")
    second = take_part(url, "colours", "r2", "a")
    assert len(first) == len(second) == 3 and set(first) == set(second)
    assert take_part(url, "colours", "r3", "b") == []  # every item has its 2 raters

    status = httpx.get(f"{url}/api/campaigns/colours").json()
    assert status["completed"] == 3 and status["progress"] == 1.0
    assert status["votes_per_rater"] == {"r1": 3, "r2": 3}
    votes = status["agreement"]["votes"]
    assert votes["items"] == 3 and votes["raters"] == 2 and votes["labels"] == 6
    assert [c["name"] for c in httpx.get(f"{url}/api/campaigns").json()] == ["colours"]

    # Pane order is shuffled per item, so "a" means alpha on some items, beta on others.
    board = httpx.get(f"{url}/api/leaderboard", params={"campaign": "colours"}).json()
    assert board["battles"] == 6
    splits, summary = prepare(
        runtime.store, ExportOptions("trl-preference", filters=Filters(campaign="colours"))
    )
    pairs = splits["all"]
    # Two raters agreeing on a turn make the same pair twice: one is kept.
    assert len(pairs) == 3 and summary.duplicates == 3
    assert {p["provenance"]["campaign"] for p in pairs} == {"colours"}


def test_reviews_reject_labels_without_deleting_them(runtime: Runtime, live: LiveServer) -> None:
    url = live.url
    turn = httpx.post(
        f"{url}/api/compare", json={"prompt": "q", "variants": ["alpha", "beta"]}
    ).json()
    vote = httpx.post(
        f"{url}/api/turns/{turn['id']}/votes", json={"outcome": "a", "on_behalf_of": "r1"}
    ).json()

    def review(reviewer: str, status: str) -> httpx.Response:
        return httpx.post(
            f"{url}/api/reviews",
            json={
                "label_kind": "vote",
                "label_id": vote["id"],
                "status": status,
                "on_behalf_of": reviewer,
            },
        )

    assert review("r1", "rejected").status_code == 403  # not a reviewer
    assert (
        httpx.post(f"{url}/api/raters", json={"name": "rev", "role": "reviewer"}).status_code == 201
    )
    assert httpx.get(f"{url}/api/raters").json() == [{"name": "rev", "role": "reviewer"}]
    assert review("rev", "rejected").status_code == 201
    assert httpx.get(f"{url}/api/leaderboard").json()["battles"] == 0
    assert prepare(runtime.store, ExportOptions("trl-kto"))[1].records == 0
    assert len(httpx.get(f"{url}/api/turns/{turn['id']}/votes").json()) == 1  # kept
    assert review("rev", "accepted").status_code == 201  # the latest decision counts
    assert httpx.get(f"{url}/api/leaderboard").json()["battles"] == 1
    missing = httpx.post(
        f"{url}/api/reviews",
        json={
            "label_kind": "rating",
            "label_id": "nope",
            "status": "rejected",
            "on_behalf_of": "rev",
        },
    )
    assert missing.status_code == 404


def test_campaign_rules_and_errors(
    runtime: Runtime, live: LiveServer, wait_for: Callable[[Callable[[], bool], float], None]
) -> None:
    url = live.url
    for prompt in ("Old question one", "Old question two"):
        httpx.post(f"{url}/api/compare", json={"prompt": prompt, "variants": ["alpha", "gamma"]})
    r = httpx.post(
        f"{url}/api/campaigns",
        json={
            "name": "traffic",
            "variants": ["alpha", "beta"],
            "from_traffic": 10,
            "raters_per_item": 1,
            "raters": ["ann"],
        },
    )
    assert r.status_code == 201 and r.json()["items"] == 2
    wait_for(lambda: httpx.get(f"{url}/api/campaigns/traffic").json()["answered"] == 2, 30)
    assert (
        httpx.get(f"{url}/api/campaigns/traffic/next", params={"on_behalf_of": "eve"}).status_code
        == 403
    )
    item = httpx.get(f"{url}/api/campaigns/traffic/next", params={"on_behalf_of": "ann"}).json()
    assert item["turn"]["prompt"] in ("Old question one", "Old question two")

    def create(**body: object) -> httpx.Response:
        return httpx.post(
            f"{url}/api/campaigns", json={"name": "x", "variants": ["alpha", "beta"], **body}
        )

    assert create(prompts=["q"], name="traffic").status_code == 409
    assert create(prompts=["q"], variants=["alpha", "nope"]).status_code == 404
    assert create(prompts=[]).status_code == 422
    assert create(prompts=["  "]).status_code == 422
    assert httpx.get(f"{url}/api/campaigns/none").status_code == 404


def test_campaign_tab(
    runtime: Runtime, live_ui: LiveServer, wait_for: Callable[[Callable[[], bool], float], None]
) -> None:

    url = live_ui.url
    httpx.post(
        f"{url}/api/campaigns",
        json={
            "name": "tab",
            "variants": ["alpha", "beta"],
            "prompts": ["P one", "P two"],
            "raters_per_item": 1,
        },
    ).raise_for_status()
    wait_for(lambda: httpx.get(f"{url}/api/campaigns/tab").json()["answered"] == 2, 30)
    c = page_client(url)
    first = c.predict("tab", "ann", api_name="/campaign_next")
    text = first if isinstance(first, str) else first[0]
    assert "**Item 1**" in text and "P one" in text and "Answer A" in text
    assert "alpha" not in text and "beta" not in text  # anonymous
    second = c.predict("tab", "ann", api_name="/campaign_vote_a")
    text = second if isinstance(second, str) else second[0]
    assert "**Item 2**" in text and "you judged 1" in text
    done = c.predict("tab", "ann", api_name="/campaign_vote_tie")
    text = done if isinstance(done, str) else done[0]
    assert "Nothing left for you" in text and "2/2 items complete" in text
    assert httpx.get(f"{url}/api/campaigns/tab").json()["votes_per_rater"] == {"ann": 2}
