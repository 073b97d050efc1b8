"""Run a fake provider in its own process (for benchmarks): prints its base URL, then serves.

python -m tests.fakes openai TOKENS [FIRST_TOKEN_DELAY_S]   # model "m" streams TOKENS tokens
"""

from __future__ import annotations

import sys
import threading

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.script import Script


def main() -> None:
    kind, tokens = sys.argv[1], int(sys.argv[2])
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    if kind != "openai":
        raise SystemExit(f"unknown fake {kind!r}")
    fake = FakeOpenAI()
    fake.models["m"] = Script(tokens=["tok"] * tokens, first_token_delay_s=delay)
    fake.start()
    print(fake.base_url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
