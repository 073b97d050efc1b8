"""Named side-by-side comparison: pick 2-4 variants, optional per-pane parameter overrides."""

from __future__ import annotations

from typing import Any

import gradio as gr

from service.app import Runtime
from service.errors import InvalidRequest
from service.schemas import GenerationParams
from ui.board import MAX_PANES, Board
from ui.conversation import Session
from ui.format import PANE_LETTERS
from ui.i18n import t


def build_side_by_side(runtime: Runtime, rater: gr.Textbox) -> tuple[Board, gr.Dropdown]:
    gr.Markdown(t("named.intro"), elem_classes=["board-top"])
    # Choices are filled when the tab opens, so the page itself carries no variant names.
    picker = gr.Dropdown(
        choices=[],
        multiselect=True,
        max_choices=MAX_PANES,
        label=t("named.variants"),
        allow_custom_value=True,  # validated by the engine (unknown names get a clear message)
        elem_id="named-variants",
        elem_classes=["board-top"],
    )
    temps, max_tokens = [], []
    with gr.Accordion(t("named.overrides"), open=False, elem_classes=["board-top"]), gr.Row():
        for i in range(MAX_PANES):
            with gr.Column(min_width=160):
                temps.append(
                    gr.Number(
                        label=f"{PANE_LETTERS[i]}: {t('named.temperature')}",
                        minimum=0,
                        maximum=2,
                        elem_id=f"named-temp-{i}",
                    )
                )
                max_tokens.append(
                    gr.Number(
                        label=f"{PANE_LETTERS[i]}: {t('named.max_tokens')}",
                        minimum=1,
                        maximum=32768,
                        precision=0,
                        elem_id=f"named-max-{i}",
                    )
                )
    board = Board(runtime, prefix="named", blind=False, panes=MAX_PANES)

    def plan(
        session: Session, selected: list[str] | None, *values: Any
    ) -> tuple[list[str], list[GenerationParams | None] | None]:
        selected = list(selected or [])
        if not 2 <= len(selected) <= MAX_PANES:
            raise InvalidRequest(
                f"pick 2 to {MAX_PANES} variants", hint="Use the variants picker above."
            )
        overrides: list[GenerationParams | None] = []
        for i in range(len(selected)):
            temp, tokens = values[i], values[MAX_PANES + i]
            fields = {
                k: v
                for k, v in (("temperature", temp), ("max_tokens", int(tokens) if tokens else None))
                if v is not None
            }
            overrides.append(GenerationParams.model_validate(fields) if fields else None)
        return selected, overrides if any(o is not None for o in overrides) else None

    board.wire(rater, plan, [picker, *temps, *max_tokens])
    picker.change(
        board.layout.relayout,
        [picker],
        board.layout.relayout_outputs,
        api_visibility="private",
        queue=False,
    )
    return board, picker
