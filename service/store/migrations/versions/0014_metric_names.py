"""One name, one definition: `faithfulness`, `answer_relevancy`, `context_precision` and
`context_recall` now mean ragas' metrics (computed by ragas). Scores stored under those
names before were Arbiter's own: the non-LLM ones become `faithfulness_overlap`,
`answer_relevancy_embedding`, `context_precision_match`, `context_recall_match`; the
single-prompt judge ones `*_judge`. Told apart by their stored version. Eval runs' metric
lists (by whether the run had a judge) and use cases' metrics and targets (use-case runs
have no judge) follow.

Revision ID: 0014
Revises: 0013
"""

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Copied, not imported: a migration must not change when the code does.
RENAMED = {  # old name -> (non-LLM name, judge name)
    "faithfulness": ("faithfulness_overlap", "faithfulness_judge"),
    "answer_relevancy": ("answer_relevancy_embedding", "answer_relevancy_judge"),
    "context_precision": ("context_precision_match", "context_precision_judge"),
    "context_recall": ("context_recall_match", "context_recall_judge"),
}
NON_LLM_VERSIONS = ("overlap-", "nonllm-", "cosine-")  # version prefixes of the non-LLM ones
JUDGE_VERSION = "rag-llm-v1@"
BACK = {new: old for old, pair in RENAMED.items() for new in pair}

scores = sa.table(
    "scores",
    sa.column("id", sa.String),
    sa.column("metric", sa.String),
    sa.column("version", sa.String),
)
eval_items = sa.table("eval_items", sa.column("id", sa.String), sa.column("scores", sa.JSON))
eval_runs = sa.table(
    "eval_runs",
    sa.column("id", sa.String),
    sa.column("metrics", sa.JSON),
    sa.column("judge", sa.String),
)
use_cases = sa.table("use_cases", sa.column("id", sa.String), sa.column("spec", sa.JSON))
_TARGET = re.compile(r"^(\s*)([A-Za-z_]\w*)")


def new_name(metric: str, version: str | None) -> str | None:
    """The new name of a stored score, or None when it keeps its name."""
    if metric not in RENAMED or not version:
        return None
    if version.startswith(NON_LLM_VERSIONS):
        return RENAMED[metric][0]
    if version.startswith(JUDGE_VERSION):
        return RENAMED[metric][1]
    return None


def _rename_scores(conn: Any, rename: Any) -> None:
    for old in {*RENAMED, *BACK}:
        rows = conn.execute(
            sa.select(scores.c.version).where(scores.c.metric == old).distinct()
        ).all()
        for (version,) in rows:
            new = rename(old, version)
            if new is not None:
                conn.execute(
                    sa.update(scores)
                    .where(scores.c.metric == old, scores.c.version == version)
                    .values(metric=new)
                )
    for item_id, item_scores in conn.execute(sa.select(eval_items.c.id, eval_items.c.scores)):
        if not isinstance(item_scores, list):
            continue
        changed = []
        for s in item_scores:
            new = rename(s.get("metric"), s.get("version")) if isinstance(s, dict) else None
            changed.append({**s, "metric": new} if new is not None else s)
        if changed != item_scores:
            conn.execute(
                sa.update(eval_items).where(eval_items.c.id == item_id).values(scores=changed)
            )


def _rename_list(names: Any, pick: Any) -> Any:
    if not isinstance(names, list):
        return names
    return [pick(n) if isinstance(n, str) else n for n in names]


def _rename_lists(conn: Any, run_pick: Any, use_case_pick: Any) -> None:
    for run_id, metrics, judge in conn.execute(
        sa.select(eval_runs.c.id, eval_runs.c.metrics, eval_runs.c.judge)
    ):
        new = _rename_list(metrics, lambda n, j=judge: run_pick(n, j))
        if new != metrics:
            conn.execute(sa.update(eval_runs).where(eval_runs.c.id == run_id).values(metrics=new))
    for case_id, spec in conn.execute(sa.select(use_cases.c.id, use_cases.c.spec)):
        if not isinstance(spec, dict):
            continue
        targets = spec.get("targets")
        new_spec = {
            **spec,
            "metrics": _rename_list(spec.get("metrics"), use_case_pick),
            **(
                {
                    "targets": [
                        _TARGET.sub(lambda m: m.group(1) + use_case_pick(m.group(2)), t, count=1)
                        if isinstance(t, str)
                        else t
                        for t in targets
                    ]
                }
                if isinstance(targets, list)
                else {}
            ),
        }
        if "metrics" not in spec:
            del new_spec["metrics"]
        if new_spec != spec:
            conn.execute(
                sa.update(use_cases).where(use_cases.c.id == case_id).values(spec=new_spec)
            )


def upgrade() -> None:
    conn = op.get_bind()
    _rename_scores(conn, lambda m, v: new_name(m, v) if m in RENAMED else None)
    _rename_lists(
        conn,
        lambda n, judge: RENAMED[n][1 if judge else 0] if n in RENAMED else n,
        lambda n: RENAMED[n][0] if n in RENAMED else n,
    )


def downgrade() -> None:
    # Back to the old names; scores ragas computed under the ragas names keep them.
    conn = op.get_bind()
    _rename_scores(conn, lambda m, v: BACK.get(m))
    _rename_lists(conn, lambda n, judge: BACK.get(n, n), lambda n: BACK.get(n, n))
