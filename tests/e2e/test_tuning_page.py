"""The Tuning page, driven through Gradio's API as the page drives it: jobs listed with the
cloud's status, Refresh moving a finished job on to its tuned variant, and the lineage."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from service.tuning import create
from tests.fakes.aws_server import FakeAws
from tests.fakes.script import Script
from tests.support.fixtures import LiveServer, scratch_store
from tests.support.gradio import page_client
from tests.support.tuning import fresh_bucket, label_turns, point_aws, request, tuning_runtime


def test_the_tuning_page_lists_refreshes_and_shows_lineage(
    fake_aws: FakeAws, moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"page-{uuid.uuid4().hex[:8]}"
    fresh_bucket(moto_server, bucket)
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    fake_aws.customization.on_ready = lambda arn: fake_aws.models.__setitem__(
        arn, Script(tokens=["tuned"])
    )
    with scratch_store("sqlite", tmp_path) as store:
        runtime = tuning_runtime(store, fake_aws, tmp_path)
        label_turns(store, 12)
        create(
            store, runtime.catalog, clients, request(name="page-job", s3_prefix=f"s3://{bucket}/p")
        )
        with LiveServer(runtime, with_ui=True) as server:
            client = page_client(server.url)
            picked, table, lineage = client.predict(None, api_name="/tuning_refresh")
            assert picked["value"] == "page-job"
            assert table["headers"] == [
                "job",
                "base variant",
                "state",
                "the cloud says",
                "training loss",
                "tuned variant",
            ]
            assert table["data"][0][:4] == ["page-job", "nova", "training", "InProgress"]
            assert "bedrock-sft" in lineage and "page-job" in lineage
            fake_aws.customization.finish("page-job")
            picked, table, lineage = client.predict("page-job", api_name="/tuning_refresh")
            assert table["data"][0][2] == "done" and table["data"][0][5] == "page-job"
            assert "page-job-vs-base" in lineage and "on-demand" in lineage
            assert "page-job" in runtime.catalog.names()
