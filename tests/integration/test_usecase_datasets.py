"""Issue 21, item 5: which eval runs count toward a use case. One started for it does; one
started for no use case (as from the Evaluations page) does when its dataset file has the
same content as one of the use case's (SHA-256), for the use case's variants only; one on
another file does not. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from evals.datasets import load_dataset
from service.app.runtime import Runtime
from service.evaluation import usecases
from tests.support.usecase_data import ROWS, use_case


def test_an_evaluation_on_the_same_dataset_counts_toward_the_use_case(
    runtime: Runtime, tmp_path: Path
) -> None:
    data = use_case(runtime, tmp_path)
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps(ROWS[0]) + "\n")
    spec = usecases.get(runtime.store, "support")

    def answers() -> dict[str, int]:
        window = usecases.Window.last(spec.window_days)
        found = usecases.observations(runtime.store, spec, window)
        return {v: obs.count("answers") for v, obs in found.items()}

    assert answers() == {"alpha": 0, "beta": 0}
    # As the Evaluations page starts one: for no use case, on a file with different content.
    asyncio.run(runtime.evals.run(load_dataset(other), ["alpha", "beta"], ["token_f1"]))
    assert answers() == {"alpha": 0, "beta": 0}
    # The same file's content (a copy elsewhere): it counts, for the use case's variants only.
    copy = tmp_path / "copy" / "qa.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(data.read_bytes())
    asyncio.run(runtime.evals.run(load_dataset(copy), ["alpha", "gamma"], ["token_f1"]))
    assert answers() == {"alpha": 3, "beta": 0}
