"""Blind battles: which two variants face each other next, and what of a turn may be
shown before someone has voted on it."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from service.errors import ConfigError
from service.schemas import TurnOut


def choose_pair(
    names: Sequence[str],
    counts: Mapping[frozenset[str], int],
    *,
    last: frozenset[str] | None = None,
    rng: random.Random | None = None,
) -> tuple[str, str]:
    """Pick two variants for a battle, in random pane order.

    Pairs seen less often are more likely (weight 1 / (1 + battles so far)), so coverage
    evens out over time, and the pair just played is not repeated when another exists."""
    rng = rng or random.Random()
    if len(names) < 2:
        raise ConfigError(
            "a battle needs at least two variants",
            hint="Declare another variant in the variants file (two prompts on one model will do).",
        )
    pairs = [frozenset(p) for p in itertools.combinations(sorted(set(names)), 2)]
    if last is not None and len(pairs) > 1:
        pairs = [p for p in pairs if p != last]
    weights = [1.0 / (1 + counts.get(p, 0)) for p in pairs]
    a, b = sorted(rng.choices(pairs, weights=weights, k=1)[0])
    return (a, b) if rng.random() < 0.5 else (b, a)


class BattleCounts:
    """How many battles each pair has had, for `choose_pair`: read with `read` (the
    store's count, one row per arena conversation) at most every `max_age_s`, and the
    pairs drawn since counted here. Reading on every new round put that query between
    pressing Send and the first token, and it grows with every battle ever fought."""

    def __init__(
        self,
        read: Callable[[], Mapping[frozenset[str], int]],
        *,
        max_age_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read, self._max_age_s, self._clock = read, max_age_s, clock
        self._lock = threading.Lock()
        self._counts: dict[frozenset[str], int] = {}
        self._read_at: float | None = None

    def current(self) -> Mapping[frozenset[str], int]:
        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._max_age_s:
                self._counts, self._read_at = dict(self._read()), now
            return dict(self._counts)

    def drawn(self, pair: Sequence[str]) -> None:
        key = frozenset(pair)
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1


def blind(turn: TurnOut, viewer: str) -> TurnOut:
    """What `viewer` may see of a turn: an arena turn keeps its variants secret until this
    viewer's own vote is stored (`turn.vote` must be the viewer's: `get_turn(voter=...)`).
    Someone else's vote reveals nothing to them, and is not shown either."""
    if turn.mode != "arena" or (turn.vote is not None and turn.vote.rater == viewer):
        return turn
    return hide_variants(turn)


def hide_variants(turn: TurnOut) -> TurnOut:
    """The turn with its answers anonymous and no vote (a rater who has not voted on it)."""
    hidden = [
        a.model_copy(
            update={
                **blind_answer(a.model_dump()),
                **dict.fromkeys(_LEFT_OUT),
                "variant": _pane_label(a.pane),
            }
        )
        for a in turn.answers
    ]
    return turn.model_copy(update={"answers": hidden, "vote": None})


def _pane_label(pane: int) -> str:
    return f"model {'AB'[pane] if pane < 2 else pane}"


# What of an answer could tell the models of a blind battle apart: who it is, what it was
# given (whether a pane got context), what it cost (prices differ a thousandfold), how long it
# took, its scores, and provider error texts, which often name the model.
_LEFT_OUT = ("variant", "request", "context_refs", "citations")
_EMPTIED: dict[str, Any] = {
    "tokens_in": None,
    "tokens_out": None,
    "cost_usd": None,
    "ttft_ms": None,
    "latency_ms": None,
    "provider_latency_ms": None,
    "scores": [],
}


def blind_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer (as a dict) with nothing that identifies its model: the text, the pane,
    and whether and how it failed, in words that name no model."""
    out = {k: _EMPTIED.get(k, v) for k, v in answer.items() if k not in _LEFT_OUT}
    if answer.get("error_code"):
        out["error_message"] = blind_error(str(answer["error_code"]))
    return out


def blind_error(code: str) -> str:
    """A pane's failure, said without the provider's text (it may name the model)."""
    return _BLIND_ERRORS.get(code, f"this model failed ({code})") + _BLIND_HINT


_BLIND_ERRORS = {
    "timeout": "this model gave no complete answer in time",
    "cancelled": "stopped by the user",
    "throttled": "this model's provider is throttling requests",
    "circuit_open": "this model is failing and is held down for a while",
}
_BLIND_HINT = " — vote on what you see (both bad, or the other one), or start a new round."
