"""Exports of human labels as training data: gathered from the store with filters, turned
into records (`evals.exports`), redacted, validated, split by prompt, and written as JSONL
or Parquet, to a path or to S3.

Rules, stated once (they are also in every summary):
- only live votes count (a rater's changed vote replaces their earlier one), and labels a
  reviewer rejected are left out;
- the prompt is the conversation as the user wrote it: earlier prompts, the chosen pane's
  earlier answers, then this prompt; system prompts and retrieved context are variant
  settings, kept in the provenance (with the RAG chunk ids);
- pairs: A/B votes give one pair, a ranking every pair it implies; ties and both-bad give
  none; a pair with a failed answer is skipped;
- KTO: the preferred answer is desirable, the other not; a tie makes both desirable and
  both-bad both undesirable (unless ties are excluded); in a ranking the first is
  desirable and the last not;
- SFT: each ideal answer written by a rater;
- minimum agreement: a turn's agreement is the share of its live votes equal to its most
  common vote (one vote: full agreement); turns below the minimum are left out;
- the margin of a pair is the difference of the two answers' mean rubric scores (all
  criteria, all raters), 0 when either is unrated."""

from __future__ import annotations

import io
import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.exports import (
    FORMATS,
    Completion,
    Demonstration,
    Pair,
    Record,
    Redactor,
    dedup,
    split_of,
    validate,
)
from service.errors import ErrorCode, InvalidRequest
from service.store import ExportAnswer, ExportTurn, ExportVote, Filters, Store
from service.store import exports as stored

EXPORT_RULES = __doc__.split("Rules, stated once (they are also in every summary):\n", 1)[1].strip()


@dataclass(frozen=True)
class ExportOptions:
    format: str
    filters: Filters = field(default_factory=Filters)
    variants: tuple[str, ...] = ()  # only records whose answers all come from these
    exclude_ties: bool = False
    min_agreement: float | None = None  # share of a turn's raters siding with its majority
    redact: bool = True
    test_fraction: float = 0.0  # > 0: train and test files, split by prompt

    def check(self) -> None:
        if self.format not in FORMATS:
            raise InvalidRequest(
                f"unknown export format {self.format!r}",
                code=ErrorCode.UNKNOWN_FORMAT,
                hint=f"Use one of: {', '.join(FORMATS)}.",
            )
        if not 0 <= self.test_fraction < 1:
            raise InvalidRequest(
                "the test fraction must be in [0, 1)", code=ErrorCode.INVALID_SPLIT
            )
        if self.min_agreement is not None and not 0 <= self.min_agreement <= 1:
            raise InvalidRequest(
                "the minimum agreement must be in [0, 1]", code=ErrorCode.INVALID_FILTER
            )


@dataclass
class ExportSummary:
    format: str
    records: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    balance: dict[str, int] = field(default_factory=dict)  # labels, or chosen variants
    redactions: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    files: list[str] = field(default_factory=list)
    rules: str = EXPORT_RULES


def _prompt(turn: ExportTurn, answer: ExportAnswer) -> list[dict[str, str]]:
    sent = [
        {"role": m["role"], "content": m["content"]}
        for m in (answer.request or {}).get("messages", [])
        if m["role"] in ("user", "assistant")
    ]
    return [*sent[:-1], {"role": "user", "content": turn.prompt}]


def _side(answer: ExportAnswer) -> dict[str, Any]:
    spec = answer.variant_spec or {}
    return {
        "variant": answer.variant,
        "pane": answer.pane,
        "answer_id": answer.id,
        "params": (answer.request or {}).get("params", spec.get("params")),
        "system_prompt": spec.get("system_prompt"),
        "rag_chunk_ids": answer.context_refs or [],
    }


def _provenance(turn: ExportTurn, vote: ExportVote | None, **sides: ExportAnswer) -> dict[str, Any]:
    out: dict[str, Any] = {
        "turn_id": turn.id,
        "conversation_id": turn.conversation_id,
        "mode": turn.mode,
        "turn_created_at": turn.created_at.isoformat(),
        "campaign": turn.campaign,
    }
    if vote is not None:
        out |= {
            "vote_id": vote.id,
            "outcome": vote.outcome,
            "rater": vote.rater,
            "voted_at": vote.created_at.isoformat(),
        }
    for name, answer in sides.items():
        out[name] = _side(answer)
    return out


