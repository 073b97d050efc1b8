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
  criteria, all raters), 0 when either is unrated;
- records come in the order the labels were given; exact repeats (same prompt, same
  answers) are dropped, the first kept.

The records are streamed: read from the store in batches, redacted, checked and written one
at a time, so an export of a million votes takes as much memory as one of a thousand. A
record that fails its format's schema stops the export and nothing is put in place. The dry
run counts from aggregates (the shapes of the votes, kept as they arrive): records, skips
and balance; duplicates and
redactions need every record's text, so they are counted when the records are written (or
by a detailed dry run, which reads them all)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from evals.exports import (
    FORMATS,
    Completion,
    Deduplicator,
    Demonstration,
    Pair,
    Record,
    Redactor,
    json_line,
    split_of,
    validate,
)
from service.errors import ErrorCode, InvalidRequest
from service.labels.export_files import PART_SIZE, StagedFiles, check_destination
from service.store import ExportAnswer, ExportTurn, ExportVote, Filters, Store
from service.store import exports as stored

EXPORT_RULES = (
    __doc__.split("Rules, stated once (they are also in every summary):\n", 1)[1]
    .split("\n\n", 1)[0]
    .strip()
)
# Counted only when every record is read (a detailed dry run, or the export itself).
NEEDS_RECORDS = ("duplicates", "redactions", "splits")
Progress = Callable[[int, int], None]  # (labels read, labels in all)
PROGRESS_EVERY = 1000
_PREFERRING = ("a", "b", "ranking")  # outcomes that can give a pair


@dataclass(frozen=True)
class ExportOptions:
    format: str
    filters: Filters = field(default_factory=Filters)
    variants: tuple[str, ...] = ()  # only records whose answers all come from these
    # Leave out records with an answer of these (a tuned model's own answers, so its next
    # training set does not learn from itself).
    exclude_variants: tuple[str, ...] = ()
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
    # A quick dry run leaves these out (NEEDS_RECORDS): `records` is then counted before
    # exact repeats are dropped.
    not_counted: list[str] = field(default_factory=list)


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


def _head(turn: ExportTurn, vote: ExportVote | None) -> dict[str, Any]:
    """The provenance of every record of one label, before its answers."""
    out: dict[str, Any] = {
        "turn_id": turn.id,
        "conversation_id": turn.conversation_id,
        "mode": turn.mode,
        "turn_created_at": turn.created_at.isoformat(),
        "campaign": turn.campaign,
    }
    if vote is not None:
        out["vote_id"] = vote.id
        out["outcome"] = vote.outcome
        out["rater"] = vote.rater
        out["voted_at"] = vote.created_at.isoformat()
    return out


def _balance_key(record: Record) -> str:
    if isinstance(record, Completion):
        return "desirable" if record.label else "undesirable"
    if isinstance(record, Pair):
        return f"chosen: {record.provenance['chosen']['variant']}"
    return f"based on: {record.provenance['based_on']['variant']}"


class _Rules:
    """The export rules, applied to one vote (or to `weight` votes alike in a dry run)."""

    def __init__(self, options: ExportOptions, summary: ExportSummary) -> None:
        self.options, self.summary = options, summary
        self.weight = 1

    def skip(self, reason: str) -> None:
        self.summary.skipped[reason] = self.summary.skipped.get(reason, 0) + self.weight

    def _allowed(self, *answers: ExportAnswer) -> bool:
        wanted, excluded = self.options.variants, self.options.exclude_variants
        if not wanted and not excluded:
            return True
        if any(a.variant in excluded for a in answers):
            return False
        return not wanted or all(a.variant in wanted for a in answers)

    def agrees(self, agreeing: int | None, voters: int | None) -> bool:
        """The share of the turn's votes equal to its most common vote is high enough (a
        turn with one vote agrees fully)."""
        if self.options.min_agreement is None or not voters:
            return True
        if (agreeing or 0) / voters >= self.options.min_agreement:
            return True
        self.skip("below the minimum agreement")
        return False

    def pairs(
        self, outcome: str, ranking: list[int] | None, panes: dict[int, ExportAnswer]
    ) -> Iterator[tuple[ExportAnswer, ExportAnswer]]:
        """(chosen, rejected) for each preference the vote gives."""
        if outcome in ("a", "b"):
            matchups = [(0, 1) if outcome == "a" else (1, 0)]
        elif outcome == "ranking" and ranking:
            ranked = list(ranking)
            matchups = [
                (ranked[x], ranked[y])
                for x in range(len(ranked))
                for y in range(x + 1, len(ranked))
            ]
        else:
            self.skip(f"{outcome} (no preferred answer)")
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
            yield chosen, rejected

    def completions(
        self, outcome: str, ranking: list[int] | None, panes: dict[int, ExportAnswer]
    ) -> Iterator[tuple[ExportAnswer, bool]]:
        """(answer, desirable?) for each answer the vote judges."""
        labels: dict[int, bool] = {}
        if outcome in ("a", "b"):
            labels = {0: outcome == "a", 1: outcome == "b"}
        elif outcome in ("tie", "both_bad"):
            if self.options.exclude_ties:
                self.skip(f"{outcome} (excluded)")
                return
            labels = {p: outcome == "tie" for p in panes}
        elif outcome == "ranking" and ranking:
            labels = {ranking[0]: True, ranking[-1]: False}
        for pane, label in sorted(labels.items()):
            answer = panes.get(pane)
            if answer is None or answer.status != "ok":
                self.skip("an answer failed")
                continue
            if not self._allowed(answer):
                self.skip("variant filtered out")
                continue
            yield answer, label

    def base_of(
        self, text: str, based_on: str | None, answers: list[ExportAnswer]
    ) -> ExportAnswer | None:
        """The answer an ideal answer is based on (the one it names, else the first pane),
        or None when the ideal answer is empty."""
        by_id = {a.id: a for a in answers}
        base = by_id.get(based_on or "") or min(answers, key=lambda a: a.pane)
        if not text.strip():
            self.skip("empty ideal answer")
            return None
        return base


