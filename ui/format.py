"""Text shown under and inside the panes. Everything user- or model-supplied that goes into
Markdown is escaped, so an answer, a comment or a variant name cannot inject markup."""

from __future__ import annotations

import html

from service.schemas import AnswerOut
from ui.i18n import DEFAULT_LANGUAGE, say

PANE_LETTERS = "ABCD"


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def metrics_line(answer: AnswerOut, lang: str = DEFAULT_LANGUAGE) -> str:
    parts = []
    if answer.ttft_ms is not None:
        parts.append(say(lang, "metrics.first_token", ms=f"{answer.ttft_ms:,.0f}"))
    if answer.latency_ms is not None:
        parts.append(say(lang, "metrics.total", s=f"{answer.latency_ms / 1000:,.2f}"))
    if answer.tokens_in is not None or answer.tokens_out is not None:
        parts.append(
            say(
                lang,
                "metrics.tokens",
                tokens_in=answer.tokens_in if answer.tokens_in is not None else "?",
                tokens_out=answer.tokens_out if answer.tokens_out is not None else "?",
            )
        )
    if answer.cost_usd is not None:
        parts.append(f"${answer.cost_usd:.6f}")
    return " · ".join(parts)


def scores_line(answer: AnswerOut, lang: str = DEFAULT_LANGUAGE) -> str:
    """Automatic scores stored so far (they arrive in the background after the answer)."""
    parts = [
        f"{escape(s.metric)} {s.value:.2f}" if s.value is not None else f"{escape(s.metric)} —"
        for s in answer.scores
    ]
    return say(lang, "metrics.scores", scores=" · ".join(parts)) if parts else ""


def error_text(answer: AnswerOut, lang: str = DEFAULT_LANGUAGE) -> str:
    return say(
        lang,
        "metrics.error",
        code=escape(answer.error_code or answer.status),
        message=escape(answer.error_message or say(lang, "metrics.no_answer")),
    )


def pane_footer(answer: AnswerOut | None, *, name: str | None, lang: str = DEFAULT_LANGUAGE) -> str:
    """Under a pane: the variant (when it may be shown), metrics, and any error."""
    lines = []
    if name is not None:
        lines.append(f"**{escape(name)}**")
    if answer is not None:
        line = metrics_line(answer, lang)
        if line:
            lines.append(line)
        scores = scores_line(answer, lang)
        if scores:
            lines.append(scores)
        if answer.status != "ok":
            lines.append(error_text(answer, lang))
    return "  \n".join(lines)
