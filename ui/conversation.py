"""A board's conversation, without the page: one browser session's state, and what each pane
shows as the compare engine's events come in (transcripts, footers, the status line), before
and after the vote.

A blind session shows no variant name, and no metric that could hint at one, until the rater
has voted. The page (ui/board.py) turns this state into component updates; nothing here knows
about Gradio."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from service.errors import ArbiterError
from service.schemas import AnswerOut, GenerationParams, LabelsIn, RatingIn, ScoreOut, VoteIn
from service.serving import CompareEvent, blind_error
from ui.context import NO_CONTEXT, context_markdown, link_citations
from ui.format import PANE_LETTERS, escape, pane_footer
from ui.i18n import DEFAULT_LANGUAGE, say

CRITERIA = ["helpfulness", "honesty", "harmlessness"]
# The status lines in English (the page says them in the reader's language: `Session.lang`).
STREAMING = say(DEFAULT_LANGUAGE, "status.streaming")
NEW_ROUND = say(DEFAULT_LANGUAGE, "status.new_round")
ASK_BLIND = say(DEFAULT_LANGUAGE, "status.ask_blind")
ASK_NAMED = say(DEFAULT_LANGUAGE, "status.ask_named")

Message = dict[str, str]  # {"role": "user" | "assistant", "content": ...}


@dataclass
class Session:
    """One browser session's conversation on a board (kept server-side only)."""

    blind: bool = False
    variants: list[str] = field(default_factory=list)
    overrides: list[GenerationParams | None] | None = None
    conversation_id: str | None = None
    turn_id: str | None = None
    prompt: str = ""
    running: bool = False
    voted: bool = False
    answers: list[AnswerOut] = field(default_factory=list)
    transcripts: list[list[Message]] = field(default_factory=list)
    last_pair: list[str] = field(default_factory=list)
    footer_texts: list[str] = field(default_factory=list)
    ideal_pane: int | None = None  # the answer the ideal-answer editor was prefilled with
    status_text: str = ""
    context: list[dict[str, Any]] | None = None  # this turn's retrieved chunks; None: RAG off
    context_text: str = NO_CONTEXT
    link: Callable[[str], str] = str  # a chunk page's URL for this browser (set by `start`)
    score_polls: int = 0
    lang: str = DEFAULT_LANGUAGE  # what the page says is in the reader's language (ui/i18n.py)

    def reset(self) -> None:
        """Forget the round; keep whether the board is blind, the reader's language, and the
        pair just compared (so the arena can draw another)."""
        last = sorted(self.variants) if len(self.variants) == 2 else self.last_pair
        self.__init__(blind=self.blind, lang=self.lang)  # type: ignore[misc]
        self.last_pair = last

    # -- what the panes show ------------------------------------------------------------

    @property
    def names_visible(self) -> bool:
        return not self.blind or self.voted

    def pane_title(self, pane: int) -> str:
        named = pane < len(self.variants) and self.names_visible
        title = f"{say(self.lang, 'board.model')} {PANE_LETTERS[pane]}"
        return title + (f" · {self.variants[pane]}" if named else "")

    def transcript(self, pane: int) -> list[Message]:
        return self.transcripts[pane] if pane < len(self.transcripts) else []

    def footer(self, pane: int) -> str:
        return self.footer_texts[pane] if pane < len(self.footer_texts) else ""

    def answer(self, pane: int) -> AnswerOut | None:
        """The pane's finished answer in this turn, if any."""
        return next((a for a in self.answers if a.pane == pane), None)

    # -- a turn ---------------------------------------------------------------------------

    def refusal(self, prompt: str | None, *, regenerate: bool) -> str | None:
        """Why a turn cannot start now, or None when it can."""
        if self.running:
            return say(self.lang, "warn.streaming")
        if not prompt or not prompt.strip():
            return say(self.lang, "warn.no_prompt")
        if regenerate and self.turn_id is None:
            return say(self.lang, "warn.nothing_to_regenerate")
        return None

    def choose(self, variants: list[str], overrides: list[GenerationParams | None] | None) -> None:
        """The variants of the next turn: other variants (or parameters) start a new round."""
        if variants != self.variants or overrides != self.overrides:
            self.reset()
            self.variants, self.overrides = variants, overrides

    def start(
        self, turn: CompareEvent, prompt: str, *, regenerate: bool, link: Callable[[str], str]
    ) -> None:
        """The engine's `turn` event: the models start. Each pane gets the prompt and an empty
        answer; regenerating replaces the last exchange instead of adding one. `link` writes
        the URLs of cited chunks for the person asking (signed, ui/access.py)."""
        self.turn_id = turn.data["turn_id"]
        self.conversation_id = turn.data["conversation_id"]
        self.prompt, self.running, self.voted, self.answers = prompt, True, False, []
        self.context = turn.data.get("context")
        self.link = link
        self.context_text = context_markdown(self.context, link, self.lang)
        if not self.transcripts:
            self.transcripts = [[] for _ in self.variants]
        for transcript in self.transcripts:
            if regenerate:
                del transcript[-2:]
            transcript.append({"role": "user", "content": prompt})
            transcript.append({"role": "assistant", "content": ""})
        self.footer_texts = []
        self.status_text = say(self.lang, "status.streaming")

    def apply(self, event: CompareEvent) -> None:
        """Fold one engine event into the panes (`token` and `answer`; others change nothing)."""
        if event.kind == "token":
            self.transcripts[event.data["pane"]][-1]["content"] += event.data["text"]
        elif event.kind == "answer":
            answer = AnswerOut.model_validate(event.data)
            self.answers.append(answer)
            last = self.transcripts[answer.pane][-1]
            if self.context and answer.status == "ok":
                last["content"] = link_citations(last["content"], self.context, self.link)
            if answer.status != "ok":
                separator = "\n\n" if last["content"] else ""
                # A provider's error text may name the model: a blind pane says what failed.
                message = (
                    blind_error(answer.error_code or answer.status)
                    if self.blind
                    else answer.error_message
                )
                last["content"] += separator + say(
                    self.lang, "pane.error", code=answer.error_code, message=message
                )
            self._set_footer(answer.pane, self._footer_of(answer, answer.variant))

    def finish(self) -> None:
        """Every pane has ended: the answers may be voted on."""
        self.running = False
        self.answers.sort(key=lambda a: a.pane)
        if len(self.variants) > 2:  # three or four panes are ranked, not voted A or B
            self.status_text = say(self.lang, "status.ask_rank")
        else:
            self.status_text = say(
                self.lang, "status.ask_blind" if self.blind else "status.ask_named"
            )

    def fail(self, error: ArbiterError) -> None:
        """The turn itself failed (not one pane): say so on the status line."""
        self.status_text = say(
            self.lang, "status.error", message=escape(error.message), hint=escape(error.hint)
        )
        self.running = False

    def new_round(self) -> None:
        self.reset()
        self.status_text = say(self.lang, "status.new_round")

    def show_scores(self, scores: dict[int, list[ScoreOut]]) -> dict[int, str]:
        """The automatic scores stored so far, per pane: the footers that show them, for
        the panes that have an answer (still without metrics on a blind board before the
        vote)."""
        self.answers = [
            a.model_copy(update={"scores": scores.get(a.pane, [])}) for a in self.answers
        ]
        footers = {}
        for answer in self.answers:
            if answer.pane < len(self.variants):
                footers[answer.pane] = self._footer_of(answer, self.variants[answer.pane])
                self._set_footer(answer.pane, footers[answer.pane])
        return footers

    # -- the vote and the labels ----------------------------------------------------------

    def ranking(self, letters: list[str] | None) -> list[int] | None:
        """Panes, best first, from the letters the rater ranked; None unless each pane is
        ranked exactly once."""
        panes = [PANE_LETTERS.index(letter) for letter in letters or [] if letter in PANE_LETTERS]
        return panes if sorted(panes) == list(range(len(self.variants))) else None

    def record_vote(self, vote: VoteIn) -> None:
        """The vote is stored: reveal the names (and metrics) and say what was chosen."""
        self.voted = True
        preferred = {"a": 0, "b": 1}.get(vote.outcome, vote.ranking[0] if vote.ranking else None)
        self.ideal_pane = preferred
        for pane, name in enumerate(self.variants):
            self._set_footer(pane, self._footer_of(self.answer(pane), name))
        self.status_text = _vote_message(vote, self.variants, self.lang)

    @property
    def ideal_prefill(self) -> str:
        """What the ideal-answer editor starts with after the vote: the preferred answer."""
        answer = self.answer(self.ideal_pane) if self.ideal_pane is not None else None
        return answer.text if answer is not None else ""

    def labels(
        self, comment: str | None, ideal: str | None, scores: Sequence[int | None]
    ) -> LabelsIn:
        """The rubric as filled in: `scores` holds each pane's CRITERIA in turn."""
        ratings = []
        for pane in range(len(self.variants)):
            values = dict(zip(CRITERIA, scores[pane * 3 : pane * 3 + 3], strict=True))
            ratings.append(
                RatingIn(pane=pane, **{k: int(v) if v else None for k, v in values.items()})
            )
        return LabelsIn(
            ratings=ratings,
            comment=comment or None,
            ideal_answer=ideal or None,
            ideal_based_on_pane=self.ideal_pane if ideal and ideal.strip() else None,
        )

    def is_latest(self, pane: int, index: int) -> bool:
        """Whether message `index` of the pane's transcript is its latest answer."""
        return index == len(self.transcripts[pane]) - 1

    # -- helpers --------------------------------------------------------------------------

    def _footer_of(self, answer: AnswerOut | None, name: str) -> str:
        if self.names_visible:
            return pane_footer(answer, name=name, lang=self.lang)
        shown = _errors_only(answer) if answer is not None else None
        return pane_footer(shown, name=None, lang=self.lang)

    def _set_footer(self, pane: int, text: str) -> None:
        while len(self.footer_texts) <= pane:
            self.footer_texts.append("")
        self.footer_texts[pane] = text


def _errors_only(answer: AnswerOut) -> AnswerOut:
    """Before a blind vote, a pane shows whether it failed (in words that name no model),
    but no metrics that could hint at which model it is."""
    return answer.model_copy(
        update={
            "ttft_ms": None,
            "latency_ms": None,
            "tokens_in": None,
            "tokens_out": None,
            "cost_usd": None,
            "scores": [],
            "error_message": blind_error(answer.error_code) if answer.error_code else None,
        }
    )


def _vote_message(vote: VoteIn, variants: list[str], lang: str = DEFAULT_LANGUAGE) -> str:
    names = [f"**{escape(v)}**" for v in variants]
    if vote.outcome == "a":
        return say(lang, "vote.preferred", winner=names[0], loser=names[1])
    if vote.outcome == "b":
        return say(lang, "vote.preferred", winner=names[1], loser=names[0])
    if vote.outcome == "tie":
        return say(lang, "vote.tie", names=say(lang, "vote.tie_separator").join(names))
    if vote.outcome == "both_bad":
        return say(lang, "vote.both_bad", names=say(lang, "vote.both_bad_separator").join(names))
    order = [names[p] for p in vote.ranking or []]
    return say(lang, "vote.ranking", names=" > ".join(order))
