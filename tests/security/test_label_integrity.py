"""Label integrity (issue 23, item 4): the rater of a vote, rating, feedback, review and
campaign item is who authenticated, never a request field; one live vote per rater per
turn, even under concurrent requests; an admin's `on_behalf_of` is audited."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.schemas import VoteIn
from service.store import Store, votes
from service.store.audit_log import events
from tests.fakes.script import Script
from tests.support.answered import answered_turn
from tests.support.auth import ADMIN, new_key, secured
from tests.support.fixtures import LiveServer


@pytest.fixture
def keyed(
    store: Store, variants_file: Path, scripts: dict[str, Script], tmp_path: Path
) -> Iterator[LiveServer]:
    runtime = secured(store, variants_file, scripts, tmp_path, auth="keys", admin_key=ADMIN)
    with LiveServer(runtime) as server:
        yield server


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def _turn(url: str, key: str, mode: str = "named") -> str:
    r = httpx.post(
        f"{url}/api/compare",
        json={"prompt": "q", "variants": ["alpha", "beta"], "mode": mode},
        headers=_bearer(key),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def test_one_key_cannot_stuff_votes_under_many_rater_names(keyed: LiveServer) -> None:
    url = keyed.url
    voter = new_key(url, "voter", ["compare", "vote"])
    turn_id = _turn(url, voter)
    named = [
        httpx.post(
            f"{url}/api/turns/{turn_id}/votes",
            json={"outcome": "a", "rater": f"rater-{i}"},
            headers=_bearer(voter),
        )
        for i in range(20)
    ]
    assert {r.status_code for r in named} == {422}
    assert "whoever is signed in" in named[0].json()["error"]["message"]
    for outcome in ["a", "b", "a", "tie"] * 5:  # 20 votes: each replaces the last
        r = httpx.post(
            f"{url}/api/turns/{turn_id}/votes", json={"outcome": outcome}, headers=_bearer(voter)
        )
        assert r.status_code == 201 and r.json()["rater"] == "key:voter"
    batch = httpx.post(
        f"{url}/api/votes",
        json={"votes": [{"turn_id": turn_id, "outcome": "b"} for _ in range(30)]},
        headers=_bearer(voter),
    )
    assert batch.status_code == 201
    board = httpx.get(f"{url}/api/leaderboard", headers=_bearer(voter)).json()
    assert board["battles"] == 1  # 51 requests, one rater: one battle


def test_on_behalf_of_is_for_admins_and_audited(keyed: LiveServer) -> None:
    url = keyed.url
    voter = new_key(url, "voter", ["compare", "vote"])
    turn_id = _turn(url, voter)
    refused = httpx.post(
        f"{url}/api/turns/{turn_id}/votes",
        json={"outcome": "a", "on_behalf_of": "ann"},
        headers=_bearer(voter),
    )
    assert refused.status_code == 403 and "on behalf of" in refused.json()["error"]["message"]
    imported = httpx.post(
        f"{url}/api/turns/{turn_id}/votes",
        json={"outcome": "a", "on_behalf_of": "ann"},
        headers=_bearer(ADMIN),
    )
    assert imported.status_code == 201 and imported.json()["rater"] == "ann"
    audited = [e for e in events(keyed.runtime.store) if e["action"] == "label.on_behalf_of"]
    assert [(e["actor"], e["target"]) for e in audited] == [
        ("key:admin (ARBITER_ADMIN_KEY)", "ann")
    ]
    labels = httpx.post(
        f"{url}/api/turns/{turn_id}/labels",
        json={"comment": "fine", "rater": "bob"},
        headers=_bearer(voter),
    )
    assert labels.status_code == 422
    review = httpx.post(
        f"{url}/api/reviews",
        json={
            "label_kind": "vote",
            "label_id": imported.json()["id"],
            "status": "rejected",
            "reviewer": "someone-else",
        },
        headers=_bearer(ADMIN),
    )
    assert review.status_code == 422 and "reviewer" in review.json()["error"]["message"]


def test_a_rater_lists_and_reads_only_their_own_turns(keyed: LiveServer) -> None:
    url = keyed.url
    ann, bob = (new_key(url, n, ["compare", "vote"]) for n in ("ann", "bob"))
    mine = _turn(url, ann)
    listed = httpx.get(f"{url}/api/turns", headers=_bearer(bob)).json()
    assert listed == {"turns": [], "next": None}
    assert (
        httpx.get(f"{url}/api/turns", params={"rater": "key:ann"}, headers=_bearer(bob)).status_code
        == 403
    )
    assert httpx.get(f"{url}/api/turns/{mine}", headers=_bearer(bob)).status_code == 404
    assert httpx.get(f"{url}/api/turns/{mine}", headers=_bearer(ann)).status_code == 200
    assert len(httpx.get(f"{url}/api/turns", headers=_bearer(ADMIN)).json()["turns"]) == 1


def test_concurrent_votes_of_one_rater_leave_one_live_vote(store: Store) -> None:
    turn_id = answered_turn(
        store, ["alpha", "beta"], "q", each=lambda *_: {"text": "t"}, mode="arena", rater="ann"
    )
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def vote(outcome: str) -> None:
        barrier.wait()
        try:
            votes.cast_vote(store, turn_id, VoteIn(outcome=outcome), rater="ann")  # type: ignore[arg-type]
            outcomes.append("stored")
        except Exception as exc:  # the losers: already voted (blind), or busy
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=vote, args=("ab"[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    history = votes.vote_history(store, turn_id)
    assert len(history) == 1 and outcomes.count("stored") == 1, outcomes