class _Gatherer(_Rules):
    """The records, read from the store one label at a time."""

    def __init__(
        self,
        store: Store,
        options: ExportOptions,
        summary: ExportSummary,
        progress: Progress | None = None,
    ) -> None:
        super().__init__(options, summary)
        self.store, self.progress = store, progress
        self.kind = FORMATS[options.format].kind
        self.total = 0
        if progress is not None:
            count = stored.count_ideals if self.kind is Demonstration else stored.count_votes
            self.total = count(store, options.filters)
            progress(0, self.total)

    def _labels(self) -> Iterator[tuple[Any, ExportTurn]]:
        if self.kind is Demonstration:
            source: Iterator[tuple[Any, ExportTurn]] = stored.ideals_with_turns(
                self.store, self.options.filters
            )
        else:
            source = stored.votes_with_turns(
                self.store,
                self.options.filters,
                rubric=FORMATS[self.options.format].margin,
                agreement=self.options.min_agreement is not None,
            )
        done = 0
        for label in source:
            yield label
            done += 1
            if self.progress is not None and done % PROGRESS_EVERY == 0:
                self.progress(done, max(done, self.total))
        if self.progress is not None:
            self.progress(done, max(done, self.total))

    def records(self) -> Iterator[Record]:
        demonstrations, pairs = self.kind is Demonstration, self.kind is Pair
        agreement = self.options.min_agreement is not None
        for label, turn in self._labels():
            if demonstrations:
                yield from self._demonstration(label, turn)
                continue
            vote: ExportVote = label
            if agreement and not self.agrees(vote.agreeing, vote.voters):
                continue
            panes: dict[int, ExportAnswer] = {}
            if not pairs or vote.outcome in _PREFERRING:  # else `pairs` only counts the skip
                panes = {a.pane: a for a in turn.answers}
            head: dict[str, Any] | None = None  # built once per label, for its first record
            if pairs:
                for chosen, rejected in self.pairs(vote.outcome, vote.ranking, panes):
                    margin = None
                    if chosen.rubric_mean is not None and rejected.rubric_mean is not None:
                        margin = chosen.rubric_mean - rejected.rubric_mean
                    head = head or _head(turn, vote)
                    yield Pair(
                        _prompt(turn, chosen),
                        chosen.text,
                        rejected.text,
                        {**head, "chosen": _side(chosen), "rejected": _side(rejected)},
                        margin,
                    )
            else:
                for answer, desirable in self.completions(vote.outcome, vote.ranking, panes):
                    head = head or _head(turn, vote)
                    yield Completion(
                        _prompt(turn, answer),
                        answer.text,
                        desirable,
                        {**head, "answer": _side(answer)},
                    )

    def _demonstration(self, ideal: stored.ExportIdeal, turn: ExportTurn) -> Iterator[Record]:
        base = self.base_of(ideal.text, ideal.based_on_answer_id, turn.answers)
        if base is None:
            return
        if base.variant in self.options.exclude_variants:
            self.skip("variant filtered out")
            return
        provenance = {**_head(turn, None), "based_on": _side(base)} | {
            "ideal_answer_id": ideal.id,
            "rater": ideal.rater,
            "written_at": ideal.created_at.isoformat(),
        }
        yield Demonstration(_prompt(turn, base), ideal.text, provenance)


