"""The leaderboard over stored votes (SQLite and PostgreSQL), through the HTTP API and the
command line: live votes only, both-bad as a tie, rankings as pairwise wins, filters."""

from __future__ import annotations

from typing import Any

import httpx

from service.leaderboard import pair_counts
from service.runtime import Runtime
from tests.conftest import LiveServer


def turn(url: str, variants: list[str], mode: str = "named") -> str:
    r = httpx.post(
        f"{url}/api/compare",
        json={"prompt": "Which is best?", "variants": variants, "mode": mode},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def vote(url: str, turn_id: str, outcome: str, rater: str = "r1", **extra: Any) -> None:
    r = httpx.post(
        f"{url}/api/turns/{turn_id}/votes", json={"outcome": outcome, "rater": rater, **extra}
    )
    assert r.status_code in (200, 201), r.text


def test_leaderboard_counts_live_votes_by_the_stated_rules(
    runtime: Runtime, live: LiveServer
) -> None:
    url = live.url
    for _ in range(3):
        vote(url, turn(url, ["alpha", "beta"]), "a")
    vote(url, turn(url, ["beta", "alpha"]), "a")  # beta, in pane A, wins
    vote(url, turn(url, ["alpha", "beta"]), "both_bad")  # a tie
    changed = turn(url, ["alpha", "beta"])
    vote(url, changed, "b")
    vote(url, changed, "a")  # the same rater changes their mind: counted once, as "a"
    vote(url, changed, "tie", rater="r2")  # another rater's vote counts too
    three = turn(url, ["alpha", "beta", "gamma"])
    vote(url, three, "ranking", ranking=[2, 0, 1])  # gamma > alpha > beta
    vote(url, turn(url, ["alpha", "gamma"], mode="arena"), "b")

    board = httpx.get(f"{url}/api/leaderboard").json()
    assert board["battles"] == 3 + 1 + 1 + 2 + 3 + 1
    by_name = {r["variant"]: r for r in board["rows"]}
    assert set(by_name) == {"alpha", "beta", "gamma"}
    order = board["variants"]
    a, b = order.index("alpha"), order.index("beta")
    assert board["battle_matrix"][a][b] == 8
    # alpha over beta: 4 wins (3 + the changed vote) + 1 ranking win, 1 loss, 2 ties.
    assert board["win_matrix"][a][b] == (5 + 0.5 * 2) / 8
    for row in board["rows"]:
        assert row["ci_low"] <= row["rating"] <= row["ci_high"] and row["elo"] is not None
    assert "both-bad counts as a tie" in board["rules"]

    counts = pair_counts(runtime.store)
    assert counts.battles == board["battles"]

    arena = httpx.get(f"{url}/api/leaderboard", params={"mode": "arena"}).json()
    assert arena["battles"] == 1 and arena["rows"][0]["variant"] == "gamma"
    r2 = httpx.get(f"{url}/api/leaderboard", params={"rater": "r2"}).json()
    assert r2["battles"] == 1 and r2["win_matrix"][0][1] == 0.5
    future = httpx.get(f"{url}/api/leaderboard", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert future == {**future, "rows": [], "battles": 0}
    assert httpx.get(f"{url}/api/leaderboard", params={"mode": "nope"}).status_code == 422


def test_quality_view_uses_each_raters_latest_rating(live: LiveServer) -> None:
    url = live.url
    t = turn(url, ["alpha", "beta"])
    vote(url, t, "a")

    def rate(helpfulness: int, rater: str = "r1") -> None:
        r = httpx.post(
            f"{url}/api/turns/{t}/labels",
            json={
                "rater": rater,
                "ratings": [
                    {"pane": 0, "helpfulness": helpfulness, "honesty": 5},
                    {"pane": 1, "helpfulness": 2},
                ],
            },
        )
        assert r.status_code in (200, 201), r.text

    rate(1)
    rate(5)  # replaces r1's first rating
    rate(3, rater="r2")
    rows = {r["variant"]: r for r in httpx.get(f"{url}/api/leaderboard/quality").json()}
    assert rows["alpha"]["ratings"] == 2
    assert rows["alpha"]["criteria"]["helpfulness"]["mean"] == 4.0  # (5 + 3) / 2
    assert rows["alpha"]["criteria"]["honesty"]["n"] == 2
    assert rows["beta"]["criteria"]["helpfulness"]["mean"] == 2.0
    assert rows["beta"]["criteria"]["harmlessness"]["mean"] is None  # never rated: no number
