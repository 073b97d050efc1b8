"""A circuit breaker per model endpoint: after `failures` calls in a row fail because the
endpoint is down (unreachable, server errors, timeouts), calls fail at once for
`cooldown_s` instead of each waiting for its own timeout; then one trial call is let
through, and its success closes the circuit again. Throttling and refusals (bad
credentials, unknown model) say nothing about the endpoint being down and do not count.

Hand-written (about forty lines) rather than a library: the breakers on PyPI (pybreaker,
aiobreaker) wrap a callable, while a streamed call must report its outcome when the stream
ends, and state here is per endpoint key."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from service.errors import CircuitOpen
from service.models.variants import Variant

DOWN = frozenset({"provider_unreachable", "provider_error", "timeout"})


def endpoint_key(variant: Variant) -> str:
    m = variant.model
    where = getattr(m, "base_url", None) or getattr(m, "endpoint_url", None) or ""
    region = getattr(m, "region", None) or ""
    return f"{variant.provider}|{where}|{region}|{variant.model_label}"


@dataclass
class _State:
    failures: int = 0
    opened_at: float | None = None
    trial: bool = False  # one call is testing the endpoint after the cool-down


class Breakers:
    def __init__(self, failures: int = 5, cooldown_s: float = 30.0) -> None:
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()

    def before(self, variant: Variant) -> None:
        """Raise `ProviderUnreachable` (code circuit_open) while the endpoint is held down."""
        if variant.provider == "local":
            return
        key = endpoint_key(variant)
        with self._lock:
            state = self._states.get(key)
            if state is None or state.opened_at is None:
                return
            waited = time.monotonic() - state.opened_at
            if waited >= self.cooldown_s and not state.trial:
                state.trial = True  # this call tests the endpoint
                return
        left = max(0.0, self.cooldown_s - waited)
        raise CircuitOpen(
            f"{variant.model_label} failed {self.threshold} times in a row; not calling it "
            f"for {left:.0f} s more",
            retry_after_s=left,
            hint="Arbiter tries it again after the cool-down; check the endpoint meanwhile.",
        )

    def after(self, variant: Variant, error_code: str | None) -> None:
        """Report how a call ended: None for success, else its error code."""
        if variant.provider == "local":
            return
        key = endpoint_key(variant)
        with self._lock:
            state = self._states.setdefault(key, _State())
            if error_code is None:
                self._states[key] = _State()
            elif error_code in DOWN:
                state.failures += 1
                if state.trial or state.failures >= self.threshold:
                    state.opened_at, state.trial = time.monotonic(), False
            elif state.trial:
                state.trial = False  # refused for another reason: the endpoint answered

    def is_open(self, variant: Variant) -> bool:
        with self._lock:
            state = self._states.get(endpoint_key(variant))
            return state is not None and state.opened_at is not None
