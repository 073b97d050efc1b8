"""The store against SQLite and PostgreSQL: migrations, turns, append-only votes."""

import pytest
import sqlalchemy as sa

from service.errors import Conflict, InvalidRequest, NotFound, StoreUnavailable
from service.schemas import VoteIn
from service.store import Store
from service.store.tables import VoteRow


def _finished_turn(store: Store, panes: int = 2) -> str:
    start = store.start_turn(None, [f"v{i}" for i in range(panes)], "hi")
    for pane in range(panes):
        store.save_answer(
            start.turn_id,
            pane=pane,
            variant_name=f"v{pane}",
            variant_spec={},
            request={},
            text=f"answer {pane}",
            status="ok",
        )
    store.finish_turn(start.turn_id)
    return start.turn_id


def test_migrations_create_every_table_from_empty(store: Store) -> None:
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"variants", "conversations", "turns", "answers", "votes", "alembic_version"} <= names
    store.upgrade()  # idempotent


def test_turn_round_trip_keeps_answers_in_pane_order(store: Store) -> None:
    turn_id = _finished_turn(store, panes=3)
    turn = store.get_turn(turn_id)
    assert [a.pane for a in turn.answers] == [0, 1, 2]
    assert turn.answers[2].text == "answer 2"
    assert turn.status == "done"


def test_changed_vote_is_a_new_row_that_supersedes(store: Store) -> None:
    turn_id = _finished_turn(store)
    first = store.cast_vote(turn_id, VoteIn(outcome="a", rater="ann"))
    second = store.cast_vote(turn_id, VoteIn(outcome="b", rater="ann"))
    other = store.cast_vote(turn_id, VoteIn(outcome="tie", rater="bob"))
    assert second.supersedes_id == first.id
    assert other.supersedes_id is None
    history = store.vote_history(turn_id)
    assert [v.outcome for v in history] == ["a", "b", "tie"]
    assert store.count(VoteRow) == 3


def test_idempotency_key_stores_one_vote(store: Store) -> None:
    turn_id = _finished_turn(store)
    a = store.cast_vote(turn_id, VoteIn(outcome="a", idempotency_key="k1"))
    b = store.cast_vote(turn_id, VoteIn(outcome="a", idempotency_key="k1"))
    assert a.id == b.id
    assert store.count(VoteRow) == 1


def test_vote_rules(store: Store) -> None:
    start = store.start_turn(None, ["x", "y", "z"], "q")
    with pytest.raises(Conflict) as exc:
        store.cast_vote(start.turn_id, VoteIn(outcome="a"))
    assert exc.value.code == "turn_not_finished"
    turn_id = _finished_turn(store, panes=3)
    with pytest.raises(InvalidRequest, match="exactly once"):
        store.cast_vote(turn_id, VoteIn(outcome="ranking", ranking=[0, 0, 1]))
    vote = store.cast_vote(turn_id, VoteIn(outcome="ranking", ranking=[2, 0, 1]))
    assert vote.ranking == [2, 0, 1]
    with pytest.raises(NotFound):
        store.cast_vote("nope", VoteIn(outcome="a"))


def test_multi_turn_history_is_per_pane(store: Store) -> None:
    first = store.start_turn(None, ["x", "y"], "q1")
    for pane in (0, 1):
        store.save_answer(
            first.turn_id,
            pane=pane,
            variant_name="xy"[pane],
            variant_spec={},
            request={},
            text=f"a1-{pane}",
            status="ok",
        )
    store.finish_turn(first.turn_id)
    second = store.start_turn(first.conversation_id, ["x", "y"], "q2")
    assert second.position == 1
    assert [m.content for m in second.history[1]] == ["q1", "a1-1"]
    with pytest.raises(Conflict, match="still running"):
        store.start_turn(first.conversation_id, ["x", "y"], "q3")
    store.finish_turn(second.turn_id)
    with pytest.raises(Conflict, match="compares"):
        store.start_turn(first.conversation_id, ["y", "x"], "q3")


