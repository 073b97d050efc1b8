"""A finished turn whose answers are stored, written through the store's own functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from service.store import Store, turns


def answered_turn(
    store: Store,
    variants: Sequence[str],
    prompt: str = "哪个更好",
    *,
    each: Callable[[int, str], dict[str, Any]] | None = None,
    **options: Any,
) -> str:
    """The turn's id. `each(pane, variant)` gives an answer's fields beyond the defaults
    (text "answer <pane>", status ok); `options` go to the turn (mode, rater, use_case...)."""
    start = turns.start_turn(store, None, list(variants), prompt, **options)
    for pane, name in enumerate(variants):
        fields: dict[str, Any] = {"text": f"answer {pane}", "status": "ok"}
        fields.update(each(pane, name) if each else {})
        turns.save_answer(
            store,
            start.turn_id,
            pane=pane,
            variant_name=name,
            variant_spec={},
            request={},
            **fields,
        )
    turns.finish_turn(store, start.turn_id)
    return start.turn_id