class _Gatherer:
    def __init__(self, store: Store, options: ExportOptions, summary: ExportSummary) -> None:
        self.store, self.options, self.summary = store, options, summary

    def skip(self, reason: str) -> None:
        self.summary.skipped[reason] = self.summary.skipped.get(reason, 0) + 1

    def _allowed(self, *answers: ExportAnswer) -> bool:
        wanted = self.options.variants
        return not wanted or all(a.variant in wanted for a in answers)

    def _agreed(self, votes: list[ExportVote]) -> list[ExportVote]:
        """Votes on turns whose raters agree enough: the share of the turn's votes equal
        to its most common vote (a turn with one vote agrees fully)."""
        by_turn: dict[str, list[str]] = {}
        for v in votes:
            by_turn.setdefault(v.turn_id, []).append(f"{v.outcome}:{v.ranking}")
        share = {
            t: Counter(outcomes).most_common(1)[0][1] / len(outcomes)
            for t, outcomes in by_turn.items()
        }
        kept = [v for v in votes if share[v.turn_id] >= (self.options.min_agreement or 0.0)]
        for _ in range(len(votes) - len(kept)):
            self.skip("below the minimum agreement")
        return kept

    def records(self) -> Iterator[Record]:
        kind = FORMATS[self.options.format].kind
        if kind is Demonstration:
            yield from self._demonstrations()
            return
        votes = stored.live_votes_in_order(self.store, self.options.filters)
        if self.options.min_agreement is not None:
            votes = self._agreed(votes)
        turns = stored.turns_by_id(self.store, {v.turn_id for v in votes})
        rubric = (
            stored.rubric_means(self.store, {a.id for t in turns.values() for a in t.answers})
            if kind is Pair
            else {}
        )
        for vote in votes:
            turn = turns[vote.turn_id]
            panes = {a.pane: a for a in turn.answers}
            if kind is Pair:
                yield from self._pairs(turn, vote, panes, rubric)
            else:
                yield from self._completions(turn, vote, panes)

    def _pairs(
        self,
        turn: ExportTurn,
        vote: ExportVote,
        panes: dict[int, ExportAnswer],
        rubric: dict[str, float],
    ) -> Iterator[Pair]:
        if vote.outcome in ("a", "b"):
            order = [0, 1] if vote.outcome == "a" else [1, 0]
            matchups = [(order[0], order[1])]
        elif vote.outcome == "ranking" and vote.ranking:
            ranked = list(vote.ranking)
            matchups = [
                (ranked[x], ranked[y])
                for x in range(len(ranked))
                for y in range(x + 1, len(ranked))
            ]
        else:
            self.skip(f"{vote.outcome} (no preferred answer)")
            return
        for win, lose in matchups:
            chosen, rejected = panes.get(win), panes.get(lose)
            if (
                chosen is None
                or rejected is None
                or chosen.status != "ok"
                or rejected.status != "ok"
            ):
                self.skip("an answer failed")
                continue
            if not self._allowed(chosen, rejected):
                self.skip("variant filtered out")
                continue
            margin = None
            if chosen.id in rubric and rejected.id in rubric:
                margin = rubric[chosen.id] - rubric[rejected.id]
            yield Pair(
                _prompt(turn, chosen),
                chosen.text,
                rejected.text,
                _provenance(turn, vote, chosen=chosen, rejected=rejected),
                margin,
            )

    def _completions(
        self, turn: ExportTurn, vote: ExportVote, panes: dict[int, ExportAnswer]
    ) -> Iterator[Completion]:
        labels: dict[int, bool] = {}
        if vote.outcome in ("a", "b"):
            labels = {0: vote.outcome == "a", 1: vote.outcome == "b"}
        elif vote.outcome in ("tie", "both_bad"):
            if self.options.exclude_ties:
                self.skip(f"{vote.outcome} (excluded)")
                return
            labels = {p: vote.outcome == "tie" for p in panes}
        elif vote.outcome == "ranking" and vote.ranking:
            labels = {vote.ranking[0]: True, vote.ranking[-1]: False}
        for pane, label in sorted(labels.items()):
            answer = panes.get(pane)
            if answer is None or answer.status != "ok":
                self.skip("an answer failed")
                continue
            if not self._allowed(answer):
                self.skip("variant filtered out")
                continue
            yield Completion(
                _prompt(turn, answer),
                answer.text,
                label,
                _provenance(turn, vote, answer=answer),
            )

    def _demonstrations(self) -> Iterator[Demonstration]:
        ideals = stored.ideal_answers(self.store, self.options.filters)
        turns = stored.turns_by_id(self.store, {i.turn_id for i in ideals})
        for ideal in ideals:
            turn = turns[ideal.turn_id]
            panes = {a.id: a for a in turn.answers}
            base = panes.get(ideal.based_on_answer_id or "") or min(
                turn.answers, key=lambda a: a.pane
            )
            if not ideal.text.strip():
                self.skip("empty ideal answer")
                continue
            provenance = _provenance(turn, None, based_on=base) | {
                "ideal_answer_id": ideal.id,
                "rater": ideal.rater,
                "written_at": ideal.created_at.isoformat(),
            }
            yield Demonstration(_prompt(turn, base), ideal.text, provenance)