def test_recover_marks_crashed_turns_and_keeps_answers(store: Store) -> None:
    start = store.start_turn(None, ["x", "y"], "q")
    store.save_answer(
        start.turn_id,
        pane=0,
        variant_name="x",
        variant_spec={},
        request={},
        text="kept",
        status="ok",
    )
    assert store.recover_interrupted() == 1
    turn = store.get_turn(start.turn_id)
    assert turn.status == "interrupted"
    assert turn.answers[0].text == "kept"


def test_unreachable_database_gives_clear_error() -> None:
    store = Store("postgresql://postgres@127.0.0.1:1/nothing")
    with pytest.raises(StoreUnavailable) as exc:
        store.upgrade()
    assert "cannot reach the database" in exc.value.message
    assert "ARBITER_DATABASE_URL" in exc.value.hint


def test_labels_are_stored_with_their_turn_and_answers(store: Store) -> None:
    from service.schemas import LabelsIn, RatingIn
    from service.store.tables import CommentRow, IdealAnswerRow, RatingRow

    turn_id = _finished_turn(store)
    out = store.save_labels(
        turn_id,
        LabelsIn(
            rater="ann",
            ratings=[
                RatingIn(pane=0, helpfulness=5, honesty=4),
                RatingIn(pane=1),
            ],  # pane 1: nothing rated
            comment="A is clearer",
            ideal_answer="answer 0, but shorter",
            ideal_based_on_pane=0,
        ),
    )
    assert out.ratings == 1 and out.comment_id and out.ideal_answer_id
    assert (store.count(RatingRow), store.count(CommentRow), store.count(IdealAnswerRow)) == (
        1,
        1,
        1,
    )
    with store.session() as s:
        rating = s.scalars(sa.select(RatingRow)).one()
        ideal = s.scalars(sa.select(IdealAnswerRow)).one()
        assert (rating.helpfulness, rating.honesty, rating.harmlessness) == (5, 4, None)
        assert rating.answer_id == store.get_turn(turn_id).answers[0].id
        assert ideal.based_on_answer_id == rating.answer_id
    with pytest.raises(InvalidRequest, match="no pane 3"):
        store.save_labels(turn_id, LabelsIn(ratings=[RatingIn(pane=3, honesty=1)]))
    assert store.count(RatingRow) == 1  # the refused call stored nothing


def test_regenerate_replaces_the_last_turn_but_keeps_it(store: Store) -> None:
    first = store.start_turn(None, ["x", "y"], "q1")
    for pane in (0, 1):
        store.save_answer(
            first.turn_id,
            pane=pane,
            variant_name="xy"[pane],
            variant_spec={},
            request={},
            text=f"old-{pane}",
            status="ok",
        )
    store.finish_turn(first.turn_id)
    store.cast_vote(first.turn_id, VoteIn(outcome="a", rater="ann"))
    again = store.start_turn(first.conversation_id, ["x", "y"], "q1", regenerate=True)
    assert again.history == [[], []]  # the replaced turn is not history
    assert store.get_turn(first.turn_id).status == "replaced"
    assert store.get_turn(first.turn_id).vote is not None  # its vote is kept
    with pytest.raises(InvalidRequest):
        store.start_turn(None, ["x", "y"], "q1", regenerate=True)


def test_history_search_by_rater_and_text(store: Store) -> None:
    mine = store.start_turn(None, ["x", "y"], "How do tides work?", rater="ann", mode="arena")
    store.save_answer(
        mine.turn_id,
        pane=0,
        variant_name="x",
        variant_spec={},
        request={},
        text="The Moon pulls",
        status="ok",
    )
    store.finish_turn(mine.turn_id)
    other = store.start_turn(None, ["x", "y"], "Tides?", rater="bob")
    store.finish_turn(other.turn_id)
    assert [t.id for t in store.list_turns(rater="ann")] == [mine.turn_id]
    assert [t.id for t in store.list_turns(query="moon")] == [mine.turn_id]  # found in an answer
    assert {t.id for t in store.list_turns(query="TIDES")} == {mine.turn_id, other.turn_id}
    assert store.list_turns(rater="ann", query="nothing like this") == []
    assert store.get_turn(mine.turn_id).mode == "arena"
    assert store.arena_pair_counts() == {frozenset({"x", "y"}): 1}
