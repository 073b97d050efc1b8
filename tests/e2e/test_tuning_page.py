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
from tests.support.tuning import (
    fresh_bucket,
    label_turns,
    point_aws,
    request,
    scripted_models,
    tuned_and_compared,
    tuning_runtime,
    vote_in_campaign,
)


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
            # The comparison's results so far: no blind votes yet.
            assert "Base vs tuned" in lineage and "Not enough data yet for page-job" in lineage
            assert "page-job" in runtime.catalog.names()


def test_the_use_cases_page_shows_base_vs_tuned_in_both_languages(
    fake_aws: FakeAws, moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"uc-{uuid.uuid4().hex[:8]}"
    fresh_bucket(moto_server, bucket)
    scripted_models(fake_aws)
    with scratch_store("sqlite", tmp_path) as store:
        runtime = tuning_runtime(store, fake_aws, tmp_path, tuning_poll_seconds=0)
        tuned_and_compared(store, runtime, fake_aws, moto_server, bucket, monkeypatch)
        won = sum(vote_in_campaign(store, "nova-sft-vs-base", r, "nova-sft", 99) for r in "abc")
        with LiveServer(runtime, with_ui=True) as server:
            shown = {}
            for lang in ("en", "zh-CN"):
                client = page_client(server.url, headers={"Accept-Language": lang})
                summary, _, _ = client.predict(
                    "support", None, "(its own)", api_name="/usecase_status"
                )
                shown[lang] = summary
        runtime.close()
    en, zh = shown["en"], shown["zh-CN"]
    assert "### Base vs tuned" in en and f"| nova-sft | nova | {won}-0-0 |" in en
    assert "**Promote nova-sft: it beats nova in blind votes.**" in en
    assert "| token\\_f1 |" in en and "95% Wilson interval" in en
    assert "### 基础模型与微调模型对比" in zh and f"| nova-sft | nova | {won}-0-0 |" in zh
    assert "**建议上线 nova-sft：它在盲评投票中胜过 nova。**" in zh
    assert "| 评测指标 | nova | nova-sft | 差值（95% 置信区间） |" in zh
