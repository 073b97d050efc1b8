"""Online Elo kept between requests, so that `?elo=true` costs what arrived since the last
one, not a replay of a million votes.

Elo depends on the order of the votes (oldest first, by created_at then id), and a vote can
leave or rejoin that history: a rater's later vote supersedes it, a reviewer rejects or
restores it. So the ratings are kept as checkpoints along the history (every
`CHECKPOINT_EVERY` battles), and each request replays from the last checkpoint before
anything that may have changed:
- votes that arrived since: the replay goes back `SETTLE` before the previous request,
  because a vote is stamped when its transaction starts and seen when it commits;
- a superseded, rejected or restored vote (`vote_rewrites`, since `SETTLE` before the
  previous request): from just before that vote.
The result equals a full replay as long as no vote commits more than `SETTLE` after its
timestamp (a vote's transaction lasts milliseconds; a batch's, a second or two).

Filters whose membership can change after the vote (rater: a vote's rater can be
reassigned; tag: tags are added later; campaign) are replayed in full on each request."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from evals.leaderboard import BattleLog, online_elo
from service.ids import as_utc, utcnow
from service.store import Filters, Store
from service.store import leaderboard as counts_in_store

SETTLE = timedelta(seconds=60)
CHECKPOINT_EVERY = counts_in_store.ELO_CHUNK
KEPT_FILTERS = 32  # replays kept per process, least recently used dropped

Key = tuple[datetime, str]  # a vote's place in the history: (created_at in UTC, id)


@dataclass(frozen=True)
class Checkpoint:
    after: Key | None  # the last battle counted; None: before the first
    battles: int
    ratings: dict[str, float]


@dataclass
class Replay:
    """One filter's history: checkpoints oldest first, the last one the newest state."""

    settle: timedelta = SETTLE
    every: int = CHECKPOINT_EVERY
    checkpoints: list[Checkpoint] = field(default_factory=lambda: [Checkpoint(None, 0, {})])
    checked_at: datetime | None = None  # when the last request began
    seen: dict[str, datetime] = field(default_factory=dict)  # rewrites already replayed
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def ratings(self, store: Store, filters: Filters) -> dict[str, float]:
        """The ratings now; the replay's state changes only once it has read everything."""
        now = utcnow()
        trusted, seen = self._trusted(store, now)
        kept = [c for c in self.checkpoints if c.after is None or c.after < trusted]
        base = kept[-1]
        since = None if base.after is None else base.after[0]
        ratings, battles, last = base.ratings, base.battles, base.after
        for rows in counts_in_store.battles_from(store, filters, since, chunk=self.every):
            if last is not None and as_utc(rows[0][3]) <= last[0]:
                rows = [r for r in rows if (as_utc(r[3]), r[4]) > last]
                if not rows:
                    continue
            log = BattleLog.from_battles(rows, counts_in_store.ELO_SCORES)
            ratings = online_elo(log, start=ratings)
            battles += len(rows)
            last = (as_utc(rows[-1][3]), rows[-1][4])
            kept = _thinned(kept, Checkpoint(last, battles, ratings), self.every)
        self.checkpoints, self.checked_at, self.seen = kept, now, seen
        return dict(ratings)

    def _trusted(self, store: Store, now: datetime) -> tuple[Key, dict[str, datetime]]:
        """Up to which key the checkpoints still hold (battles before it are as they
        counted them), and the rewrites seen, by id, with when they were first seen."""
        if self.checked_at is None:
            return (now, ""), {}  # no checkpoint but the empty start: nothing to trust
        since = self.checked_at - self.settle
        seen = {change: at for change, at in self.seen.items() if at >= since}
        trusted: Key = (since, "")
        for change, at, vote in counts_in_store.vote_rewrites(store, since):
            if change not in seen:
                seen[change] = now
                trusted = min(trusted, (at, vote))
        return trusted, seen


def _thinned(checkpoints: list[Checkpoint], new: Checkpoint, every: int) -> list[Checkpoint]:
    """The checkpoints with `new` added last: it replaces the newest one while that one is
    fewer than `every` battles past the one before, so a history of N battles keeps at
    most about 2N / every of them."""
    if len(checkpoints) >= 2 and new.battles - checkpoints[-2].battles < every:
        return [*checkpoints[:-1], new]
    return [*checkpoints, new]


class EloReplays:
    """The online Elo of one store, per filters, kept between requests in this process (each
    replica keeps its own; all give the same ratings)."""

    def __init__(
        self, store: Store, *, settle: timedelta = SETTLE, checkpoint_every: int = CHECKPOINT_EVERY
    ) -> None:
        self._store = store
        self._fresh = lambda: Replay(settle=settle, every=checkpoint_every)
        self._replays: OrderedDict[Filters, Replay] = OrderedDict()
        self._lock = threading.Lock()

    def ratings(self, filters: Filters = Filters()) -> dict[str, float]:
        if filters.rater is not None or filters.tag is not None or filters.campaign is not None:
            return self._fresh().ratings(self._store, filters)
        with self._lock:
            replay = self._replays.pop(filters, None) or self._fresh()
            self._replays[filters] = replay
            while len(self._replays) > KEPT_FILTERS:
                self._replays.popitem(last=False)
        with replay.lock:
            return replay.ratings(self._store, filters)
