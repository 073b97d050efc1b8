"""More live votes than one statement may bind parameters (PostgreSQL: 65,535): the read
paths that used to bind one parameter per row — export dry run and export (JSONL streamed
over HTTP), campaign status, use-case status — all answer, with the counts the export rules
give. And a big export goes to S3 as a multipart upload."""

from __future__ import annotations

import json

import boto3
import httpx
import pytest

from evals.exports import validate
from service.app.runtime import Runtime
from service.labels import ExportOptions, dry_run, export
from tests.support.bulk import fill
from tests.support.fixtures import LiveServer

VOTES = 72_000


@pytest.mark.timeout(1800)  # 72,000 labelled turns filled, then read whole twice
@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_every_read_path_answers_past_the_parameter_limit(
    runtime: Runtime, live: LiveServer
) -> None:
    store, url = runtime.store, live.url
    expected = fill(store, VOTES, use_case="chat", campaign="bulk", text_bytes=40)
    skipped = {
        "tie (no preferred answer)": expected["tie"],
        "both_bad (no preferred answer)": expected["both_bad"],
        "an answer failed": expected["failed"],
    }

    dry = httpx.get(f"{url}/api/exports/trl-preference", params={"dry_run": True}, timeout=120)
    assert dry.status_code == 200, dry.text
    summary = dry.json()
    assert summary["records"] == expected["pairs"] and summary["skipped"] == skipped
    assert summary["not_counted"] == ["duplicates", "redactions"]
    # Agreement is counted per turn in SQL too (one vote per turn: every turn agrees).
    kto = dry_run(store, ExportOptions("trl-kto", min_agreement=0.9))
    assert "below the minimum agreement" not in kto.skipped and kto.records > VOTES

    with httpx.stream(
        "GET", f"{url}/api/exports/trl-preference", params={"redact": False}, timeout=300
    ) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line]
    assert len(lines) == expected["pairs"]
    first, last = json.loads(lines[0]), json.loads(lines[-1])
    assert validate("trl-preference", first) == [] and validate("trl-preference", last) == []
    assert first["provenance"]["campaign"] == "bulk"
    assert "哪辆自行车" in first["prompt"][-1]["content"]

    campaign = httpx.get(f"{url}/api/campaigns/bulk", timeout=120)
    assert campaign.status_code == 200, campaign.text
    assert campaign.json()["answered"] == VOTES and campaign.json()["completed"] == VOTES

    spec = {"variants": ["alpha", "beta"], "targets": ["error_rate <= 0.5"], "min_samples": 2}
    assert httpx.put(f"{url}/api/usecases/chat", json=spec).status_code == 200
    status = httpx.get(f"{url}/api/usecases/chat/status", timeout=300)
    assert status.status_code == 200, status.text
    assert {v["variant"] for v in status.json()["variants"]} == {"alpha", "beta"}


def test_a_big_export_goes_to_s3_in_parts(runtime: Runtime, moto_server: str) -> None:
    store = runtime.store
    expected = fill(store, 3000, text_bytes=1500)  # > 5 MB of JSON lines
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1")
    bucket = f"scale-{store.engine.dialect.name}"
    s3.create_bucket(Bucket=bucket)
    wrote = export(
        store,
        ExportOptions("trl-preference", redact=False),
        f"s3://{bucket}/big/prefs.jsonl",
        s3=s3,
        part_size=5 * 1024 * 1024,
    )
    assert wrote.records == expected["pairs"] and wrote.duplicates == 0
    assert wrote.files == [f"s3://{bucket}/big/prefs.jsonl"]
    head = s3.head_object(Bucket=bucket, Key="big/prefs.jsonl")
    parts = int(head["ETag"].strip('"').rsplit("-", 1)[1])  # a multipart upload's ETag
    assert parts >= 2 and head["ContentLength"] > 5 * 1024 * 1024
    body = s3.get_object(Bucket=bucket, Key="big/prefs.jsonl")["Body"].read().decode()
    lines = body.splitlines()
    assert len(lines) == expected["pairs"] and json.loads(lines[-1])["chosen"][0]["content"]
