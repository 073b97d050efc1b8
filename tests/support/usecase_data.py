"""A small use case over the scripted variants alpha and beta, with one dataset file."""

from __future__ import annotations

import json
from pathlib import Path

from service.app.runtime import Runtime
from service.evaluation import usecases

ROWS = [
    {"prompt": "Capital of France?", "reference": "Paris is the capital."},
    {"prompt": "Where is the Eiffel tower?", "reference": "It is in Paris."},
    {"prompt": "Say hello in French.", "reference": "Bonjour!"},
]


def use_case(runtime: Runtime, tmp_path: Path, name: str = "support") -> Path:
    """A use case over alpha and beta with one small dataset file; returns the file."""
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    spec = usecases.spec_from_data(
        {
            "name": name,
            "variants": ["alpha", "beta"],
            "baseline": "beta",
            "datasets": [str(data)],
            "metrics": ["token_f1"],
            "targets": ["token_f1 >= 0.01", "error_rate <= 0.5"],
            "min_samples": 2,
            "window_days": 7,
        }
    )
    usecases.apply(runtime.store, runtime.catalog, spec)
    return data
