"""Exports of labels as training data (SQLite and PostgreSQL): every format loads with the
library that consumes it and passes its schema, provenance is there, planted PII is gone,
splits never share a prompt, and S3 destinations work (moto's server)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from datasets import Dataset, load_dataset

from evals.exports import prompt_key, validate
from service.app.runtime import Runtime
from service.labels.exports import ExportOptions, export, prepare
from tests.fakes.script import Script
from tests.support.fixtures import LiveServer
from tests.support.gradio import page_client

PII_PROMPT = "I am jane.doe@example.com, phone +1 415 555 0134. Which bike should I buy?"


def compare(
    url: str, prompt: str, variants: list[str], conversation_id: str | None = None
) -> dict[str, Any]:
    r = httpx.post(
        f"{url}/api/compare",
        json={"prompt": prompt, "variants": variants, "conversation_id": conversation_id},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def vote(url: str, turn_id: str, outcome: str, rater: str = "r1", **extra: Any) -> None:
    r = httpx.post(
        f"{url}/api/turns/{turn_id}/votes",
        json={"outcome": outcome, "on_behalf_of": rater, **extra},
    )
    assert r.status_code in (200, 201), r.text


@pytest.fixture
def labelled(runtime: Runtime, scripts: dict[str, Script], live: LiveServer) -> LiveServer:
    url = live.url
    scripts["alpha"].tokens = ["Take the Volt.", " My key is AKIAIOSFODNN7EXAMPLE."]
    first = compare(url, PII_PROMPT, ["alpha", "beta"])
    vote(url, first["id"], "a")
    httpx.post(
        f"{url}/api/turns/{first['id']}/labels",
        json={
            "on_behalf_of": "r1",
            "ratings": [
                {"pane": 0, "helpfulness": 5, "honesty": 5, "harmlessness": 5},
                {"pane": 1, "helpfulness": 2, "honesty": 2, "harmlessness": 2},
            ],
            "ideal_answer": "Take the Volt 2; write to support@lumen.example for a test ride.",
            "ideal_based_on_pane": 0,
        },
    ).raise_for_status()
    follow = compare(url, "And in red?", ["alpha", "beta"], first["conversation_id"])
    vote(url, follow["id"], "a")
    vote(url, follow["id"], "b")  # changed: only this one counts
    vote(url, compare(url, "Tie question", ["alpha", "beta"])["id"], "tie")
    vote(url, compare(url, "Bad question", ["alpha", "beta"])["id"], "both_bad")
    three = compare(url, "Rank us", ["alpha", "beta", "gamma"])
    vote(url, three["id"], "ranking", ranking=[2, 0, 1])
    return live


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_preference_pairs_keep_history_provenance_and_margin(
    runtime: Runtime, labelled: LiveServer, tmp_path: Path
) -> None:
    summary = export(runtime.store, ExportOptions("trl-preference"), str(tmp_path / "p.jsonl"))
    # A/B votes: 2 pairs; the ranking of three: 3 pairs; the tie and both-bad: none.
    assert summary.records == 5 and summary.skipped == {
        "tie (no preferred answer)": 1,
        "both_bad (no preferred answer)": 1,
    }
    data = load_dataset("json", data_files=str(tmp_path / "p.jsonl"), split="train")
    assert data.column_names == ["prompt", "chosen", "rejected", "provenance"]
    records = rows(tmp_path / "p.jsonl")
    assert all(validate("trl-preference", r) == [] for r in records)
    # TRL's own checks: conversational, the prompt already split out, and unpairing (what
    # its KTO path does to a preference dataset) works on it.
    from trl.data_utils import is_conversational, maybe_extract_prompt, unpair_preference_dataset

    assert all(is_conversational(r) for r in records)
    assert all(maybe_extract_prompt(r)["prompt"] == r["prompt"] for r in records)
    unpaired = unpair_preference_dataset(data.remove_columns("provenance"))
    assert len(unpaired) == 2 * len(records) and set(unpaired["label"]) == {True, False}
    follow = next(r for r in records if r["prompt"][-1]["content"] == "And in red?")
    # Multi-turn: the first prompt and the chosen pane's (beta's) first answer come first.
    assert [m["role"] for m in follow["prompt"]] == ["user", "assistant", "user"]
    assert follow["prompt"][1]["content"] == "It is Paris."
    assert follow["provenance"]["chosen"]["variant"] == "beta"
    assert follow["provenance"]["outcome"] == "b" and follow["provenance"]["rater"] == "r1"
    first = next(r for r in records if "bike" in r["prompt"][-1]["content"])
    prov = first["provenance"]
    assert {"turn_id", "conversation_id", "vote_id", "voted_at", "mode", "campaign"} <= set(prov)
    assert prov["chosen"]["pane"] == 0 and prov["rejected"]["pane"] == 1
    assert prov["chosen"]["params"]["temperature"] == 0.1  # alpha's parameters, as sent
    assert prov["chosen"]["system_prompt"] == "You are alpha."
    # PII planted in the prompt and in an answer is gone.
    text = (tmp_path / "p.jsonl").read_text()
    for secret in ("jane.doe@example.com", "415 555 0134", "AKIAIOSFODNN7EXAMPLE"):
        assert secret not in text
    assert "[EMAIL]" in text and "[AWS_ACCESS_KEY]" in text
    assert summary.redactions["EMAIL"] >= 1 and summary.redactions["PHONE"] >= 1

    rewards = prepare(runtime.store, ExportOptions("reward-pairs"))[0]["all"]
    margins = {r["provenance"]["turn_id"]: r["margin"] for r in rewards}
    assert margins[first["provenance"]["turn_id"]] == 3.0  # 5 - 2 on every criterion
    assert sorted(margins.values()).count(0.0) == len(margins) - 1  # unrated pairs: 0


def test_kto_labels_follow_the_stated_rules(
    runtime: Runtime, labelled: LiveServer, tmp_path: Path
) -> None:
    out = tmp_path / "kto.parquet"
    summary = export(runtime.store, ExportOptions("trl-kto"), str(out))
    data = Dataset.from_parquet(str(out))
    assert set(data.column_names) == {"prompt", "completion", "label", "provenance"}
    from trl.data_utils import is_conversational

    assert all(is_conversational(row) for row in data)
    # A/B: 2 + 2; tie: 2 desirable; both bad: 2 undesirable; ranking: first and last.
    assert len(data) == 10 and summary.balance == {"desirable": 5, "undesirable": 5}
    assert all(isinstance(json.loads(p)["turn_id"], str) for p in data["provenance"])
    strict = prepare(runtime.store, ExportOptions("trl-kto", exclude_ties=True))[1]
    assert strict.records == 6 and strict.skipped["tie (excluded)"] == 1


def test_hh_and_bedrock_formats(runtime: Runtime, labelled: LiveServer, tmp_path: Path) -> None:
    export(runtime.store, ExportOptions("hh-rlhf"), str(tmp_path / "hh.jsonl"))
    hh = rows(tmp_path / "hh.jsonl")
    assert hh[0]["chosen"].startswith("\n\nHuman: ") and "\n\nAssistant: " in hh[0]["rejected"]

    summary = export(runtime.store, ExportOptions("bedrock-dpo"), str(tmp_path / "dpo.jsonl"))
    dpo = rows(tmp_path / "dpo.jsonl")
    sidecar = rows(tmp_path / "dpo.provenance.jsonl")
    assert len(dpo) == len(sidecar) == 5 and summary.files[-1].endswith("dpo.provenance.jsonl")
    for record in dpo:
        assert validate("bedrock-dpo", record) == []
        assert set(record) == {"schemaVersion", "system", "messages"}  # no extra keys
        last = record["messages"][-1]
        assert [c["preferenceLabel"] for c in last["candidates"]] == ["preferred", "non-preferred"]
    broken = json.loads(json.dumps(dpo[0]))
    broken["messages"][-1]["candidates"][1]["preferenceLabel"] = "preferred"
    assert validate("bedrock-dpo", broken) != []

    sft = prepare(runtime.store, ExportOptions("bedrock-sft"))[0]["all"]
    assert len(sft) == 1
    record = sft[0]["record"]
    assert validate("bedrock-sft", record) == []
    assert record["messages"][-1]["content"][0]["text"].startswith("Take the Volt 2")
    assert "support@lumen.example" not in json.dumps(record)  # redacted
    assert sft[0]["provenance"]["based_on"]["variant"] == "alpha"


def test_splits_never_share_a_prompt_and_dry_run_writes_nothing(
    runtime: Runtime, labelled: LiveServer, tmp_path: Path
) -> None:
    splits, summary = prepare(runtime.store, ExportOptions("trl-kto", test_fraction=0.5))
    assert set(splits) <= {"train", "test"} and sum(summary.splits.values()) == summary.records
    keys = {name: {prompt_key(r["prompt"]) for r in records} for name, records in splits.items()}
    assert not (keys.get("train", set()) & keys.get("test", set()))
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".jsonl", ".parquet")]


def test_api_and_s3(
    runtime: Runtime, labelled: LiveServer, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = labelled.url
    dry = httpx.get(f"{url}/api/exports/trl-preference", params={"dry_run": True}).json()
    assert dry["records"] == 5 and "ties and both-bad give" in dry["rules"]
    body = httpx.get(f"{url}/api/exports/trl-preference", params={"variant": ["alpha", "beta"]})
    assert body.headers["content-type"].startswith("application/x-ndjson")
    lines = body.text.splitlines()
    assert len(lines) == 3  # the ranking's two pairs with gamma are filtered out
    bad = httpx.get(f"{url}/api/exports/nope")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "unknown_format"

    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    s3.create_bucket(Bucket="labels")
    summary = export(
        runtime.store,
        ExportOptions("trl-preference", test_fraction=0.5),
        "s3://labels/exports/prefs.jsonl",
        s3=s3,
    )
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="labels")["Contents"])
    assert keys == sorted(f.removeprefix("s3://labels/") for f in summary.files)
    assert all(k.startswith("exports/prefs-") for k in keys)


def test_export_command(runtime: Runtime, labelled: LiveServer, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    store = runtime.store
    database_url = store.url + (f"?options=-csearch_path%3D{store.schema}" if store.schema else "")
    env = {**os.environ, "ARBITER_DATABASE_URL": database_url, "COLUMNS": "200"}

    def arbiter(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "service", "export", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    dry = arbiter("trl-kto", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stdout and "desirable: 5, undesirable: 5" in dry.stdout
    assert not list(tmp_path.glob("*.jsonl"))
    wrote = arbiter("hh-rlhf", "--out", "out/hh.jsonl", "--test-fraction", "0.5")
    assert wrote.returncode == 0, wrote.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written and all(n.startswith(("hh-train", "hh-test")) for n in written)
    unknown = arbiter("dpo-please", "--dry-run")
    assert unknown.returncode == 1 and "unknown export format" in unknown.stderr
    no_out = arbiter("trl-kto")
    assert no_out.returncode == 1 and "--out" in no_out.stderr


def test_export_tab(labelled: LiveServer, live_ui: LiveServer) -> None:

    c = page_client(live_ui.url)
    dry = c.predict("trl-kto", "all", 0, False, True, api_name="/export_dry_run")
    assert "**10 records** of `trl-kto`. Dry run, nothing written." in dry
    assert "desirable: 5" in dry and "EMAIL: " in dry
    summary, files = c.predict(
        "trl-preference", ".parquet", "all", 0, False, True, api_name="/export"
    )
    assert "**5 records**" in summary and "Written." in summary
    assert len(files) == 1
    data = Dataset.from_parquet(files[0])
    assert len(data) == 5 and "chosen" in data.column_names


def test_minimum_agreement_leaves_out_disputed_turns(runtime: Runtime, live: LiveServer) -> None:
    url = live.url
    disputed = compare(url, "Disputed", ["alpha", "beta"])["id"]
    for rater, outcome in (("r1", "a"), ("r2", "b"), ("r3", "a")):
        vote(url, disputed, outcome, rater=rater)
    clear = compare(url, "Clear", ["alpha", "beta"])["id"]
    for rater in ("r1", "r2"):
        vote(url, clear, "b", rater=rater)

    def turns(minimum: float | None) -> set[str]:
        splits, _ = prepare(runtime.store, ExportOptions("trl-kto", min_agreement=minimum))
        return {r["provenance"]["turn_id"] for r in splits.get("all", [])}

    assert turns(None) == {disputed, clear}
    assert turns(0.6) == {disputed, clear}  # 2 of 3 agree: 0.67
    assert turns(0.7) == {clear}
    skipped = prepare(runtime.store, ExportOptions("trl-kto", min_agreement=0.7))[1].skipped
    assert skipped["below the minimum agreement"] == 3
    bad = httpx.get(f"{url}/api/exports/trl-kto", params={"min_agreement": 2})
    assert bad.status_code == 422
