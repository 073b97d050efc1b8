"""Every read path over HTTP on PostgreSQL with more than 70,000 votes (issue 18).

PostgreSQL takes at most 65,535 parameters in one statement, so a query that binds one per
row (`TurnRow.id.in_(ids)`) fails there once a read covers more rows than that. The store
is filled (tests/support/synthetic_arena.py, COPY) past that line on every path: more than
65,535 rankings (the leaderboard's ranking battles), more than 65,535 live votes in the last
seven days and in one use case (dashboard, use-case status), and more than 65,535 voted
turns (exports). Then the leaderboard (with filters, and after one more vote and its
rejection), the quality view, exports (dry run and a full trl-preference export), the
campaign, use-case status, the dashboard (the page's own event) and History are called as a
user calls them, and each answer is checked against what was filled.

The traffic is mostly named three-pane rankings so that one fill crosses every line at
once; the full export is limited to two variants so its body stays small (the dry run
counts every record)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from service.app.bootstrap import build_runtime
from service.config import Settings
from tests.fakes.scripted import ScriptedFactory
from tests.support.fixtures import LiveServer, scratch_store
from tests.support.page_api import PageSession
from tests.support.synthetic_arena import (
    ArenaFill,
    ArenaShape,
    fill_arena,
    rebuild_maintained_aggregates,
)

# The module's fixture writes ~490,000 rows (2-3 minutes on two busy cores), and its setup
# counts against the first test's timeout.
pytestmark = pytest.mark.timeout(900)
PG_LIMIT = 65_535  # parameters PostgreSQL takes in one statement
SHAPE = ArenaShape(
    turns=72_000,
    ranking_share=0.95,
    use_case_share=1.0,
    span=timedelta(days=6),  # everything inside the 7-day windows
    campaign_items=1_000,
)
USE_CASE: dict[str, Any] = {
    "variants": list(SHAPE.variants[:4]),
    "baseline": SHAPE.variants[0],
    "targets": ["win_rate >= 0.5", "error_rate <= 0.05", "p90_latency_s <= 5"],
    "window_days": 7,
}
TWO = [SHAPE.variants[0], SHAPE.variants[1]]


@dataclass
class Filled:
    url: str
    fill: ArenaFill
    http: httpx.Client

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params)
        assert r.status_code == 200, f"GET {path} {params}: {r.status_code} {r.text[:500]}"
        return r.json()


def _variants_toml() -> str:
    return "".join(
        f'[[variants]]\nname = "{n}"\n[variants.model]\nprovider = "openai"\n'
        f'base_url = "http://127.0.0.1:9/v1"\nmodel = "{n}"\n'
        for n in SHAPE.variants
    )


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Filled]:
    """One PostgreSQL schema filled once for the module, served with the page."""
    with scratch_store("postgres", tmp_path_factory.mktemp("many-votes-store")) as store:
        fill = fill_arena(store, SHAPE)
        rebuild_maintained_aggregates(store)
        home = tmp_path_factory.mktemp("many-votes")
        (home / "variants.toml").write_text(_variants_toml())
        settings = Settings(home=home, variants_file=home / "variants.toml", online_metrics="")
        runtime = build_runtime(settings, model_factory=ScriptedFactory({}), store=store)
        with (
            LiveServer(runtime, with_ui=True) as server,
            httpx.Client(base_url=server.url, timeout=600) as http,
        ):
            applied = http.put(f"/api/usecases/{SHAPE.use_case}", json=USE_CASE)
            assert applied.status_code == 200, applied.text
            yield Filled(server.url, fill, http)


def test_the_fill_crosses_postgres_parameter_limit_on_every_path(filled: Filled) -> None:
    fill = filled.fill
    assert fill.votes > 70_000
    assert fill.live_rankings > PG_LIMIT  # leaderboard: the turns of its rankings
    assert fill.live_pair_votes + fill.live_rankings > PG_LIMIT  # dashboard, use case, exports
    assert fill.first_at is not None and fill.first_at > datetime.now(fill.first_at.tzinfo) - (
        timedelta(days=7)
    )


def test_leaderboard_counts_every_live_vote_and_ranking(filled: Filled) -> None:
    fill = filled.fill
    board = filled.get("/api/leaderboard")
    assert board["battles"] == fill.battles
    assert sorted(board["variants"]) == sorted(SHAPE.variants)
    assert sum(r["battles"] for r in board["rows"]) == 2 * fill.battles
    assert sum(map(sum, board["battle_matrix"])) == 2 * fill.battles
    ratings = [r["rating"] for r in board["rows"]]
    assert ratings == sorted(ratings, reverse=True)
    assert all(r["ci_low"] <= r["rating"] <= r["ci_high"] for r in board["rows"])
    # Online Elo beside BT (`elo=true`: asked for, in case it becomes opt-in).
    with_elo = filled.get("/api/leaderboard", elo="true")
    assert with_elo["battles"] == fill.battles
    assert all(r["elo"] is not None for r in with_elo["rows"])
    # Filters narrow the same counts.
    assert filled.get("/api/leaderboard", mode="named")["battles"] == 3 * fill.live_rankings
    assert filled.get("/api/leaderboard", mode="arena")["battles"] == fill.live_pair_votes
    assert filled.get("/api/leaderboard", campaign=SHAPE.campaign)["battles"] == (
        fill.campaign_battles
    )
    assert filled.get("/api/leaderboard", tag="写作")["battles"] == fill.battles_by_tag["写作"]


def test_one_more_vote_counts_and_its_rejection_takes_it_back(filled: Filled) -> None:
    fill = filled.fill
    vote = filled.http.post(
        f"/api/turns/{fill.arena_turn_ids[0]}/votes",
        json={"outcome": "a", "on_behalf_of": "many-votes-extra"},
    )
    assert vote.status_code == 201, vote.text
    assert filled.get("/api/leaderboard")["battles"] == fill.battles + 1
    review = filled.http.post(
        "/api/reviews",
        json={"label_kind": "vote", "label_id": vote.json()["id"], "status": "rejected"},
    )
    assert review.status_code == 201, review.text
    assert filled.get("/api/leaderboard")["battles"] == fill.battles


def test_quality_view_averages_every_rating(filled: Filled) -> None:
    rows = filled.get("/api/leaderboard/quality")
    assert sorted(r["variant"] for r in rows) == sorted(SHAPE.variants)
    assert sum(r["ratings"] for r in rows) == filled.fill.rows["ratings"]
    for row in rows:
        helpful = row["criteria"]["helpfulness"]
        assert 1 <= helpful["ci_low"] <= helpful["mean"] <= helpful["ci_high"] <= 5


def test_export_dry_run_counts_every_preference_pair(filled: Filled) -> None:
    summary = filled.get("/api/exports/trl-preference", dry_run="true")
    # The SQL count keeps campaign raters' repeated records and says so; writing drops them.
    assert "duplicates" in summary["not_counted"]
    assert summary["records"] == filled.fill.preference_pairs() + filled.fill.repeats
    detailed = filled.get("/api/exports/trl-preference", dry_run="true", detail="true")
    assert detailed["records"] == filled.fill.preference_pairs()
    assert detailed["duplicates"] == filled.fill.repeats
    assert sum(summary["skipped"].values()) > 0  # ties, both-bad and failed answers


def test_full_trl_preference_export_streams_every_record(filled: Filled) -> None:
    expected = filled.fill.preference_pairs(TWO)
    lines = 0
    scripts = set()
    with filled.http.stream(
        "GET", "/api/exports/trl-preference", params=[("variant", v) for v in TWO]
    ) as r:
        assert r.status_code == 200, r.read()[:500]
        for raw in r.iter_lines():
            if not raw:
                continue
            record = httpx.Response(200, content=raw).json()
            lines += 1
            assert record["chosen"][-1]["role"] == "assistant"
            assert record["rejected"][-1]["role"] == "assistant"
            sides = {record["provenance"]["chosen"]["variant"]}
            sides.add(record["provenance"]["rejected"]["variant"])
            assert sides == set(TWO)
            prompt = record["prompt"][-1]["content"]
            scripts.add("zh" if "量子" in prompt else "ar" if "الإنتروبيا" in prompt else "")
    assert lines == expected > 1_000
    assert {"zh", "ar"} <= scripts  # other scripts come through unharmed


def test_campaign_status_and_list(filled: Filled) -> None:
    fill = filled.fill
    items = fill.rows["campaign_items"]
    listed = {c["name"]: c for c in filled.get("/api/campaigns")}
    assert listed[SHAPE.campaign]["items"] == items
    status = filled.get(f"/api/campaigns/{SHAPE.campaign}")
    assert status["items"] == status["answered"] == status["completed"] == items
    assert status["progress"] == 1.0
    assert status["votes_per_rater"] == {
        f"campaign-rater-{r}": items for r in range(SHAPE.campaign_raters)
    }
    assert status["agreement"]["votes"]["items"] == items


def test_use_case_status_reads_every_answer_and_vote(filled: Filled) -> None:
    fill = filled.fill
    status = filled.get(f"/api/usecases/{SHAPE.use_case}/status")
    assert sorted(v["variant"] for v in status["variants"]) == sorted(USE_CASE["variants"])
    for variant in status["variants"]:
        goals = {g["metric"]: g for g in variant["goals"]}
        assert goals["error_rate"]["samples"] == fill.answers_per_variant[variant["variant"]]
        assert 0 < goals["error_rate"]["value"] < 0.1
        assert goals["win_rate"]["samples"] > 1_000
        assert 0 < goals["win_rate"]["value"] < 1


def _rows(plot: dict[str, Any]) -> list[list[Any]]:
    value = plot.get("value")
    return list(value["data"] if isinstance(value, dict) else plot["data"])


@pytest.mark.parametrize("window", ["last 24 hours", "last 7 days"])
def test_dashboard_draws_every_variant(filled: Filled, window: str) -> None:
    with PageSession(filled.url) as page:
        page.http.timeout = httpx.Timeout(600)
        result = page.call(page.dependency(api_name="dashboard"), [window, "(all traffic)"])
    assert result.error is None, result.text()[:500]
    plots = result.output
    assert len(plots) == 10
    throughput, win_rate = _rows(plots[4]), _rows(plots[8])
    assert {r[2] for r in throughput} == set(SHAPE.variants)
    assert {r[2] for r in win_rate} == set(SHAPE.variants)
    assert all(0 <= r[1] <= 1 for r in win_rate)


def test_history_first_page_is_the_newest_turns(filled: Filled) -> None:
    first = filled.get("/api/turns", limit=50)
    page = first["turns"]
    assert len(page) == 50 and first["next"]
    times = [t["created_at"] for t in page]
    assert times == sorted(times, reverse=True)
    last_at = filled.fill.last_at
    assert last_at is not None
    newest = datetime.fromisoformat(times[0].replace("Z", "+00:00"))
    assert newest.replace(tzinfo=newest.tzinfo or UTC) >= last_at - timedelta(minutes=5)
    mine = filled.get("/api/turns", limit=50, rater="rater-1")["turns"]
    assert mine and {t["rater"] for t in mine} == {"rater-1"}
    following = filled.get("/api/turns", limit=50, after=first["next"])["turns"]
    assert following and following[0]["created_at"] <= times[-1]
    assert not {t["id"] for t in following} & {t["id"] for t in page}
