"""The blind arena: two anonymous variants, drawn at random, names revealed after the vote."""

from __future__ import annotations

import random

import gradio as gr

from service.app import Runtime
from service.schemas import GenerationParams
from service.serving import BattleCounts, choose_pair
from service.store import turns
from ui.board import Board
from ui.conversation import Session
from ui.i18n import t


def build_arena(runtime: Runtime, rater: gr.Textbox) -> Board:
    gr.Markdown(t("arena.intro"), elem_classes=["board-top"])
    board = Board(runtime, prefix="arena", blind=True, panes=2)
    rng = random.Random()
    battles = BattleCounts(lambda: turns.arena_pair_counts(runtime.store))

    def plan(session: Session) -> tuple[list[str], list[GenerationParams | None] | None]:
        if session.variants:  # keep the pair for the rest of this round (multi-turn)
            return session.variants, None
        last = frozenset(session.last_pair) if session.last_pair else None
        pair = choose_pair(runtime.catalog.names(), battles.current(), last=last, rng=rng)
        battles.drawn(pair)
        return list(pair), None

    board.wire(rater, plan, [])
    return board