def dry_run(store: Store, options: ExportOptions, *, recount: bool = False) -> ExportSummary:
    """The summary from aggregates: how many records each format would give, what is skipped
    and why, and the balance — without building a record. Duplicates, redactions and
    splits are left out (`not_counted`): they need every record's text. The votes' shapes
    come from the counts kept as votes arrive when they cover the filters, else (or with
    `recount`) from one GROUP BY over the votes."""
    options.check()
    summary = ExportSummary(options.format, not_counted=list(NEEDS_RECORDS))
    rules = _Rules(options, summary)
    kind = FORMATS[options.format].kind
    balance: Counter[str] = Counter()
    if kind is Demonstration:
        for variant, empty, count in stored.ideal_shapes(store, options.filters):
            if empty:
                rules.weight = count
                rules.skip("empty ideal answer")
            elif variant in options.exclude_variants:
                rules.weight = count
                rules.skip("variant filtered out")
            else:
                balance[f"based on: {variant}"] += count
    else:
        agreement = options.min_agreement is not None
        shapes = stored.vote_shapes(store, options.filters, agreement=agreement, recount=recount)
        for shape in shapes:
            rules.weight = shape.count
            if not rules.agrees(shape.agreeing, shape.voters):
                continue
            panes = {
                p: ExportAnswer("", p, variant, status, "", None, None, None)
                for p, (variant, status) in shape.panes.items()
            }
            if kind is Pair:
                for chosen, _ in rules.pairs(shape.outcome, shape.ranking, panes):
                    balance[f"chosen: {chosen.variant}"] += shape.count
            else:
                for _, desirable in rules.completions(shape.outcome, shape.ranking, panes):
                    balance["desirable" if desirable else "undesirable"] += shape.count
    summary.balance = dict(balance)
    summary.records = sum(balance.values())
    if not options.test_fraction:
        summary.splits = {"all": summary.records} if summary.records else {}
        summary.not_counted.remove("splits")
    if not options.redact:
        summary.not_counted.remove("redactions")
    return summary


def rendered(
    store: Store,
    options: ExportOptions,
    summary: ExportSummary,
    progress: Progress | None = None,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(split, rendered record) for each record to write, oldest label first, each de-
    duplicated, redacted and checked against its format's schema; the summary is counted as
    they go (complete once the iterator is exhausted)."""
    options.check()
    fmt = FORMATS[options.format]
    redactor = Redactor()
    summary.redactions = redactor.counts
    balance: Counter[str] = Counter()
    with Deduplicator() as seen:
        for record in _Gatherer(store, options, summary, progress).records():
            if not seen.first(record):
                summary.duplicates += 1
                continue
            if options.redact:
                record = redactor.record(record)
            row = fmt.render(record)
            problems = validate(options.format, row)
            if problems:  # a bug of ours, not of the data: refuse to write a broken file
                raise InvalidRequest(
                    f"an exported record fails the {options.format} schema: " + "; ".join(problems),
                    code=ErrorCode.INVALID_EXPORT,
                )
            if not fmt.provenance_inline:
                row = {"record": row, "provenance": record.provenance}
            split = (
                split_of(record.prompt, options.test_fraction) if options.test_fraction else "all"
            )
            summary.records += 1
            summary.splits[split] = summary.splits.get(split, 0) + 1
            balance[_balance_key(record)] += 1
            yield split, row
    summary.balance = dict(balance)


def detailed_dry_run(
    store: Store, options: ExportOptions, progress: Progress | None = None
) -> ExportSummary:
    """Every count, duplicates and redactions included: reads every record, writes none."""
    summary = ExportSummary(options.format)
    for _ in rendered(store, options, summary, progress):
        pass
    return summary


def prepare(
    store: Store, options: ExportOptions
) -> tuple[dict[str, list[dict[str, Any]]], ExportSummary]:
    """The rendered, validated records per split, in memory, and the summary (for small
    exports and tests; `export` and `jsonl_chunks` stream)."""
    summary = ExportSummary(options.format)
    splits: dict[str, list[dict[str, Any]]] = {}
    for split, row in rendered(store, options, summary):
        splits.setdefault(split, []).append(row)
    return splits, summary


def jsonl_chunks(
    store: Store, options: ExportOptions, chunk_bytes: int = 1 << 16
) -> Iterator[bytes]:
    """The records (without splits) as JSON lines in chunks of about `chunk_bytes`, for an
    HTTP response; Bedrock formats give the records only."""
    summary = ExportSummary(options.format)
    lines: list[bytes] = []
    size = 0
    for _, row in rendered(store, options, summary):
        line = json_line(row.get("record", row) if "record" in row else row)
        lines.append(line)
        size += len(line)
        if size >= chunk_bytes:
            yield b"".join(lines)
            lines, size = [], 0
    if lines:
        yield b"".join(lines)


def export(
    store: Store,
    options: ExportOptions,
    out: str,
    *,
    s3: Any = None,
    progress: Progress | None = None,
    part_size: int = PART_SIZE,
) -> ExportSummary:
    """Write the export to `out` (a local .jsonl/.parquet path, or s3://bucket/key.jsonl);
    `s3` is a boto3 S3 client for s3:// destinations (files above `part_size` go up as
    multipart uploads). `progress(done, total)` is called as labels are read."""
    options.check()
    inline = FORMATS[options.format].provenance_inline
    check_destination(out, inline)
    if out.startswith("s3://") and s3 is None:
        raise InvalidRequest("no S3 client for an s3:// destination", code=ErrorCode.NO_S3)
    summary = ExportSummary(options.format)
    files = StagedFiles(out, inline)
    try:
        for split, row in rendered(store, options, summary, progress):
            files.write(split, row)
    except BaseException:
        files.discard()
        raise
    summary.files = files.publish(s3, part_size)
    return summary
