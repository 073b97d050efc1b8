"""Text shown under and inside the panes. Everything user- or model-supplied that goes into
Markdown is escaped, so an answer, a comment or a variant name cannot inject markup."""

from __future__ import annotations

import html

from service.schemas import AnswerOut

PANE_LETTERS = "ABCD"


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def metrics_line(answer: AnswerOut) -> str:
    parts = []
    if answer.ttft_ms is not None:
        parts.append(f"first token {answer.ttft_ms:,.0f} ms")
    if answer.latency_ms is not None:
        parts.append(f"total {answer.latency_ms / 1000:,.2f} s")
    if answer.tokens_in is not None or answer.tokens_out is not None:
        parts.append(
            f"tokens {answer.tokens_in if answer.tokens_in is not None else '?'} → {answer.tokens_out if answer.tokens_out is not None else '?'}"
        )
    if answer.cost_usd is not None:
        parts.append(f"${answer.cost_usd:.6f}")
    return " · ".join(parts)


def scores_line(answer: AnswerOut) -> str:
    """Automatic scores stored so far (they arrive in the background after the answer)."""
    parts = [
        f"{escape(s.metric)} {s.value:.2f}" if s.value is not None else f"{escape(s.metric)} —"
        for s in answer.scores
    ]
    return ("scores: " + " · ".join(parts)) if parts else ""


def error_text(answer: AnswerOut) -> str:
    return f"**Error ({escape(answer.error_code or answer.status)})**: {escape(answer.error_message or 'no answer')}"


def pane_footer(answer: AnswerOut | None, *, name: str | None) -> str:
    """Under a pane: the variant (when it may be shown), metrics, and any error."""
    lines = []
    if name is not None:
        lines.append(f"**{escape(name)}**")
    if answer is not None:
        line = metrics_line(answer)
        if line:
            lines.append(line)
        scores = scores_line(answer)
        if scores:
            lines.append(scores)
        if answer.status != "ok":
            lines.append(error_text(answer))
    return "  \n".join(lines)
