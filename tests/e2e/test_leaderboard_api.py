"""The leaderboard over stored votes (SQLite and PostgreSQL), through the HTTP API and the
command line: live votes only, both-bad as a tie, rankings as pairwise wins, filters."""

from __future__ import annotations

import random
from typing import Any

import httpx

from service.app.runtime import Runtime
from service.store.leaderboard import pair_counts
from tests.support.fixtures import LiveServer
from tests.support.former_leaderboard import former_online_elo
from tests.support.gradio import page_client


def turn(url: str, variants: list[str], mode: str = "named") -> str:
    r = httpx.post(
        f"{url}/api/compare",
        json={"prompt": "Which is best?", "variants": variants, "mode": mode},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def vote(url: str, turn_id: str, outcome: str, rater: str = "r1", **extra: Any) -> str:
    r = httpx.post(
        f"{url}/api/turns/{turn_id}/votes",
        json={"outcome": outcome, "on_behalf_of": rater, **extra},
    )
    assert r.status_code in (200, 201), r.text
    return str(r.json()["id"])


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
        assert row["ci_low"] <= row["rating"] <= row["ci_high"]
        assert row["elo"] is None  # Elo only when asked
    assert "both-bad counts as a tie" in board["rules"]
    with_elo = httpx.get(f"{url}/api/leaderboard", params={"elo": "true"}).json()
    assert {**with_elo, "rows": None} == {**board, "rows": None}
    # The live pairwise votes in arrival order (rankings are not Elo battles).
    expected = former_online_elo(
        [("alpha", "beta", "a")] * 3
        + [("beta", "alpha", "a"), ("alpha", "beta", "tie"), ("alpha", "beta", "a")]
        + [("alpha", "beta", "tie"), ("alpha", "gamma", "b")]
    )
    for row, plain in zip(with_elo["rows"], board["rows"], strict=True):
        assert row["elo"] == round(expected[row["variant"]], 2)
        assert {**row, "elo": None} == plain

    counts = pair_counts(runtime.store)
    assert counts.battles == board["battles"]

    arena = httpx.get(f"{url}/api/leaderboard", params={"mode": "arena"}).json()
    assert arena["battles"] == 1 and arena["rows"][0]["variant"] == "gamma"
    r2 = httpx.get(f"{url}/api/leaderboard", params={"rater": "r2"}).json()
    assert r2["battles"] == 1 and r2["win_matrix"][0][1] == 0.5
    future = httpx.get(f"{url}/api/leaderboard", params={"since": "2999-01-01T00:00:00Z"}).json()
    assert future == {**future, "rows": [], "battles": 0}
    assert httpx.get(f"{url}/api/leaderboard", params={"mode": "nope"}).status_code == 422


def test_elo_on_request_is_the_replay_of_the_live_votes_after_supersedes_and_reviews(
    live: LiveServer,
) -> None:
    """Online Elo depends on the order of votes, and a changed vote or a review rewrites
    that history: what ?elo=true returns is the former replay over the votes that count
    now, oldest first."""
    url = live.url
    rng = random.Random(18)
    names = ["alpha", "beta", "gamma"]
    turns = []
    for _ in range(12):
        pair = rng.sample(names, 2)
        turns.append((turn(url, pair), pair))
    cast: list[tuple[str, str, tuple[str, str], str]] = []  # (vote id, turn, pair, outcome)
    for _ in range(40):
        t, pair = rng.choice(turns)
        outcome = rng.choice(["a", "b", "tie", "both_bad"])
        rater = rng.choice(["r1", "r2"])
        cast.append(
            (vote(url, t, outcome, rater=rater), f"{t}/{rater}", (pair[0], pair[1]), outcome)
        )
    assert (
        httpx.post(f"{url}/api/raters", json={"name": "rev", "role": "reviewer"}).status_code == 201
    )
    rejected = {cast[k][0] for k in rng.sample(range(len(cast)), 4)}
    for vote_id in rejected:
        r = httpx.post(
            f"{url}/api/reviews",
            json={
                "label_kind": "vote",
                "label_id": vote_id,
                "status": "rejected",
                "on_behalf_of": "rev",
            },
        )
        assert r.status_code == 201, r.text

    def replay() -> dict[str, float]:
        latest = {key: k for k, (_, key, _, _) in enumerate(cast)}  # each rater's last vote
        live_votes = [
            (pair[0], pair[1], "tie" if outcome == "both_bad" else outcome)
            for k, (vote_id, key, pair, outcome) in enumerate(cast)
            if latest[key] == k and vote_id not in rejected
        ]
        return former_online_elo(live_votes)

    def elo() -> dict[str, float | None]:
        board = httpx.get(f"{url}/api/leaderboard", params={"elo": "true"}).json()
        return {r["variant"]: r["elo"] for r in board["rows"]}

    expected = replay()
    assert elo() == {m: round(v, 2) for m, v in expected.items()}
    # A new vote on the oldest turn supersedes that rater's earlier vote there: the
    # replay drops the old one from early in the history and adds the new one at the end.
    t, pair = turns[0]
    cast.append((vote(url, t, "b", rater="r1"), f"{t}/r1", (pair[0], pair[1]), "b"))
    after = replay()
    assert after != expected
    assert elo() == {m: round(v, 2) for m, v in after.items()}


def test_quality_view_uses_each_raters_latest_rating(live: LiveServer) -> None:
    url = live.url
    t = turn(url, ["alpha", "beta"])
    vote(url, t, "a")

    def rate(helpfulness: int, rater: str = "r1") -> None:
        r = httpx.post(
            f"{url}/api/turns/{t}/labels",
            json={
                "on_behalf_of": rater,
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


def test_leaderboard_command(runtime: Runtime, live: LiveServer, tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    url = live.url
    for _ in range(4):
        vote(url, turn(url, ["alpha", "beta"]), "a")
    t = turn(url, ["beta", "gamma"])
    vote(url, t, "b")
    httpx.post(
        f"{url}/api/turns/{t}/labels",
        json={"on_behalf_of": "r1", "ratings": [{"pane": 1, "helpfulness": 4}]},
    )
    store = runtime.store
    database_url = store.url
    if store.schema:  # the test's PostgreSQL schema, as the connection's search path
        database_url += f"?options=-csearch_path%3D{store.schema}"
    env = {**os.environ, "ARBITER_DATABASE_URL": database_url, "COLUMNS": "160"}
    result = subprocess.run(
        [sys.executable, "-m", "service", "leaderboard"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    alpha = next(line for line in lines if "│ alpha" in line)
    assert "│ 1 " in alpha or alpha.strip().startswith("│ 1")
    assert "Preference: 5 battles" in result.stdout
    assert "Rubric" in result.stdout and "4.00" in result.stdout
    assert "Elo" not in result.stdout  # only with --elo
    with_elo = subprocess.run(
        [sys.executable, "-m", "service", "leaderboard", "--elo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert with_elo.returncode == 0, with_elo.stderr
    alpha = next(line for line in with_elo.stdout.splitlines() if "│ alpha" in line)
    # alpha won its 4 battles: 1000 + 4 · (1 - 1/(1 + 10^(-x/400))) each time, about 1008.
    assert "Elo" in with_elo.stdout and alpha.rstrip(" │").endswith("1008")


def test_leaderboard_tab(live_ui: LiveServer) -> None:
    from PIL import Image

    url = live_ui.url
    for winner in ("a", "a", "b"):
        vote(url, turn(url, ["alpha", "beta"]), winner)
    vote(url, turn(url, ["alpha", "gamma"], mode="arena"), "tie")
    c = page_client(url)
    preference, heat, quality, note = c.predict(
        "all", "all", "", "", False, api_name="/leaderboard"
    )
    rows = preference["data"]
    assert rows[0][1] == "alpha" and len(rows) == 3
    assert {r[6] for r in rows} == {""}  # no Elo unless the box is ticked
    with_elo = c.predict("all", "all", "", "", True, api_name="/leaderboard")[0]["data"]
    assert [r[:6] for r in with_elo] == [r[:6] for r in rows]
    assert all(isinstance(r[6], int | float) and 990 < r[6] < 1010 for r in with_elo)
    assert {r[0] for r in quality["data"]} == set()  # nobody rated yet
    # Four battles are few: the note says the ratings are rough, then counts them.
    assert note.startswith("**Few votes: ratings are rough.**") and "4 battles." in note
    with Image.open(heat) as img:
        assert img.format in ("PNG", "WEBP") and img.size[0] > 200
    arena_only = c.predict("arena", "all", "", "", False, api_name="/leaderboard")
    assert {r[1] for r in arena_only[0]["data"]} == {"alpha", "gamma"}
    bad_date = c.predict("all", "all", "last week", "", False, api_name="/leaderboard")
    assert bad_date[3] == {"__type__": "update"}  # a bad date changes nothing (and warns)


def test_tags_are_stored_and_filter_the_leaderboard_and_exports(live: LiveServer) -> None:
    url = live.url

    def tagged(tags: list[str], outcome: str) -> str:
        r = httpx.post(
            f"{url}/api/compare",
            json={"prompt": f"q {tags} {outcome}", "variants": ["alpha", "beta"], "tags": tags},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        vote(url, r.json()["id"], outcome)
        return str(r.json()["id"])

    coding = tagged(["coding", "python"], "a")
    tagged(["coding"], "a")
    tagged(["support"], "b")
    assert httpx.get(f"{url}/api/turns/{coding}").json()["tags"] == ["coding", "python"]
    assert httpx.get(f"{url}/api/leaderboard", params={"tag": "coding"}).json()["battles"] == 2
    assert httpx.get(f"{url}/api/leaderboard", params={"tag": "python"}).json()["battles"] == 1
    support = httpx.get(f"{url}/api/leaderboard", params={"tag": "support"}).json()
    assert support["rows"][0]["variant"] == "beta"
    exported = httpx.get(f"{url}/api/exports/trl-kto", params={"tag": "coding"}).text.splitlines()
    assert len(exported) == 4  # two turns, two answers each
    bad = httpx.post(
        f"{url}/api/compare", json={"prompt": "q", "variants": ["alpha", "beta"], "tags": ["<b>"]}
    )
    assert bad.status_code == 422
