"""`arbiter tune` as a person runs it (a subprocess on a SQLite file) and /api/tunings over
HTTP, on the fake AWS server's Bedrock control plane and moto's S3."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from service.store import tunings
from tests.fakes.aws_server import FakeAws
from tests.fakes.script import Script
from tests.support.cli import run
from tests.support.fixtures import LiveServer, scratch_store
from tests.support.tuning import ROLE, fresh_bucket, label_turns, point_aws, tuning_runtime


def test_the_tune_commands_from_labels_to_lineage(
    fake_aws: FakeAws, moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"cli-{uuid.uuid4().hex[:8]}"
    fresh_bucket(moto_server, bucket)
    home = tmp_path / "home"
    home.mkdir()
    with scratch_store("sqlite", home) as store:
        runtime = tuning_runtime(store, fake_aws, tmp_path)
        label_turns(store, 12)
        runtime.close()
    env = {
        "ARBITER_VARIANTS_FILE": str(tmp_path / "variants.toml"),
        "ARBITER_EXAMPLE_USE_CASE": "false",
        "AWS_ENDPOINT_URL_BEDROCK": fake_aws.url,
        "AWS_ENDPOINT_URL_S3": moto_server,
    }
    common = ["--base", "nova", "--role-arn", ROLE, "--s3-prefix", f"s3://{bucket}/cli"]
    refused = run(["tune", "create", *common, "--hp", "epochCount=7"], tmp_path, env)
    assert refused.returncode == 1
    assert "epochCount: 7 is outside 1..5 (default 2)" in refused.stderr
    assert "how to fix" in refused.stderr

    made = run(
        ["tune", "create", *common, "--name", "cli-job", "--test-fraction", "0.3"], tmp_path, env
    )
    assert made.returncode == 0, made.stderr
    assert "cli-job" in made.stdout and "training" in made.stdout
    fake_aws.models["amazon.nova-micro-v1:0"] = Script(tokens=["base"])
    fake_aws.customization.on_ready = lambda arn: fake_aws.models.__setitem__(
        arn, Script(tokens=["tuned"])
    )
    fake_aws.customization.finish("cli-job")
    done = run(["tune", "status"], tmp_path, env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "done" in done.stdout

    shown = run(["tune", "show", "cli-job"], tmp_path, env)
    assert shown.returncode == 0, shown.stderr
    flat = " ".join(shown.stdout.split())
    assert "Lineage of cli-job" in flat
    for label in ("job ARN", "dataset sha256", "hyperparameters", "built from", "campaign"):
        assert label in flat
    assert "bedrock-sft" in flat and "cli-job-vs-base" in flat and "12 ideal answers" in flat
    # Its comparison so far: no blind votes yet, so no recommendation either way.
    assert "blind votes" in flat and "0 wins, 0 losses, 0 ties" in flat
    assert "recommendation" in flat and "Not enough data yet for" in flat


def test_the_tunings_api_creates_reads_and_moves_a_job_on(
    fake_aws: FakeAws, moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"api-{uuid.uuid4().hex[:8]}"
    fresh_bucket(moto_server, bucket)
    point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    fake_aws.customization.on_ready = lambda arn: fake_aws.models.__setitem__(
        arn, Script(tokens=["tuned"])
    )
    with scratch_store("sqlite", tmp_path) as store:
        runtime = tuning_runtime(store, fake_aws, tmp_path)
        label_turns(store, 12)
        with LiveServer(runtime) as server, httpx.Client(base_url=server.url, timeout=30) as http:
            body = {
                "base": "nova",
                "role_arn": ROLE,
                "s3_prefix": f"s3://{bucket}/api",
                "name": "api-job",
                "test_fraction": 0.25,
            }
            assert http.post("/api/tunings", json=body | {"who": "me"}).status_code == 422
            made = http.post("/api/tunings", json=body)
            assert made.status_code == 201, made.text
            assert made.json()["state"] == "training"
            assert http.post("/api/tunings", json=body).status_code == 409
            assert http.get("/api/tunings/api-job").json()["cloud_status"] == "InProgress"
            fake_aws.customization.finish("api-job")
            done = http.get("/api/tunings/api-job").json()
            assert done["state"] == "done" and done["variant_name"] == "api-job"
            names = [v["name"] for v in http.get("/api/variants").json()]
            assert "api-job" in names  # in the pickers
            assert [t["name"] for t in http.get("/api/tunings").json()] == ["api-job"]
            missing = http.get("/api/tunings/nope")
            assert (
                missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_tuning"
            )
        assert tunings.get_tuning(store, "api-job")["campaign_name"] == "api-job-vs-base"
