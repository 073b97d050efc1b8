"""A turn's rubric ratings as History shows them: each rater's latest rating of each answer
(ratings are append-only; a later one corrects an earlier one), by pane, then rater."""

from service.schemas import LabelsIn, RatingIn
from service.store import Store, labels, turns
from service.store.tables import RatingRow


def _finished_turn(store: Store) -> str:
    start = turns.start_turn(store, None, ["v0", "v1"], "hi")
    for pane in (0, 1):
        turns.save_answer(
            store,
            start.turn_id,
            pane=pane,
            variant_name=f"v{pane}",
            variant_spec={},
            request={},
            text=f"answer {pane}",
            status="ok",
        )
    turns.finish_turn(store, start.turn_id)
    return start.turn_id


def _rate(store: Store, turn_id: str, rater: str, *ratings: RatingIn) -> None:
    labels.save_labels(store, turn_id, LabelsIn(ratings=list(ratings)), rater=rater)


def test_each_raters_latest_rating_of_each_answer(store: Store) -> None:
    turn_id = _finished_turn(store)
    other = _finished_turn(store)
    _rate(store, turn_id, "zoe", RatingIn(pane=1, helpfulness=1))
    _rate(store, turn_id, "ann", RatingIn(pane=0, helpfulness=2), RatingIn(pane=1, honesty=3))
    _rate(store, turn_id, "ann", RatingIn(pane=0, helpfulness=5, harmlessness=4))  # corrects
    _rate(store, other, "ann", RatingIn(pane=0, helpfulness=1))  # another turn's
    assert store.count(RatingRow) == 5  # nothing overwritten
    shown = labels.turn_ratings(store, turn_id)
    assert [(r.pane, r.rater, r.helpfulness, r.honesty, r.harmlessness) for r in shown] == [
        (0, "ann", 5, None, 4),
        (1, "ann", None, 3, None),
        (1, "zoe", 1, None, None),
    ]
    assert labels.turn_ratings(store, _finished_turn(store)) == []
