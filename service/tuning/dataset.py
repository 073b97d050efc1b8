"""A tuning job's dataset: the export of labels (`service.labels`), held in memory so it
can be checked against the base model's limits before a byte is written to S3, then
uploaded with its provenance sidecars; its hash, the ids of the labels it was built from
(the manifest) and the held-out prompts of its test split come with it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from evals.exports import FORMATS, json_line
from service.labels import ExportOptions, ExportSummary, StagedFiles, prepare
from service.store import Store

TRAIN_SPLITS = ("train", "all")


@dataclass
class TuningData:
    options: ExportOptions
    rows: dict[str, list[dict[str, Any]]]  # split -> rendered rows, as the export writes them
    summary: ExportSummary

    @property
    def inline(self) -> bool:
        return FORMATS[self.options.format].provenance_inline

    def records(self, split: str) -> list[dict[str, Any]]:
        rows = self.rows.get(split, [])
        return rows if self.inline else [r["record"] for r in rows]

    def provenance(self, split: str) -> list[dict[str, Any]]:
        rows = self.rows.get(split, [])
        return (
            [r["provenance"] for r in rows]
            if not self.inline
            else [r.get("provenance", {}) for r in rows]
        )

    @property
    def train(self) -> list[dict[str, Any]]:
        return [r for s in TRAIN_SPLITS for r in self.records(s)]

    @property
    def test(self) -> list[dict[str, Any]]:
        return self.records("test")

    @property
    def sha256(self) -> str:
        """Of the records as JSON lines, training split first (what the job learns from)."""
        digest = hashlib.sha256()
        for split in (*TRAIN_SPLITS, "test"):
            for record in self.records(split):
                digest.update(json_line(record))
        return digest.hexdigest()

    def manifest(self) -> dict[str, list[str]]:
        """The ids of the labels the records were built from, per kind, in export order."""
        votes: list[str] = []
        ideals: list[str] = []
        for split in (*TRAIN_SPLITS, "test"):
            for p in self.provenance(split):
                if p.get("vote_id"):
                    votes.append(p["vote_id"])
                if p.get("ideal_answer_id"):
                    ideals.append(p["ideal_answer_id"])
        return {"votes": list(dict.fromkeys(votes)), "ideal_answers": list(dict.fromkeys(ideals))}

    def held_out_prompts(self) -> list[str]:
        """The last user message of each test record (the prompts the job never saw)."""
        prompts: list[str] = []
        for record in self.test:
            prompts.append(_last_user_text(record))
        return list(dict.fromkeys(p for p in prompts if p))

    def upload(self, s3: Any, prefix: str) -> dict[str, str]:
        """Write the files under `prefix` (s3://bucket/path): `data-train.jsonl` and
        `data-test.jsonl` (or `data.jsonl` without a split) and their provenance sidecars.
        Returns {split: uri} of the record files."""
        files = StagedFiles(f"{prefix.rstrip('/')}/data.jsonl", self.inline)
        try:
            for split, rows in self.rows.items():
                for row in rows:
                    files.write(split, row)
        except BaseException:
            files.discard()
            raise
        written = files.publish(s3)
        uris: dict[str, str] = {}
        for uri in written:
            stem = uri.rsplit("/", 1)[-1].removesuffix(".jsonl")
            sidecar = stem.endswith(".provenance")
            stem = stem.removesuffix(".provenance")
            split = "train" if stem == "data" else stem.removeprefix("data-")
            uris[f"{split}_provenance" if sidecar else split] = uri
        return uris


def _last_user_text(record: dict[str, Any]) -> str:
    if "messages" in record:  # Bedrock conversation (content blocks) or TRL SFT (text)
        for m in reversed(record["messages"]):
            if m.get("role") == "user":
                content = m.get("content", "")
                if isinstance(content, str):
                    return content.strip()
                return " ".join(b.get("text", "") for b in content).strip()
        return ""
    prompt = record.get("prompt")
    if isinstance(prompt, list):  # TRL conversational
        for m in reversed(prompt):
            if m.get("role") == "user":
                return str(m.get("content", "")).strip()
    return str(prompt or "").strip()


def build(store: Store, options: ExportOptions) -> TuningData:
    rows, summary = prepare(store, options)
    return TuningData(options, rows, summary)
