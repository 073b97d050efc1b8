"""Scale: every read path through HTTP, on a store filled with 10k, 100k and 1M synthetic
arena turns (two answers and one vote each; some rankings, ratings, changed and rejected
votes, scores, thumbs, tags, a use case and a campaign: tests/support/synthetic_arena.py),
on SQLite and on PostgreSQL. `arbiter serve` runs in its own process on the filled store
and each endpoint is called as a user calls it: the leaderboard, the leaderboard after one
more vote (POST, then GET), the quality view, the dashboard for 24 h and 7 days (the
page's own Gradio event), History's first page, use-case and campaign status, the export
dry run and the full trl-preference export with the server's peak RSS growth. Printed per
store: each time at each size, its growth from 100k to 1M, and the leaderboard endpoint ÷
the in-memory fit (`evals.leaderboard.build`, BT + 200 bootstrap rounds) of the same counts
in this process.

    python -m bench scale                               # 10k, 100k and 1M, both stores
    python -m bench scale --sizes=10k,100k --stores=sqlite
    BENCH_SCALE_SIZES=10k python -m bench scale         # the same through the environment

Fills: SQLAlchemy Core executemany on SQLite, COPY through psycopg on PostgreSQL. The
server is killed if its RSS passes BENCH_SCALE_RSS_CAP_MB (default 4096): the machine is
shared, and a read path that loads everything would otherwise take it down; what was not
measured says so. Goals (issue 18, at 1M votes): leaderboard ≤ 0.25 s and ≤ 50 ms more after
a vote, export dry run ≤ 2 s, full export ≤ 60 s with ≤ 300 MB RSS growth, dashboard ≤
0.5 s, History first page ≤ 50 ms, use-case status ≤ 1 s."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench._report import header, line, scratch_postgres, verdict
from evals.leaderboard import PairCounts, build
from service.store import Store
from tests.support.page_api import PageSession
from tests.support.processes import ServerProcess, arbiter_server
from tests.support.synthetic_arena import (
    ArenaFill,
    ArenaShape,
    fill_arena,
    rebuild_maintained_aggregates,
)

SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
STORES = ("sqlite", "postgres")
PG_DB = f"arbiter_bench_scale_{os.getpid()}"  # the machine may be shared
RSS_CAP_MB = float(os.environ.get("BENCH_SCALE_RSS_CAP_MB", "4096"))
REQUEST_TIMEOUT_S = 3600.0
REPEAT_BELOW_S = 2.0  # calls faster than this are repeated twice more (median of three)
USE_CASE_TARGETS = [
    "win_rate >= 0.5",
    "p90_latency_s <= 5",
    "error_rate <= 0.05",
    "cost_per_1k_requests_usd <= 3",
]
DASHBOARD_WINDOWS = {"dashboard 24 h": "last 24 hours", "dashboard 7 d": "last 7 days"}
# Row labels in print order; the goal (seconds) each is held to at the largest size.
ENDPOINTS: dict[str, float | None] = {
    "leaderboard": 0.25,
    "leaderboard after one more vote": 0.25 + 0.05,
    # The goal's "whole leaderboard" names Elo too. The server keeps online Elo between
    # requests: the first replays every vote (no goal: once per process and filter).
    "leaderboard with online Elo, first request": None,
    "leaderboard with online Elo": 0.25,
    "leaderboard with online Elo after one more vote": 0.25 + 0.05,
    "quality view": None,
    "dashboard 24 h": 0.5,
    "dashboard 7 d": 0.5,
    "History first page (everyone)": 0.05,
    "History first page (one rater)": 0.05,
    "use-case status": 1.0,
    "campaign status": None,
    "export dry run": 2.0,
    "full trl-preference export": 60.0,
}
EXPORT = "full trl-preference export"
ELO_FIRST = "leaderboard with online Elo, first request"


@dataclass
class Measure:
    seconds: float | None = None
    note: str = ""  # why there is no time, or what was checked
    rss_growth_mb: float | None = None  # the server's peak RSS during the calls, over before

    def cell(self) -> str:
        if self.seconds is None:
            return self.note or "-"
        return f"{self.seconds:.3f} s" + (" *" if self.note else "")


@dataclass
class Run:
    """One store at one size."""

    store: str
    size: str
    turns: int
    rows: int = 0
    fill_s: float = 0.0
    rebuild_s: float = 0.0
    fit_s: float = 0.0
    measures: dict[str, Measure] = field(default_factory=dict)
    export_records: int | None = None
    load: tuple[float, float] = (0.0, 0.0)  # the machine's 1-minute load average, before and after
    notes: list[str] = field(default_factory=list)


# -- the server's memory ------------------------------------------------------------------


def _status_kb(pid: int, key: str) -> float | None:
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith(key + ":"):
                return float(row.split()[1])
    except OSError:
        return None
    return None


class RssWatch:
    """Watches the server's resident memory while a call runs: the base before, the peak
    during (VmHWM, reset first through /proc/<pid>/clear_refs, plus polling), and kills the
    server past the cap."""

    def __init__(self, server: ServerProcess, cap_mb: float) -> None:
        self.server, self.cap_kb = server, cap_mb * 1024
        self.killed = False
        self.base_kb = 0.0
        self.peak_kb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        pid = self.server.proc.pid
        while not self._stop.wait(0.1):
            rss = _status_kb(pid, "VmRSS")
            if rss is None:
                return
            self.peak_kb = max(self.peak_kb, rss)
            if rss > self.cap_kb and self.server.proc.poll() is None:
                self.killed = True
                self.server.proc.kill()
                return

    def __enter__(self) -> RssWatch:
        pid = self.server.proc.pid
        with contextlib.suppress(OSError):  # "5" resets the peak (VmHWM) to the current RSS
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        self.base_kb = _status_kb(pid, "VmRSS") or 0.0
        self.peak_kb = self.base_kb
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        hwm = _status_kb(self.server.proc.pid, "VmHWM")
        if hwm is not None:
            self.peak_kb = max(self.peak_kb, hwm)

    @property
    def growth_mb(self) -> float:
        return (self.peak_kb - self.base_kb) / 1024


# -- calling the server -------------------------------------------------------------------


class Caller:
    def __init__(self, server: ServerProcess, fill: ArenaFill, run: Run) -> None:
        self.server, self.fill, self.run = server, fill, run
        self.http = httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S)
        self._page: PageSession | None = None

    def close(self) -> None:
        self.http.close()
        if self._page is not None:
            self._page.close()

    @property
    def alive(self) -> bool:
        return self.server.proc.poll() is None

    def timed(self, name: str, call: Callable[[], str], *, repeat: bool = True) -> None:
        """Time `call` (it raises `Failed` on a bad answer, or returns a note); a fast call
        is repeated and the median kept. Printed as it is measured."""
        measure = self._measure(call, repeat)
        self.run.measures[name] = measure
        rss = "" if measure.rss_growth_mb is None else f", RSS +{measure.rss_growth_mb:,.0f} MB"
        line(f"{self.run.store} {self.run.size}: {name}", f"{measure.cell()}{rss} {measure.note}")

    def _measure(self, call: Callable[[], str], repeat: bool) -> Measure:
        if not self.alive:
            return Measure(note="server killed earlier")
        times: list[float] = []
        note = ""
        with RssWatch(self.server, RSS_CAP_MB) as watch:
            try:
                while True:
                    started = time.perf_counter()
                    note = call()
                    times.append(time.perf_counter() - started)
                    if not repeat or len(times) == 3 or times[0] >= REPEAT_BELOW_S:
                        break
            except Failed as exc:
                return Measure(note=str(exc))
            except httpx.TransportError as exc:
                return Measure(
                    note=f"killed: RSS > {RSS_CAP_MB:.0f} MB" if watch.killed else str(exc)
                )
        if watch.killed:
            return Measure(note=f"killed: RSS > {RSS_CAP_MB:.0f} MB")
        return Measure(statistics.median(times), note, watch.growth_mb)

    def get_json(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params)
        if r.status_code != 200:
            raise Failed(_failure(r))
        return r.json()

    def dashboard(self, window: str) -> str:
        if self._page is None:
            self._page = PageSession(self.server.url)
            self._page.http.timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
        dep = self._page.dependency(api_name="dashboard")
        result = self._page.call(dep, [window, "(all traffic)"])
        if result.error is not None or len(result.output) != 10:
            raise Failed(f"dashboard failed: {(result.error or result.text())[:80]}")
        return ""

    def export(self) -> str:
        records = 0
        with self.http.stream("GET", "/api/exports/trl-preference") as r:
            if r.status_code != 200:
                r.read()
                raise Failed(_failure(r))
            for chunk in r.iter_bytes():
                records += chunk.count(b"\n")
        self.run.export_records = records
        return ""


class Failed(Exception):
    """An endpoint answered, but not with what was asked."""


def _raise(message: str) -> str:
    raise Failed(message)


def _failure(r: httpx.Response) -> str:
    try:
        error = r.json()["error"]
        return f"HTTP {r.status_code} {error['code']}: {error['message'][:70]}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {r.status_code}: {r.text[:70]}"


def _measure(caller: Caller, fill: ArenaFill, run: Run) -> None:
    shape = fill.shape
    caller.dashboard("last hour")  # the page's first event pays Gradio's warm-up, not a window

    def leaderboard(expected: int) -> Callable[[], str]:
        def call() -> str:
            battles = caller.get_json("/api/leaderboard")["battles"]
            return "" if battles == expected else f"battles {battles:,} ≠ {expected:,} filled"

        return call

    caller.timed("leaderboard", leaderboard(fill.battles))

    def one_more_vote(name: str, call: Callable[[], str]) -> None:
        """Time `call` once after one more vote; a reviewer then rejects that vote, so what
        follows reads exactly what was filled."""
        vote = caller.http.post(
            f"/api/turns/{fill.arena_turn_ids[0]}/votes",
            json={"outcome": "a", "on_behalf_of": f"bench-scale-{time.time_ns()}"},
        )
        if vote.status_code != 201:
            caller.timed(name, lambda: _raise(_failure(vote)))
            return
        caller.timed(name, call, repeat=False)
        rejected = caller.http.post(
            "/api/reviews",
            json={"label_kind": "vote", "label_id": vote.json()["id"], "status": "rejected"},
        )
        if rejected.status_code != 201:
            run.notes.append(f"the extra vote was not rejected: {_failure(rejected)}")

    def with_elo(expected: int) -> Callable[[], str]:
        def call() -> str:
            board = caller.get_json("/api/leaderboard", elo="true")
            if any(r["elo"] is None for r in board["rows"]):
                return "a row without Elo"
            battles = board["battles"]
            return "" if battles == expected else f"battles {battles:,} ≠ {expected:,} filled"

        return call

    one_more_vote("leaderboard after one more vote", leaderboard(fill.battles + 1))
    # Online Elo is kept by the server between requests: its first request replays every
    # live vote, the next ones only what arrived or changed since.
    caller.timed(ELO_FIRST, with_elo(fill.battles), repeat=False)
    caller.timed("leaderboard with online Elo", with_elo(fill.battles))
    one_more_vote("leaderboard with online Elo after one more vote", with_elo(fill.battles + 1))
    caller.timed("quality view", lambda: (caller.get_json("/api/leaderboard/quality"), "")[1])
    for name, window in DASHBOARD_WINDOWS.items():
        caller.timed(name, lambda w=window: caller.dashboard(w))  # type: ignore[misc]
    caller.timed(
        "History first page (everyone)",
        lambda: (caller.get_json("/api/turns", limit=50), "")[1],
    )
    caller.timed(
        "History first page (one rater)",
        lambda: (caller.get_json("/api/turns", limit=50, rater="rater-1"), "")[1],
    )
    caller.timed(
        "use-case status",
        lambda: (caller.get_json(f"/api/usecases/{shape.use_case}/status"), "")[1],
    )
    caller.timed(
        "campaign status",
        lambda: (caller.get_json(f"/api/campaigns/{shape.campaign}"), "")[1],
    )

    def dry_run() -> str:
        summary = caller.get_json("/api/exports/trl-preference", dry_run="true")
        records = summary["records"]
        expected = fill.preference_pairs()
        if "duplicates" in summary.get("not_counted", []):  # the SQL count keeps repeats
            expected += fill.repeats
        return "" if records == expected else f"records {records:,} ≠ {expected:,} expected"

    caller.timed("export dry run", dry_run)
    caller.timed(EXPORT, caller.export, repeat=False)


# -- one store at one size ------------------------------------------------------------------


@contextmanager
def _database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'arbiter.db'}"
    else:
        with scratch_postgres(PG_DB) as url:
            yield url


def _variants_toml(names: tuple[str, ...]) -> str:
    # Never called: the reads need the variants configured (a use case names them), not
    # reachable.
    return "".join(
        f'[[variants]]\nname = "{n}"\n[variants.model]\nprovider = "openai"\n'
        f'base_url = "http://127.0.0.1:9/v1"\nmodel = "{n}"\n'
        for n in names
    )


def run_one(kind: str, size: str) -> Run:
    shape = ArenaShape(turns=SIZES[size], campaign_items=min(10_000, SIZES[size] // 10))
    run = Run(kind, size, shape.turns)
    with (
        tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp,
        _database(kind, Path(tmp)) as url,
    ):
        store = Store(url)
        store.upgrade()
        started = time.perf_counter()
        fill = fill_arena(store, shape)
        run.fill_s = time.perf_counter() - started
        run.rows = sum(fill.rows.values())
        started = time.perf_counter()
        rebuild_maintained_aggregates(store)
        run.rebuild_s = time.perf_counter() - started
        store.dispose()
        line(
            f"{kind} {size}: filled",
            f"{run.rows:,} rows in {run.fill_s:.1f} s ({run.rows / run.fill_s:,.0f} rows/s), "
            f"{fill.votes:,} votes, {fill.battles:,} battles",
        )
        counts = PairCounts.from_cells({k: (v[0], v[1], v[2]) for k, v in fill.cells.items()})
        fits = []
        for _ in range(3):
            started = time.perf_counter()
            build(counts, rounds=200)
            fits.append(time.perf_counter() - started)
        run.fit_s = statistics.median(fits)

        home = Path(tmp, "home")
        home.mkdir()
        (home / "arbiter.toml").write_text(_variants_toml(shape.variants))
        env = {
            "ARBITER_DATABASE_URL": url,
            "ARBITER_RAG_SAMPLE_CORPUS": "false",
            "ARBITER_ONLINE_METRICS": "",
            "ARBITER_EXAMPLE_USE_CASE": "false",
        }
        load_before = os.getloadavg()[0]
        with arbiter_server(home, env=env, timeout_s=300) as server:
            caller = Caller(server, fill, run)
            try:
                applied = caller.http.put(
                    f"/api/usecases/{shape.use_case}",
                    json={
                        "variants": list(shape.variants[:4]),
                        "baseline": shape.variants[0],
                        "targets": USE_CASE_TARGETS,
                        "window_days": 7,
                    },
                )
                if applied.status_code != 200:
                    run.notes.append(f"use case not applied: {_failure(applied)}")
                _measure(caller, fill, run)
            finally:
                caller.close()
        run.load = (load_before, os.getloadavg()[0])
    return run


# -- the printout ---------------------------------------------------------------------------


def _growth(runs: dict[str, Run], name: str) -> str:
    small, big = runs.get("100k"), runs.get("1m")
    if small is None or big is None:
        return "-"
    a, b = small.measures.get(name), big.measures.get(name)
    if a is None or b is None or a.seconds is None or b.seconds is None or a.seconds == 0:
        return "-"
    return f"x{b.seconds / a.seconds:.1f}"


def _rss(run: Run, name: str) -> str:
    growth = run.measures.get(name, Measure()).rss_growth_mb
    return "-" if growth is None else f"{growth:,.0f} MB"


def print_table(kind: str, runs: dict[str, Run]) -> None:
    sizes = [s for s in SIZES if s in runs]
    header(f"Scale on {kind}: seconds per call through HTTP (median of 3 when < 2 s)")
    width = 24
    print(f"  {'':<48}" + "".join(f"{s:>{width}}" for s in sizes) + f"{'100k→1M':>10}")

    def row(label: str, cells: list[str], growth: str = "") -> None:
        print(
            f"  {label:<48}"
            + "".join(f"{c[: width - 1]:>{width}}" for c in cells)
            + f"{growth:>10}"
        )

    row("votes (rows in the store)", [f"{runs[s].turns:,} ({runs[s].rows:,})" for s in sizes])
    row("fill", [f"{runs[s].fill_s:.1f} s, {runs[s].rows / runs[s].fill_s:,.0f}/s" for s in sizes])
    row("count rebuild hook", [f"{runs[s].rebuild_s:.3f} s" for s in sizes])
    for name in ENDPOINTS:
        row(
            name, [runs[s].measures.get(name, Measure()).cell() for s in sizes], _growth(runs, name)
        )
    row("  export records", [f"{runs[s].export_records or 0:,}" for s in sizes])
    row("  export peak RSS growth", [_rss(runs[s], EXPORT) for s in sizes])
    row("in-memory fit (BT + 200 CIs)", [f"{runs[s].fit_s:.3f} s" for s in sizes])

    def ratio(r: Run) -> str:
        lb = r.measures.get("leaderboard", Measure()).seconds
        return "-" if lb is None or not r.fit_s else f"x{lb / r.fit_s:.1f}"

    row("leaderboard ÷ in-memory fit", [ratio(runs[s]) for s in sizes])
    row(
        "load average (2 cores) before/after",
        [f"{runs[s].load[0]:.1f} / {runs[s].load[1]:.1f}" for s in sizes],
    )
    for s in sizes:
        for name, m in runs[s].measures.items():
            if m.note:
                print(f"  {'*' if m.seconds is not None else '!'} {s} {name}: {m.note}")
        for note in runs[s].notes:
            print(f"  note {s}: {note}")
    largest = runs[sizes[-1]]
    for name, goal in ENDPOINTS.items():
        m = largest.measures.get(name, Measure())
        if goal is None:
            continue
        ok = m.seconds is not None and m.seconds <= goal and not m.note
        verdict(ok, f"{name} ≤ {goal:g} s at {sizes[-1]} on {kind}")
    growth = largest.measures.get(EXPORT, Measure()).rss_growth_mb
    verdict(
        growth is not None and growth <= 300,
        f"full export RSS growth ≤ 300 MB at {sizes[-1]} on {kind}",
    )


def _choice(value: str, allowed: dict[str, int] | tuple[str, ...], what: str) -> list[str]:
    chosen = [v.strip().lower() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in allowed]
    if unknown or not chosen:
        raise SystemExit(f"unknown {what} {unknown or value!r}: use some of {', '.join(allowed)}")
    return chosen


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench scale", add_help=False)
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SCALE_SIZES", "10k,100k,1m"))
    parser.add_argument("--stores", default=os.environ.get("BENCH_SCALE_STORES", "sqlite,postgres"))
    parser.add_argument("--json", default=os.environ.get("BENCH_SCALE_JSON"))
    args, _ = parser.parse_known_args(sys.argv[1:])
    sizes = _choice(args.sizes, SIZES, "size")
    stores = _choice(args.stores, STORES, "store")
    header(f"Scale: read paths over HTTP at {', '.join(sizes)} votes on {', '.join(stores)}")
    results: dict[str, dict[str, Run]] = {}
    for kind in stores:
        for size in sorted(sizes, key=lambda s: SIZES[s]):
            results.setdefault(kind, {})[size] = run_one(kind, size)
            if args.json:  # after each run: a long run stopped half-way keeps what it measured
                Path(args.json).write_text(
                    json.dumps(_plain(results), indent=2, ensure_ascii=False)
                )
        print_table(kind, results[kind])
    return _plain(results)


def _plain(results: dict[str, dict[str, Run]]) -> dict[str, Any]:
    return {
        kind: {
            size: {
                "turns": r.turns,
                "rows": r.rows,
                "fill_s": r.fill_s,
                "rebuild_s": r.rebuild_s,
                "fit_s": r.fit_s,
                "export_records": r.export_records,
                "load_average": r.load,
                "notes": r.notes,
                "measures": {
                    k: {"s": m.seconds, "note": m.note, "rss_growth_mb": m.rss_growth_mb}
                    for k, m in r.measures.items()
                },
            }
            for size, r in runs.items()
        }
        for kind, runs in results.items()
    }


if __name__ == "__main__":
    main()
