"""How retrieved context reaches a model: a prompt template with numbered sources, and the
citations `[n]` read back out of the answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

DEFAULT_TEMPLATE = """Answer the question using the numbered sources below. Cite the sources \
you use with their numbers in square brackets, like [1]. If the sources do not contain the \
answer, say so.

Sources:
{context}

Question: {question}"""

_CITATION = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


def check_template(template: str) -> str:
    missing = [f for f in ("{context}", "{question}") if f not in template]
    if missing:
        raise ValueError(f"the RAG prompt template must contain {' and '.join(missing)}")
    return template


def format_context(chunks: Sequence[Any]) -> str:
    return "\n\n".join(
        f"[{n}] ({chunk.title}{f', page {chunk.page}' if chunk.page else ''})\n{chunk.text}"
        for n, chunk in enumerate(chunks, start=1)
    )


def render(template: str, question: str, chunks: Sequence[Any]) -> str:
    # str.replace, not str.format: documents and questions may contain braces.
    return template.replace("{context}", format_context(chunks)).replace("{question}", question)


def citations(text: str, refs: Sequence[str]) -> list[dict[str, Any]]:
    """The sources an answer cites, in order of first mention: `{"n", "ref"}`. Numbers
    outside 1..len(refs) are not citations of this context and are left out."""
    seen: dict[int, str] = {}
    for match in _CITATION.finditer(text):
        for part in match.group(1).split(","):
            n = int(part)
            if 1 <= n <= len(refs) and n not in seen:
                seen[n] = refs[n - 1]
    return [{"n": n, "ref": ref} for n, ref in seen.items()]
