"""Load and faults on 127.0.0.1, bounded in count and time, against `arbiter serve` as a
separate process:

- a sustained rate of gateway requests for LOAD_SECONDS (60 by default) while the provider
  times out, answers 500 or throttles for part of them: every accepted request ends stored,
  with its answer or its error;
- kill -9 in the middle of votes and comparisons, then a restart on the same store: it is
  consistent, and every vote the server acknowledged is there;
- SIGTERM with a stream in flight: the stream finishes and is stored;
- a dead endpoint: the circuit opens (calls fail at once), then closes when it is back."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.script import Script
from tests.support.processes import arbiter_server

LOAD_SECONDS = float(os.environ.get("ARBITER_LOAD_SECONDS", "60"))
RATE = 8  # requests per second, open loop
SPLIT = {"ok": 70, "err": 10, "throttled": 10, "hangs": 10}


@pytest.fixture
def provider() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        fake.models["ok"] = Script(tokens=["All", " good", "."])  # type: ignore[attr-defined]
        fake.models["err"] = Script(failure="server_error")  # type: ignore[attr-defined]
        fake.models["throttled"] = Script(failure="throttle")  # type: ignore[attr-defined]
        fake.models["hangs"] = Script(failure="hang")  # type: ignore[attr-defined]
        yield fake  # type: ignore[misc]


def setup_home(home: Path, base_url: str) -> dict[str, str]:
    # A hanging provider times out after 1.5 s; the others have time for Arbiter's own
    # retries of throttling (with backoff and jitter) before the client hears 429.
    variants = "".join(
        f'[[variants]]\nname = "{name}"\ntimeout_s = {1.5 if name == "hangs" else 15}\n'
        f'[variants.model]\nprovider = "openai"\n'
        f'base_url = "{base_url}"\nmodel = "{name}"\nmax_attempts = 1\n'
        for name in SPLIT
    )
    (home / "arbiter.toml").write_text(variants)
    split = ", ".join(f'"{k}" = {v}' for k, v in SPLIT.items())
    (home / "deployments.toml").write_text(
        f'[[deployments]]\nname = "prod"\nsplit = {{ {split} }}\nsticky = "none"\n'
    )
    return {
        "ARBITER_DEPLOYMENTS_FILE": str(home / "deployments.toml"),
        "ARBITER_RAG_SAMPLE_CORPUS": "false",
        "ARBITER_ONLINE_METRICS": "",
        "ARBITER_EXAMPLE_USE_CASE": "false",
        "ARBITER_BREAKER_FAILURES": "1000000",  # here every fault must reach the provider
    }


def db(home: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{home / 'arbiter.db'}")


async def _load(url: str, seconds: float) -> dict[str, int]:
    """Open loop: request i starts at i/RATE s whatever the others do. Returns user -> HTTP
    status for every request that got an answer."""
    statuses: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(i: int) -> None:
            user = f"load-{i}"
            body = {
                "model": "prod",
                "messages": [{"role": "user", "content": f"q{i}"}],
                "user": user,
            }
            r = await client.post(f"{url}/v1/chat/completions", json=body)
            statuses[user] = r.status_code

        tasks = []
        start = time.perf_counter()
        for i in range(int(seconds * RATE)):
            delay = start + i / RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return statuses


def test_sustained_load_with_provider_faults_loses_nothing(
    provider: FakeOpenAI, tmp_path: Path
) -> None:
    env = setup_home(tmp_path, provider.base_url)  # type: ignore[attr-defined]
    with arbiter_server(tmp_path, env=env) as server:
        statuses = asyncio.run(_load(server.url, LOAD_SECONDS))
        # Turns are written in the background: wait until every accepted one is there.
        engine = db(tmp_path)
        deadline = time.monotonic() + 30
        while True:
            with engine.connect() as conn:
                stored = dict(
                    conn.execute(
                        sa.text(
                            "SELECT c.rater, a.status FROM conversations c "
                            "JOIN turns t ON t.conversation_id = c.id "
                            "JOIN answers a ON a.turn_id = t.id WHERE c.mode = 'gateway'"
                        )
                    ).all()
                )
            if len(stored) >= len(statuses) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        engine.dispose()
    assert len(statuses) == int(LOAD_SECONDS * RATE)  # every request was answered
    by_status = Counter(statuses.values())
    assert set(by_status) <= {200, 429, 502, 504}, by_status
    assert by_status[200] > 0 and by_status[429] > 0 and by_status[502] > 0
    assert by_status[504] > 0
    missing = sorted(set(statuses) - set(stored))
    assert missing == [], f"{len(missing)} accepted requests not stored: {missing[:5]}"
    outcome = {200: "ok", 429: "error", 502: "error", 504: "timeout"}
    wrong = [(u, s, stored[u]) for u, s in statuses.items() if outcome[s] != stored[u]]
    assert wrong == []


def test_kill_9_mid_load_keeps_every_acknowledged_vote(
    provider: FakeOpenAI, tmp_path: Path
) -> None:
    env = setup_home(tmp_path, provider.base_url)  # type: ignore[attr-defined]
    provider.models["slow"] = Script(tokens=["x"] * 50, token_delay_s=0.05)  # type: ignore[attr-defined]
    (tmp_path / "arbiter.toml").write_text(
        (tmp_path / "arbiter.toml").read_text()
        + f'[[variants]]\nname = "slow"\n[variants.model]\nprovider = "openai"\n'
        f'base_url = "{provider.base_url}"\nmodel = "slow"\n'  # type: ignore[attr-defined]
    )
    acknowledged: list[str] = []
    stop = threading.Event()
    with arbiter_server(tmp_path, env=env) as server:
        url = server.url
        turns = [
            httpx.post(
                f"{url}/api/compare", json={"prompt": f"p{i}", "variants": ["ok", "ok"]}, timeout=30
            ).json()["id"]
            for i in range(10)
        ]

        def voter(n: int) -> None:
            with httpx.Client(timeout=10) as client:
                i = 0
                while not stop.is_set():
                    key = f"v{n}-{i}"
                    try:
                        r = client.post(
                            f"{url}/api/turns/{turns[i % len(turns)]}/votes",
                            json={"outcome": "a", "on_behalf_of": key, "idempotency_key": key},
                        )
                    except httpx.TransportError:
                        return  # the server is gone
                    if r.status_code in (200, 201):
                        acknowledged.append(r.json()["id"])
                    i += 1

        def comparer() -> None:  # turns still running when the server dies
            with httpx.Client(timeout=30) as client:
                while not stop.is_set():
                    try:
                        client.post(
                            f"{url}/api/compare",
                            json={"prompt": "slow", "variants": ["slow", "ok"]},
                        )
                    except httpx.TransportError:
                        return

        threads = [threading.Thread(target=voter, args=(n,)) for n in range(4)]
        threads += [threading.Thread(target=comparer) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(3)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=15)
    assert len(acknowledged) > 50
    with arbiter_server(tmp_path, env=env) as server:  # restart on the same store
        assert httpx.get(f"{server.url}/api/turns").status_code == 200
        engine = db(tmp_path)
        with engine.connect() as conn:
            votes = set(conn.execute(sa.text("SELECT id FROM votes")).scalars())
            running = conn.execute(
                sa.text("SELECT count(*) FROM turns WHERE status = 'running'")
            ).scalar_one()
            interrupted = conn.execute(
                sa.text("SELECT count(*) FROM turns WHERE status = 'interrupted'")
            ).scalar_one()
            orphans = conn.execute(
                sa.text(
                    "SELECT count(*) FROM votes v LEFT JOIN turns t ON t.id = v.turn_id "
                    "WHERE t.id IS NULL"
                )
            ).scalar_one()
            integrity = conn.execute(sa.text("PRAGMA integrity_check")).scalar_one()
        engine.dispose()
    lost = set(acknowledged) - votes
    assert lost == set(), f"{len(lost)} acknowledged votes lost"
    assert running == 0 and interrupted >= 1  # the slow turns cut short are marked
    assert orphans == 0 and integrity == "ok"


def test_sigterm_lets_a_stream_in_flight_finish(provider: FakeOpenAI, tmp_path: Path) -> None:
    env = setup_home(tmp_path, provider.base_url)  # type: ignore[attr-defined]
    provider.models["ok"] = Script(tokens=["t"] * 30, token_delay_s=0.05)  # type: ignore[attr-defined]
    with arbiter_server(tmp_path, env=env) as server:
        chunks: list[str] = []
        with httpx.stream(
            "POST",
            f"{server.url}/v1/chat/completions",
            json={"model": "ok", "messages": [{"role": "user", "content": "hi"}], "stream": True},
            timeout=30,
        ) as r:
            for line in r.iter_lines():
                if not chunks:
                    server.proc.send_signal(signal.SIGTERM)  # mid-stream
                chunks.append(line)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert server.proc.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "Traceback" not in server.log.read_text()
    text = [c for c in chunks if c.startswith("data:")]
    assert text[-1] == "data: [DONE]" and sum('"content":"t"' in c for c in text) == 30
    engine = db(tmp_path)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT a.status, a.text FROM answers a JOIN turns t ON t.id = a.turn_id")
        ).all()
    engine.dispose()
    assert stored == [("ok", "t" * 30)]


def test_a_dead_endpoint_opens_the_circuit_then_recovers(
    provider: FakeOpenAI, tmp_path: Path
) -> None:
    env = setup_home(tmp_path, provider.base_url)  # type: ignore[attr-defined]
    env |= {"ARBITER_BREAKER_FAILURES": "3", "ARBITER_BREAKER_COOLDOWN_S": "1"}
    body = {"model": "err", "messages": [{"role": "user", "content": "hi"}]}
    with arbiter_server(tmp_path, env=env) as server, httpx.Client(timeout=30) as client:
        url = f"{server.url}/v1/chat/completions"
        calls = provider.models["err"].calls  # type: ignore[attr-defined]
        codes = [client.post(url, json=body).json()["error"]["code"] for _ in range(3)]
        assert codes == ["provider_error"] * 3
        assert provider.models["err"].calls == calls + 3  # type: ignore[attr-defined]
        held = client.post(url, json=body)
        assert held.status_code == 503 and held.json()["error"]["code"] == "circuit_open"
        assert int(held.headers["retry-after"]) >= 1
        assert provider.models["err"].calls == calls + 3  # failed at once, not called
        provider.models["err"].failure = "none"  # type: ignore[attr-defined]
        time.sleep(1.2)
        assert client.post(url, json=body).status_code == 200  # the trial call closes it
        assert client.post(url, json=body).status_code == 200
