"""Retrieved context in the page: the numbered sources panel, and `[n]` citations in an
answer turned into links to the chunk they cite. Chunk text is escaped like every other
document- or model-supplied string."""

from __future__ import annotations

import re
from typing import Any

from ui.format import escape

NO_CONTEXT = "RAG is off for this turn: the models answer from what they know."
_CITATION = re.compile(r"\[(\d{1,3})\]")
PREVIEW_CHARS = 600


def chunk_link(chunk: dict[str, Any]) -> str | None:
    return f"/chunks/{chunk['chunk_id']}" if chunk.get("chunk_id") is not None else None


def context_markdown(chunks: list[dict[str, Any]] | None) -> str:
    if chunks is None:
        return NO_CONTEXT
    if not chunks:
        return "No document matched this prompt: the models got an empty context."
    parts = []
    for n, chunk in enumerate(chunks, start=1):
        where = escape(chunk.get("title") or chunk.get("source") or "")
        if chunk.get("page"):
            where += f", page {chunk['page']}"
        if chunk.get("row"):
            where += f", row {chunk['row']}"
        link = chunk_link(chunk)
        title = f"**[{n}]** [{where}]({link})" if link else f"**[{n}]** {where}"
        text = chunk.get("text", "")
        if len(text) > PREVIEW_CHARS:
            text = text[:PREVIEW_CHARS] + "…"
        # An HTML block keeps the chunk's text literal: a "# heading" in a document is shown
        # as written, not rendered (and escaped, so it cannot inject markup).
        parts.append(
            f"{title} · score {chunk.get('score', 0):.3f}\n\n"
            f'<div class="ctx-chunk">{escape(text)}</div>'
        )
    return "\n\n".join(parts)


def link_citations(text: str, chunks: list[dict[str, Any]] | None) -> str:
    """`[n]` -> a link to the n-th chunk, for n within the context; anything else unchanged."""
    if not chunks:
        return text

    def replace(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if not 1 <= n <= len(chunks):
            return match.group(0)
        link = chunk_link(chunks[n - 1])
        return f"[\\[{n}\\]]({link})" if link else match.group(0)

    return _CITATION.sub(replace, text)