def _balance(records: list[Record]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for r in records:
        if isinstance(r, Completion):
            counts["desirable" if r.label else "undesirable"] += 1
        elif isinstance(r, Pair):
            counts[f"chosen: {r.provenance['chosen']['variant']}"] += 1
        else:
            counts[f"based on: {r.provenance['based_on']['variant']}"] += 1
    return dict(counts)


def prepare(
    store: Store, options: ExportOptions
) -> tuple[dict[str, list[dict[str, Any]]], ExportSummary]:
    """The rendered, validated records per split, and the summary (the dry run)."""
    options.check()
    summary = ExportSummary(options.format)
    fmt = FORMATS[options.format]
    gathered = list(_Gatherer(store, options, summary).records())
    unique = dedup(gathered)
    summary.duplicates = len(gathered) - len(unique)
    redactor = Redactor()
    records = [redactor.record(r) for r in unique] if options.redact else unique
    summary.redactions = redactor.counts
    summary.records = len(records)
    summary.balance = _balance(records)
    splits: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        rendered = fmt.render(record)
        problems = validate(options.format, rendered)
        if problems:  # a bug of ours, not of the data: refuse to write a broken file
            raise InvalidRequest(
                f"an exported record fails the {options.format} schema: {'; '.join(problems)}",
                code=ErrorCode.INVALID_EXPORT,
            )
        if not fmt.provenance_inline:
            rendered = {"record": rendered, "provenance": record.provenance}
        split = split_of(record.prompt, options.test_fraction) if options.test_fraction else "all"
        splits.setdefault(split, []).append(rendered)
    summary.splits = {k: len(v) for k, v in splits.items()}
    return splits, summary


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _parquet(rows: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Provenance varies in shape (parameters differ by provider): one JSON text column.
    flat = [
        {**r, "provenance": json.dumps(r["provenance"], ensure_ascii=False)}
        if "provenance" in r
        else r
        for r in rows
    ]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(flat), buf)
    return buf.getvalue()


def _files(out: str, splits: dict[str, list[dict[str, Any]]], inline: bool) -> dict[str, bytes]:
    """File name -> bytes. Bedrock formats allow no extra keys: their provenance goes to a
    line-aligned sidecar file."""
    path = Path(out.rsplit("/", 1)[-1])
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".parquet"):
        raise InvalidRequest(
            f"cannot write {out}",
            code=ErrorCode.BAD_EXPORT_PATH,
            hint="End the path in .jsonl or .parquet.",
        )
    if suffix == ".parquet" and not inline:
        raise InvalidRequest(
            "Bedrock formats are JSONL only",
            code=ErrorCode.BAD_EXPORT_PATH,
            hint="Use a .jsonl path.",
        )
    files: dict[str, bytes] = {}
    for split, rows in splits.items():
        stem = path.stem if split == "all" else f"{path.stem}-{split}"
        if inline:
            files[stem + suffix] = _jsonl(rows) if suffix == ".jsonl" else _parquet(rows)
        else:
            files[stem + suffix] = _jsonl([r["record"] for r in rows])
            files[stem + ".provenance.jsonl"] = _jsonl([r["provenance"] for r in rows])
    return files


def export(store: Store, options: ExportOptions, out: str, *, s3: Any = None) -> ExportSummary:
    """Write the export to `out` (a local .jsonl/.parquet path, or s3://bucket/key.jsonl);
    `s3` is a boto3 S3 client for s3:// destinations."""
    splits, summary = prepare(store, options)
    files = _files(out, splits, FORMATS[options.format].provenance_inline)
    if out.startswith("s3://"):
        bucket, _, key = out[5:].partition("/")
        prefix = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
        if s3 is None:
            raise InvalidRequest("no S3 client for an s3:// destination", code=ErrorCode.NO_S3)
        for name, data in files.items():
            s3.put_object(Bucket=bucket, Key=prefix + name, Body=data)
            summary.files.append(f"s3://{bucket}/{prefix}{name}")
        return summary
    target = Path(out)
    if ".." in target.parts:
        raise InvalidRequest(f"refusing a path with '..': {out}", code=ErrorCode.BAD_EXPORT_PATH)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        for name, data in files.items():  # written whole, then moved: no half files
            staged = Path(tmp) / name
            staged.write_bytes(data)
            staged.replace(target.parent / name)
            summary.files.append(str(target.parent / name))
    return summary
