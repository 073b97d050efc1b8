"""What a fake model says and how: the tokens, their timing, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Failure = Literal[
    "none",
    "throttle",  # HTTP 429 / ThrottlingException before any output
    "throttle_midstream",  # some tokens, then a throttling exception in the stream
    "access_denied",
    "expired_token",  # AWS: the session token expired
    "server_error",  # HTTP 500
    "hang",  # first token never comes
]


@dataclass
class Script:
    tokens: list[str] = field(default_factory=lambda: ["Hello", ",", " world", "!"])
    first_token_delay_s: float = 0.0
    token_delay_s: float = 0.0
    failure: Failure = "none"
    fail_times: int = 1_000_000  # fail this many calls, then behave (for retry tests)
    midstream_after: int = 2
    input_tokens: int = 11
    latency_ms: int = 42
    calls: int = 0

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    def should_fail(self) -> bool:
        """Called once per request; counts calls."""
        self.calls += 1
        return self.failure != "none" and self.calls <= self.fail_times
