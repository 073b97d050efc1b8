"""Run a fake provider in its own process (for benchmarks): prints its base URL, then serves.

python -m tests.fakes openai TOKENS   # OpenAI-compatible; model "m" streams TOKENS tokens
"""

from __future__ import annotations

import sys
import threading

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.script import Script


def main() -> None:
    kind, tokens = sys.argv[1], int(sys.argv[2])
    if kind != "openai":
        raise SystemExit(f"unknown fake {kind!r}")
    fake = FakeOpenAI()
    fake.models["m"] = Script(tokens=["tok"] * tokens)
    fake.start()
    print(fake.base_url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
