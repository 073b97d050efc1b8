"""Online scoring: every finished turn of the page or the API gets a `score_turn` job; the
worker runs the configured reference-free metrics (and the rubric judge, when one is set)
on each answer and stores one Score per metric. The page never waits for it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from evals.base import Metric, MetricResult, Sample
from evals.judges import RubricJudge
from monitoring.records import Record, ScoreRecord
from service.store import Store, scores, turns

SCORE_TURN = "score_turn"
_JOB_IDS = uuid.UUID("6f1d3c1e-5a0b-4c55-9b8e-3f0a2d7c9e11")


def scoring_job_id(turn_id: str) -> str:
    """One scoring job per turn, with an id derived from the turn's: enqueuing it twice
    is refused by the store, and the page can ask how the turn's scoring is going."""
    return str(uuid.uuid5(_JOB_IDS, f"{SCORE_TURN}:{turn_id}"))


class OnlineScoring:
    def __init__(
        self,
        store: Store,
        metrics: list[Metric],
        judge: RubricJudge | None,
        *,
        emit: Callable[[str | None, Record], None] | None = None,
    ) -> None:
        self._store = store
        self._emit = emit  # (turn_id, record): a blind turn's scores wait for its vote
        self.metrics = metrics
        self.judge = judge

    @property
    def enabled(self) -> bool:
        return bool(self.metrics) or self.judge is not None

    def score_turn(self, payload: dict[str, Any]) -> None:
        """The job handler. Idempotent: metrics already stored for an answer are skipped,
        so a retried job adds no duplicates."""
        turn_id = str(payload["turn_id"])
        turn = turns.get_turn(self._store, turn_id)
        texts = {c["ref"]: c["text"] for c in (turn.retrieval or {}).get("chunks", [])}
        have = scores.scored(self._store, turn_id)
        for answer in turn.answers:
            if answer.status != "ok":
                continue  # failed answers count in the error rate, they are not scored
            sample = Sample(
                answer=answer.text,
                question=turn.prompt,
                contexts=tuple(texts[r] for r in answer.context_refs or () if r in texts),
            )
            results: list[MetricResult] = []
            for metric in self.metrics:
                if (answer.id, metric.name) in have:
                    continue
                if metric.needs_context and not sample.contexts:
                    continue  # not applicable to an answer given no context
                results.append(metric.score(sample))
            if self.judge is not None and (answer.id, "judge_helpfulness") not in have:
                results += self.judge.score(sample)
            self._save(turn_id, answer.id, answer.variant, results)

    def _save(
        self, turn_id: str, answer_id: str, variant: str, results: list[MetricResult]
    ) -> None:
        if not results:
            return
        scores.save_scores(
            self._store,
            turn_id,
            answer_id,
            variant,
            [
                {
                    "metric": r.metric,
                    "version": r.version,
                    "value": r.value,
                    "error": r.error,
                    "detail": r.detail,
                }
                for r in results
            ],
        )
        if self._emit is not None:
            for r in results:
                self._emit(
                    turn_id,
                    ScoreRecord(
                        r.metric,
                        variant,
                        r.value,
                        source="online",
                        version=r.version,
                        explanation=r.detail.get("explanation"),
                    ),
                )
