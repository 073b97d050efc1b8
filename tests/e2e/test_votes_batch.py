"""Votes in batches through the API (SQLite and PostgreSQL): the rules of single votes,
all-or-nothing batches, and many concurrent writers with retries storing every vote once."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from service.app.runtime import Runtime
from service.ids import utcnow
from service.store import votes
from service.store.tables import VoteRow
from tests.support.fixtures import LiveServer


def turns(url: str, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        r = httpx.post(
            f"{url}/api/compare", json={"prompt": "q", "variants": ["alpha", "beta"]}, timeout=30
        )
        assert r.status_code == 200, r.text
        ids.append(r.json()["id"])
    return ids


def count(runtime: Runtime) -> int:
    with runtime.store.session() as s:
        return int(s.scalar(select(func.count()).select_from(VoteRow)) or 0)


def test_a_batch_follows_the_single_vote_rules(runtime: Runtime, live: LiveServer) -> None:
    url = live.url
    t1, t2 = turns(url, 2)
    batch: list[dict[str, Any]] = [
        {"turn_id": t1, "outcome": "a", "on_behalf_of": "ann", "idempotency_key": "k1"},
        {"turn_id": t1, "outcome": "b", "on_behalf_of": "ann"},  # ann changes her mind
        {"turn_id": t2, "outcome": "tie", "on_behalf_of": "bob", "idempotency_key": "k2"},
        {
            "turn_id": t2,
            "outcome": "tie",
            "on_behalf_of": "bob",
            "idempotency_key": "k2",
        },  # a repeat
    ]
    r = httpx.post(f"{url}/api/votes", json={"votes": batch})
    assert r.status_code == 201, r.text
    first, changed, tie, repeat = r.json()["votes"]
    assert changed["supersedes_id"] == first["id"] and repeat["id"] == tie["id"]
    assert count(runtime) == 3
    history = httpx.get(f"{url}/api/turns/{t1}/votes").json()
    assert [v["outcome"] for v in history] == ["a", "b"]
    assert history[1]["supersedes_id"] == history[0]["id"]  # ann's live vote: "b"

    again = httpx.post(f"{url}/api/votes", json={"votes": batch[:1]}).json()["votes"][0]
    assert again["id"] == first["id"]  # the retried key returns the stored vote
    bad = httpx.post(
        f"{url}/api/votes",
        json={
            "votes": [
                {"turn_id": t1, "outcome": "a", "on_behalf_of": "cat"},
                {"turn_id": t2, "outcome": "ranking", "ranking": [0, 0], "on_behalf_of": "cat"},
            ]
        },
    )
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("votes[1]:")
    missing = httpx.post(f"{url}/api/votes", json={"votes": [{"turn_id": "nope", "outcome": "a"}]})
    assert missing.status_code == 404
    assert count(runtime) == 3  # nothing of a refused batch is stored


def test_eight_writers_two_thousand_votes_each_every_vote_stored_once(
    runtime: Runtime, live: LiveServer
) -> None:
    url = live.url
    pool = turns(url, 10)
    errors: list[str] = []

    def writer(w: int) -> None:
        with httpx.Client(timeout=60) as client:
            votes = [
                {
                    "turn_id": pool[k % len(pool)],
                    "outcome": ("a", "b", "tie", "both_bad")[k % 4],
                    "on_behalf_of": f"w{w}-r{k}",
                    "idempotency_key": f"w{w}-{k}",
                }
                for k in range(2000)
            ]
            for start in range(0, 2000, 100):
                chunk = votes[start : start + 100]
                for attempt in range(1 + (start == 500)):  # one batch is sent twice: a retry
                    r = client.post(f"{url}/api/votes", json={"votes": chunk})
                    if r.status_code != 201:
                        errors.append(
                            f"writer {w} attempt {attempt}: {r.status_code} {r.text[:200]}"
                        )

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    with runtime.store.session() as s:
        stored = s.execute(select(VoteRow.idempotency_key)).scalars().all()
    assert len(stored) == 16_000 and len(set(stored)) == 16_000
    board = httpx.get(f"{url}/api/leaderboard").json()
    assert board["battles"] == 16_000


def test_a_key_stored_meanwhile_is_an_integrity_error_as_with_an_insert(
    runtime: Runtime, live: LiveServer
) -> None:
    """A batch's votes go in with COPY (PostgreSQL) or the driver's own executemany
    (SQLite): an idempotency key another request stored between the batch's check and its
    write must still raise SQLAlchemy's IntegrityError (what `cast_votes` retries one vote
    at a time on), and the stored vote stays as it was."""
    (t1,) = turns(live.url, 1)
    first = httpx.post(
        f"{live.url}/api/votes",
        json={
            "votes": [
                {"turn_id": t1, "outcome": "a", "on_behalf_of": "ann", "idempotency_key": "k"}
            ]
        },
    )
    assert first.status_code == 201, first.text
    row = {
        "id": "v-duplicate-key",
        "turn_id": t1,
        "outcome": "b",
        "ranking": [1, 0],
        "rater": "bob",
        "supersedes_id": None,
        "idempotency_key": "k",
        "created_at": utcnow(),
    }
    with pytest.raises(IntegrityError), runtime.store.session() as s:
        votes._insert_votes(s, [row])
    with runtime.store.session() as s:
        stored = s.execute(select(VoteRow.rater, VoteRow.outcome)).all()
    assert [tuple(r) for r in stored] == [("ann", "a")]
