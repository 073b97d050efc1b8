"""Retrieved context in the page: the numbered sources panel, and `[n]` citations in an
answer turned into links to the chunk they cite. Chunk text is escaped like every other
document- or model-supplied string. Chunk pages need sign-in: each link goes through `link`,
which signs it for the person viewing (ui/access.py `links_for`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ui.format import escape
from ui.i18n import DEFAULT_LANGUAGE, say

NO_CONTEXT = say(DEFAULT_LANGUAGE, "context.off")
_CITATION = re.compile(r"\[(\d{1,3})\]")
PREVIEW_CHARS = 600


Link = Callable[[str], str]


def chunk_link(chunk: dict[str, Any], link: Link) -> str | None:
    return link(f"/chunks/{int(chunk['chunk_id'])}") if chunk.get("chunk_id") is not None else None


def context_markdown(
    chunks: list[dict[str, Any]] | None, link: Link, lang: str = DEFAULT_LANGUAGE
) -> str:
    if chunks is None:
        return say(lang, "context.off")
    if not chunks:
        return say(lang, "context.empty")
    # The retriever's raw scores (a fused rank score such as 0.033, or a cosine) mean
    # nothing to a reader: the sources are numbered in its order, best first, and say so.
    parts = [say(lang, "context.ranked")]
    for n, chunk in enumerate(chunks, start=1):
        where = escape(chunk.get("title") or chunk.get("source") or "")
        if chunk.get("page"):
            where += say(lang, "context.page", page=chunk["page"])
        if chunk.get("row"):
            where += say(lang, "context.row", row=chunk["row"])
        url = chunk_link(chunk, link)
        title = f"**[{n}]** [{where}]({url})" if url else f"**[{n}]** {where}"
        text = chunk.get("text", "")
        if len(text) > PREVIEW_CHARS:
            text = text[:PREVIEW_CHARS] + "…"
        # An HTML block keeps the chunk's text literal: a "# heading" in a document is shown
        # as written, not rendered (and escaped, so it cannot inject markup).
        parts.append(f'{title}\n\n<div class="ctx-chunk">{escape(text)}</div>')
    return "\n\n".join(parts)


def link_citations(text: str, chunks: list[dict[str, Any]] | None, link: Link) -> str:
    """`[n]` -> a link to the n-th chunk, for n within the context; anything else unchanged."""
    if not chunks:
        return text

    def replace(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if not 1 <= n <= len(chunks):
            return match.group(0)
        url = chunk_link(chunks[n - 1], link)
        return f"[\\[{n}\\]]({url})" if url else match.group(0)

    return _CITATION.sub(replace, text)
