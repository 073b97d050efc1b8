"""Three `arbiter serve` replicas and two `arbiter worker`s on one PostgreSQL schema, behind
a real HAProxy, with per-key limits in a real Redis — all started by the test. About a
minute of mixed load (compares through the page's API, votes, gateway calls, and a rate-
limited key), and one replica killed with SIGKILL half way, while it holds a job:

- every acknowledged vote is stored exactly once (clients retry with their idempotency key);
- every job ends `done` exactly once, the killed replica's included (taken over by another
  worker when its lease ran out), and no answer is scored twice;
- the rate-limited key got what one limit allows (within 10%), not one per replica;
- the leaderboard's kept counts equal a rebuild from the votes (`arbiter db rebuild-counts`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support.fixtures import pg_schema
from tests.support.processes import (
    ServerProcess,
    fake_openai_process,
    haproxy,
    openai_variants_toml,
    redis_server,
    replica_env,
    start_arbiter,
    stop,
    wait_healthy,
)

LOAD_S = float(os.environ.get("ARBITER_TEST_REPLICA_LOAD_S", "60"))
ADMIN_KEY = "arb_" + "r" * 40
LIMITED_RATE = 120  # requests per minute for the limited key: 2/s, a bucket of 120
LIMITED_OFFER_PER_S = 12  # what its client asks: well over the rate
LEASE_S = 10  # a heartbeat every ~3 s: slow enough for a busy shared machine


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acked_votes: dict[str, str] = field(default_factory=dict)  # idempotency key -> vote id
    turns: int = 0
    gateway_ok: int = 0
    errors: list[str] = field(default_factory=list)
    limited_ok: int = 0
    limited_refused: int = 0
    limited_first: float = 0.0
    limited_last: float = 0.0


def _headers(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def _compare_and_vote(proxy: str, stop_at: float, tally: Tally, worker: int) -> None:
    with httpx.Client(base_url=proxy, headers=_headers(ADMIN_KEY), timeout=30) as client:
        i = 0
        while time.monotonic() < stop_at:
            i += 1
            try:
                r = client.post(
                    "/api/compare", json={"prompt": f"q {worker} {i}", "variants": ["a", "b"]}
                )
            except httpx.HTTPError as exc:
                tally.errors.append(f"compare: {exc!r}")
                continue
            if r.status_code != 200:
                tally.errors.append(f"compare: {r.status_code}")
                continue
            with tally.lock:
                tally.turns += 1
            key = f"vote-{worker}-{i}"
            outcome = ("a", "b", "tie")[i % 3]
            for _ in range(5):  # a client retries until acknowledged, with the same key
                try:
                    v = client.post(
                        f"/api/turns/{r.json()['id']}/votes",
                        json={"outcome": outcome, "idempotency_key": key},
                    )
                except httpx.HTTPError:
                    continue
                if v.status_code == 201:
                    with tally.lock:
                        tally.acked_votes[key] = v.json()["id"]
                    break


def _gateway(proxy: str, stop_at: float, tally: Tally) -> None:
    body = {"model": "a", "messages": [{"role": "user", "content": "hello"}]}
    with httpx.Client(base_url=proxy, headers=_headers(ADMIN_KEY), timeout=30) as client:
        while time.monotonic() < stop_at:
            try:
                r = client.post("/v1/chat/completions", json=body)
            except httpx.HTTPError:
                continue
            if r.status_code == 200:
                with tally.lock:
                    tally.gateway_ok += 1


def _limited(proxy: str, key: str, stop_at: float, tally: Tally) -> None:
    """A steady LIMITED_OFFER_PER_S on a cheap endpoint with the rate-limited key."""
    with httpx.Client(base_url=proxy, headers=_headers(key), timeout=30) as client:
        start = time.monotonic()
        tally.limited_first = start
        n = 0
        while time.monotonic() < stop_at:
            pause = start + n / LIMITED_OFFER_PER_S - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            n += 1
            try:
                r = client.get("/v1/models")
            except httpx.HTTPError:
                continue
            if r.status_code == 200:
                tally.limited_ok += 1
            elif r.status_code == 429:
                tally.limited_refused += 1
            tally.limited_last = time.monotonic()


def _held_job(db: sa.Engine, pid: int, timeout_s: float) -> str | None:
    """A job the process `pid` is running right now (its worker name holds its pid)."""
    deadline = time.monotonic() + timeout_s
    with db.connect() as conn:
        while time.monotonic() < deadline:
            job = conn.scalar(
                sa.text(
                    "SELECT id FROM jobs WHERE state = 'running' AND claimed_by LIKE :who LIMIT 1"
                ),
                {"who": f"%:{pid}:%"},
            )
            conn.rollback()
            if job is not None:
                return str(job)
            time.sleep(0.005)
    return None


def _cells(db: sa.Engine) -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text("SELECT * FROM leaderboard_cells"))]


@pytest.mark.timeout(1200)
def test_replicas_and_workers_survive_a_killed_replica(tmp_path: Path) -> None:
    with ExitStack() as stack:
        url, db = stack.enter_context(pg_schema())
        redis = stack.enter_context(redis_server())
        provider = stack.enter_context(fake_openai_process(tokens=20))
        variants = tmp_path / "arbiter.toml"
        variants.write_text(openai_variants_toml(provider))
        env = {
            **replica_env(url, variants, ADMIN_KEY),
            "ARBITER_REDIS_URL": redis.url,
            "ARBITER_ONLINE_METRICS": "answer_relevancy_embedding",
            "ARBITER_JOB_LEASE_S": str(LEASE_S),
            "ARBITER_WORKER": "true",  # replicas run jobs too: the killed one holds one
        }
        processes: list[ServerProcess] = []
        for i in range(5):  # all at once: they migrate the empty schema together
            home = tmp_path / f"p{i}"
            home.mkdir()
            processes.append(start_arbiter(home, "serve" if i < 3 else "worker", env=env))
        for p in processes:
            stack.callback(stop, p)
        replicas, workers = processes[:3], processes[3:]
        for r in replicas:
            wait_healthy(r, timeout_s=480)  # five start at once on a shared machine
        for w in workers:
            assert w.proc.poll() is None, w.log.read_text()
        proxy = stack.enter_context(haproxy([r.url for r in replicas], tmp_path))

        admin = httpx.Client(base_url=proxy, headers=_headers(ADMIN_KEY), timeout=30)
        stack.callback(admin.close)
        made = admin.post(
            "/api/keys",
            json={"name": "limited", "scopes": ["compare"], "rate_per_min": LIMITED_RATE},
        )
        assert made.status_code == 201, made.text
        limited_key = made.json()["secret"]

        # Sticky sessions: a browser keeping HAProxy's cookie stays on one replica; clients
        # without cookies are spread over all of them.
        with httpx.Client(base_url=proxy) as browser:
            served = {browser.get("/healthz").headers["x-served-by"] for _ in range(6)}
            assert len(served) == 1 and browser.cookies.get("SERVERID") in served
        spread = {httpx.get(proxy + "/healthz").headers["x-served-by"] for _ in range(6)}
        assert len(spread) == 3

        tally = Tally()
        stop_at = time.monotonic() + LOAD_S
        load = [
            threading.Thread(target=_compare_and_vote, args=(proxy, stop_at, tally, n))
            for n in range(2)
        ]
        load.append(threading.Thread(target=_gateway, args=(proxy, stop_at, tally)))
        load.append(threading.Thread(target=_limited, args=(proxy, limited_key, stop_at, tally)))
        for t in load:
            t.start()

        time.sleep(LOAD_S * 0.4)
        victim = replicas[1]
        held = _held_job(db, victim.proc.pid, timeout_s=LOAD_S * 0.3)
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait(timeout=10)
        for t in load:
            t.join(timeout=LOAD_S + 60)
        assert held is not None, "the replica to kill never held a job"

        # Every job ends, the killed replica's too (after its lease), each once.
        deadline = time.monotonic() + 300  # the scoring backlog of a busy machine
        with db.connect() as conn:
            while True:
                states = dict(
                    conn.execute(sa.text("SELECT state, count(*) FROM jobs GROUP BY state")).all()
                )
                conn.rollback()
                if set(states) == {"done"} or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert set(states) == {"done"}, states
            taken = conn.execute(
                sa.text("SELECT claimed_by, attempts FROM jobs WHERE id = :id"), {"id": held}
            ).one()
            assert f":{victim.proc.pid}:" not in taken.claimed_by and taken.attempts >= 2
            twice = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM (SELECT answer_id, metric FROM scores "
                    "GROUP BY answer_id, metric HAVING count(*) > 1) AS d"
                )
            )
            assert twice == 0
            scored = conn.scalar(sa.text("SELECT count(DISTINCT answer_id) FROM scores"))
            assert scored and scored >= tally.turns * 2  # every compare answer, once

            # Every acknowledged vote is stored, once.
            stored = dict(
                conn.execute(
                    sa.text(
                        "SELECT idempotency_key, id FROM votes WHERE idempotency_key LIKE 'vote-%'"
                    )
                ).all()
            )
        assert tally.acked_votes and all(stored.get(k) == v for k, v in tally.acked_votes.items())
        assert len(stored) == len(set(stored.values()))

        # One limit for the key across the replicas: the bucket's 120, then 2 per second.
        span_s = tally.limited_last - tally.limited_first
        allowed = LIMITED_RATE + LIMITED_RATE / 60 * span_s
        assert tally.limited_refused > 0
        assert 0.9 * allowed <= tally.limited_ok <= 1.1 * allowed, (tally.limited_ok, allowed)

        # The leaderboard's kept counts are what a rebuild from the votes gives.
        board = admin.get("/api/leaderboard").json()
        kept = _cells(db)
        rebuilt = subprocess.run(
            [sys.executable, "-m", "service", "db", "rebuild-counts"],
            cwd=tmp_path,
            env={**os.environ, **env, "ARBITER_HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
        assert sorted(_cells(db), key=repr) == sorted(kept, key=repr)
        assert admin.get("/api/leaderboard").json() == board
        assert board["battles"] > 0

        # Redis counted for every replica all along.
        metrics = admin.get("/metrics").text
        assert "arbiter_limits_shared 1.0" in metrics
        assert "arbiter_limits_redis_failures_total 0.0" in metrics
        assert tally.turns > 0 and tally.gateway_ok > 0
