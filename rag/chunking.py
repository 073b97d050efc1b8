"""Sections to chunks: recursive splitting (paragraphs, then lines, sentences, words; full-width
marks too) measured in tokens of the embedding model, with overlap. Each chunk keeps its page
or row and its character offsets in the section it came from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_text_splitters import RecursiveCharacterTextSplitter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rag.loaders import Section

# Full-width marks end sentences and clauses in Chinese and Japanese, which have no spaces;
# a text without them splits exactly as before (the splitter uses the first separator found).
SEPARATORS = [
    "\n\n",
    "\n",
    "。",
    "！",
    "？",
    ". ",
    "? ",
    "! ",
    "；",
    "; ",
    "，",
    "、",
    ", ",
    " ",
    "",
]


class ChunkSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    size_tokens: int = Field(default=200, ge=16, le=512, description="Target chunk length.")
    overlap_tokens: int = Field(default=30, ge=0, description="Tokens shared by neighbours.")

    @model_validator(mode="after")
    def _overlap_smaller(self) -> ChunkSettings:
        if self.overlap_tokens >= self.size_tokens:
            raise ValueError("overlap_tokens must be smaller than size_tokens")
        return self


@dataclass(frozen=True)
class ChunkDraft:
    ordinal: int
    text: str
    page: int | None
    row: int | None
    start: int
    end: int
    meta: dict[str, Any] = field(default_factory=dict)


def split(
    sections: list[Section], settings: ChunkSettings, count_tokens: Callable[[str], int]
) -> list[ChunkDraft]:
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=settings.size_tokens,
        chunk_overlap=settings.overlap_tokens,
        length_function=count_tokens,
        separators=SEPARATORS,
        keep_separator="end",
        add_start_index=True,
        strip_whitespace=True,
    )
    drafts: list[ChunkDraft] = []
    for section in sections:
        for doc in splitter.create_documents([section.text]):
            start = int(doc.metadata.get("start_index", 0))
            if start < 0:  # the splitter could not locate the piece; keep it, unplaced
                start = 0
            drafts.append(
                ChunkDraft(
                    ordinal=len(drafts),
                    text=doc.page_content,
                    page=section.page,
                    row=section.row,
                    start=start,
                    end=start + len(doc.page_content),
                    meta=dict(section.meta),
                )
            )
    return drafts
