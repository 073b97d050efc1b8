"""A comparison board's components, laid out: the panes with their footers, the RAG controls,
the prompt box, the vote buttons, the ranking and the rubric. What they do is in ui/board.py.

The browser tests find every element by its `elem_id`: keep them as they are."""

from __future__ import annotations

from typing import Any

import gradio as gr

from service.schemas import VoteOutcome
from ui.conversation import CRITERIA
from ui.format import PANE_LETTERS
from ui.i18n import t

SCORE_POLL_S = 1.0  # how often a board looks for the automatic scores of its last turn
OUTCOMES: list[tuple[VoteOutcome, str]] = [  # (outcome, key of its button's label)
    ("a", "board.vote_a"),
    ("b", "board.vote_b"),
    ("tie", "board.vote_tie"),
    ("both_bad", "board.vote_both_bad"),
]
DEFAULT_COLLECTION = "sample"
CRITERION_KEYS = {
    "helpfulness": "rubric.helpfulness",
    "honesty": "rubric.honesty",
    "harmlessness": "rubric.harmlessness",
}


def model_label(pane: int) -> str:
    """A pane's title before any variant is shown: "Model A", in the browser's language."""
    return f"{t('board.model')} {PANE_LETTERS[pane]}"


class BoardLayout:
    """The components of one board. `state` is the value of its `gr.State` (one copy per
    browser session, never sent to the browser); `collections` the RAG collections offered."""

    def __init__(self, *, prefix: str, panes: int, collections: list[str], state: Any) -> None:
        self.prefix = prefix
        self.panes = panes
        self.state = gr.State(state)
        # Polls for the automatic scores of the last turn, from when it ends until they are in.
        self.score_timer = gr.Timer(SCORE_POLL_S, active=False)
        with gr.Row(equal_height=False, elem_classes=["panes"]):
            self.columns, self.chats, self.footers = [], [], []
            for i in range(panes):
                with gr.Column(min_width=280, visible=i < 2, elem_classes=["pane"]) as column:
                    self.chats.append(
                        gr.Chatbot(
                            label=model_label(i),
                            elem_id=f"{prefix}-chat-{i}",
                            height=420,
                            buttons=["copy"],
                            feedback_options=("Like", "Dislike"),
                            placeholder=t("board.answer_placeholder"),
                        )
                    )
                    self.footers.append(gr.Markdown("", elem_id=f"{prefix}-footer-{i}"))
                self.columns.append(column)
        # Closed until a turn brings sources (ui/board.py opens it then).
        with gr.Accordion(
            t("board.sources"), open=False, elem_id=f"{prefix}-context-panel"
        ) as self.context_panel:
            self.context = gr.Markdown(t("context.off"), elem_id=f"{prefix}-context")
        with gr.Row(equal_height=True):
            # In a column: a checkbox alone ignores min_width, and its label wrapped a word
            # per line on a phone.
            with gr.Column(scale=0, min_width=240):
                self.rag_on = gr.Checkbox(
                    label=t("board.use_documents"), value=False, elem_id=f"{prefix}-rag"
                )
            self.collection = gr.Dropdown(
                choices=collections,
                value=DEFAULT_COLLECTION if DEFAULT_COLLECTION in collections else None,
                label=t("board.collection"),
                allow_custom_value=True,  # checked by the engine (unknown names get a clear error)
                scale=2,
                min_width=200,
                elem_id=f"{prefix}-collection",
            )
            self.top_k = gr.Slider(
                1,
                10,
                value=3,
                step=1,
                label=t("board.top_k"),
                scale=1,
                min_width=160,
                elem_id=f"{prefix}-top-k",
            )
        # On a phone the prompt row moves above the panes (ui/app.py CSS, `.prompt-row`).
        with gr.Row(equal_height=True, elem_classes=["prompt-row"]):
            # One line to start (it grows to 12): Gradio sends on Enter only in a one-line
            # box; with more, Enter is a new line and Shift+Enter sends.
            self.prompt = gr.Textbox(
                placeholder=t("board.prompt"),
                show_label=False,
                lines=1,
                max_lines=12,
                scale=6,
                elem_id=f"{prefix}-prompt",
            )
            with gr.Column(scale=1, min_width=110):
                self.send = gr.Button(t("board.send"), variant="primary", elem_id=f"{prefix}-send")
                self.stop = gr.Button(
                    t("board.stop"), variant="stop", visible=False, elem_id=f"{prefix}-stop"
                )
        with gr.Row():
            self.votes = {
                outcome: gr.Button(t(label), interactive=False, elem_id=f"{prefix}-vote-{outcome}")
                for outcome, label in OUTCOMES
            }
        self.ranking = gr.Dropdown(
            choices=[],
            multiselect=True,
            label=t("board.ranking"),
            allow_custom_value=True,  # checked by Session.ranking
            visible=False,
            interactive=True,
            elem_id=f"{prefix}-ranking",
        )
        self.rank_submit = gr.Button(
            t("board.submit_ranking"), visible=False, interactive=False, elem_id=f"{prefix}-rank"
        )
        with gr.Row():
            self.regenerate = gr.Button(
                t("board.regenerate"), interactive=False, elem_id=f"{prefix}-regenerate"
            )
            self.new_round = gr.Button(t("board.new_round"), elem_id=f"{prefix}-new")
        self.status = gr.Markdown("", elem_id=f"{prefix}-status")
        self._build_rubric()

    def _build_rubric(self) -> None:
        with gr.Accordion(t("rubric.title"), open=True, visible=False) as self.rubric:
            gr.Markdown(t("rubric.intro"))
            self.rubric_columns, self.scores = [], []
            with gr.Row():
                for i in range(self.panes):
                    with gr.Column(min_width=200, visible=i < 2) as column:
                        gr.Markdown(f"**{t('rubric.answer')} {PANE_LETTERS[i]}**")
                        self.scores.append(
                            [
                                gr.Radio(
                                    [1, 2, 3, 4, 5],
                                    label=t(CRITERION_KEYS[criterion]),
                                    elem_id=f"{self.prefix}-{criterion}-{i}",
                                )
                                for criterion in CRITERIA
                            ]
                        )
                    self.rubric_columns.append(column)
            self.comment = gr.Textbox(
                label=t("rubric.comment"), lines=2, elem_id=f"{self.prefix}-comment"
            )
            self.ideal = gr.Textbox(
                label=t("rubric.ideal"),
                lines=5,
                elem_id=f"{self.prefix}-ideal",
            )
            # The confirmation shows beside the button, where the rater is looking.
            with gr.Row(equal_height=True):
                self.save_labels = gr.Button(
                    t("rubric.save"), scale=0, min_width=160, elem_id=f"{self.prefix}-save-labels"
                )
                self.saved = gr.Markdown("", elem_id=f"{self.prefix}-saved")

    def initial_props(self) -> dict[int, dict[str, Any]]:
        """The properties the components are built with above, by component id."""
        props: dict[int, dict[str, Any]] = {}
        for i in range(self.panes):
            props[self.chats[i]._id] = {"label": model_label(i)}
        for button in self.votes.values():
            props[button._id] = {"interactive": False, "visible": True}
        props[self.ranking._id] = {"visible": False, "choices": []}
        props[self.rank_submit._id] = {"visible": False, "interactive": False}
        props[self.regenerate._id] = {"interactive": False}
        props[self.send._id] = {"interactive": True}
        props[self.stop._id] = {"visible": False}
        props[self.rubric._id] = {"visible": False}
        props[self.context_panel._id] = {"open": False}
        return props

    # -- components each event may update -------------------------------------------------

    @property
    def turn_outputs(self) -> list[Any]:
        """What a turn changes. No layout blocks: Gradio rebuilds every output a yield leaves
        out, on every yield, so each yield gives every output here a cheap value (see
        Board._frame)."""
        return [
            self.state,
            *self.chats,
            *self.footers,
            self.status,
            self.context,
            self.prompt,
            self.send,
            self.stop,
            self.regenerate,
            *self.votes.values(),
            self.ranking,
            self.rank_submit,
            self.rubric,
            self.context_panel,
        ]

    @property
    def vote_outputs(self) -> list[Any]:
        return [*self.turn_outputs, self.ideal, self.comment, *self.radios, self.saved]

    @property
    def radios(self) -> list[gr.Radio]:
        """The rubric's scores, pane by pane, CRITERIA in turn."""
        return [r for pane in self.scores for r in pane]

    @property
    def relayout_outputs(self) -> list[Any]:
        return [*self.columns, *self.rubric_columns]

    def relayout(self, selected: list[str] | None) -> dict[Any, Any]:
        """Show one pane (and rubric column) per selected variant (for `relayout_outputs`)."""
        n = min(max(2, len(selected or [])), self.panes)
        updates: dict[Any, Any] = {}
        for i in range(self.panes):
            updates[self.columns[i]] = gr.update(visible=i < n)
            updates[self.rubric_columns[i]] = gr.update(visible=i < n)
        return updates
