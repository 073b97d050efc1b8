"""Closing the loop on fake clouds: labels exported to S3 (moto), a Bedrock customization
job (the fake AWS server's control plane, and moto's where it has one), the tuned model
served on demand or on provisioned throughput, a variant answering through the real Bedrock
client, the comparison created, and the lineage stored; with the failure paths."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from service.errors import AccessDenied, InvalidRequest
from service.store import Store, campaigns, eval_runs, tunings, turns
from service.tuning import answer_comparison, create, refresh, refresh_all, stop
from tests.fakes.aws_server import FakeAws
from tests.fakes.script import Script
from tests.support.fixtures import scratch_store
from tests.support.tuning import (
    ROLE,
    fresh_bucket,
    keys_in,
    label_turns,
    point_aws,
    read_jsonl,
    request,
    support_use_case,
    tuning_runtime,
)


@pytest.fixture
def bucket(moto_server: str) -> str:
    name = f"tuning-{uuid.uuid4().hex[:10]}"
    fresh_bucket(moto_server, name)
    return name


def _tuned_answers(fake: FakeAws) -> None:
    fake.models["amazon.nova-micro-v1:0"] = Script(tokens=["base", " answer"])
    fake.models["amazon.nova-lite-v1:0"] = Script(tokens=["lite", " answer"])
    fake.customization.on_ready = lambda arn: fake.models.__setitem__(
        arn, Script(tokens=["tuned", " answer"])
    )


def test_votes_to_a_tuned_variant_compared_with_its_base(
    store: Store,
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    _tuned_answers(fake_aws)
    runtime = tuning_runtime(store, fake_aws, tmp_path)
    support_use_case(runtime)
    label_turns(store, 20, use_case="support")
    req = request(
        name="nova-sft-1",
        s3_prefix=f"s3://{bucket}/runs",
        use_case="support",
        hyperparameters={"epochCount": "3"},
        raters_per_item=2,
    )
    row = create(store, runtime.catalog, clients, req)

    # the export went to S3 and the job got its URIs, the documented defaults and the tags
    assert row["state"] == "training"
    assert row["data_uris"]["train"] == f"s3://{bucket}/runs/nova-sft-1/data/data-train.jsonl"
    assert "data-test.jsonl" in row["data_uris"]["test"]
    assert keys_in(moto_server, bucket) == [
        f"runs/nova-sft-1/data/{n}"
        for n in (
            "data-test.jsonl",
            "data-test.provenance.jsonl",
            "data-train.jsonl",
            "data-train.provenance.jsonl",
        )
    ]
    train = [json.loads(line) for line in read_jsonl(moto_server, row["data_uris"]["train"])]
    assert train and train[0]["schemaVersion"] == "bedrock-conversation-2024"
    assert len(train) + len(row["held_out_prompts"]) == 20
    job = fake_aws.customization.jobs["nova-sft-1"]
    assert job["trainingDataConfig"] == {"s3Uri": row["data_uris"]["train"]}
    assert job["outputDataConfig"] == {"s3Uri": f"s3://{bucket}/runs/nova-sft-1/output/"}
    assert job["baseModelArn"].endswith("foundation-model/amazon.nova-micro-v1:0:128k")
    assert job["customizationType"] == "FINE_TUNING"
    assert job["hyperParameters"] == {
        "epochCount": "3",
        "learningRate": "1e-05",
        "learningRateWarmupSteps": "10",
    }
    assert {"key": "arbiter:dataset-sha256", "value": row["dataset_sha256"]} in job["tags"]
    assert row["job_arn"] == job["jobArn"]

    # while it trains: the service's status and training loss
    row = refresh(store, runtime.catalog, clients, "nova-sft-1", runner=runtime.evals)
    assert (row["state"], row["cloud_status"]) == ("training", "InProgress")
    assert row["metrics"]["training_loss"] > 0
    assert "nova-sft-1" not in runtime.catalog.names()

    # completion: served on demand, a variant, a campaign and an eval run
    fake_aws.customization.finish("nova-sft-1")
    row = refresh(store, runtime.catalog, clients, "nova-sft-1", runner=runtime.evals)
    assert row["state"] == "done", row
    assert row["serving"]["kind"] == "on-demand"
    assert row["serving_arn"] in fake_aws.customization.deployments
    tuned = runtime.catalog.get("nova-sft-1")
    base = runtime.catalog.get("nova")
    assert tuned.model.model_id == row["serving_arn"]  # type: ignore[union-attr]
    assert (tuned.system_prompt, tuned.params) == (base.system_prompt, base.params)
    assert row["campaign_name"] == "nova-sft-1-vs-base"
    assert len(row["eval_run_ids"]) == 1

    # the comparison is answered: the tuned variant through the real Bedrock client
    asyncio.run(answer_comparison(store, runtime.engine, runtime.evals, row["id"]))
    campaign = campaigns.campaign(store, "nova-sft-1-vs-base")
    assert campaign.variants == ["nova", "nova-sft-1"] and campaign.raters_per_item == 2
    answered = campaigns.items(store, campaign.id, answered=True)
    assert sorted(i.prompt for i in answered) == sorted(row["held_out_prompts"])
    first = turns.get_turn(store, answered[0].turn_id)
    by_variant = {a.variant: a.text for a in first.answers}
    assert by_variant == {"nova": "base answer", "nova-sft-1": "tuned answer"}
    run = eval_runs.get_run(store, row["eval_run_ids"][0])
    assert run["variants"] == ["nova", "nova-sft-1"] and run["status"] == "done"
    evaluated = eval_runs.items(store, run["id"])
    assert {i["answer"] for i in evaluated if i["variant"] == "nova-sft-1"} == {"tuned answer"}

    # lineage in one query, by the variant's name
    lineage = tunings.get_tuning(store, "nova-sft-1")
    assert lineage["job_arn"] == job["jobArn"]
    assert lineage["export_options"]["format"] == "bedrock-sft"
    assert lineage["export_options"]["filters"] == {"use_case": "support"}
    assert len(lineage["manifest"]["ideal_answers"]) == 20
    assert lineage["hyperparameters"]["epochCount"] == "3"
    runtime.close()


def test_a_failed_job_shows_the_service_reason_and_makes_no_variant(
    store: Store,
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    runtime = tuning_runtime(store, fake_aws, tmp_path)
    label_turns(store, 12)
    create(store, runtime.catalog, clients, request(name="doomed", s3_prefix=f"s3://{bucket}/r"))
    reason = "The provided training data has 3 records with more than 32000 tokens."
    fake_aws.customization.finish("doomed", "Failed", reason)
    row = refresh(store, runtime.catalog, clients, "doomed")
    assert (row["state"], row["cloud_status"], row["failure"]) == ("failed", "Failed", reason)
    assert row["variant_name"] is None and "doomed" not in runtime.catalog.names()
    assert not fake_aws.customization.deployments
    runtime.close()


def test_a_denied_role_is_reported_and_nothing_is_stored(
    store: Store,
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    runtime = tuning_runtime(store, fake_aws, tmp_path)
    label_turns(store, 12)
    fake_aws.customization.denied_roles.add(ROLE)
    with pytest.raises(AccessDenied) as exc:
        create(
            store, runtime.catalog, clients, request(name="denied", s3_prefix=f"s3://{bucket}/r")
        )
    assert "iam:PassRole" in exc.value.message and "--role-arn" in exc.value.hint
    assert tunings.list_tunings(store) == []
    runtime.close()


def test_a_dataset_breaking_the_limits_is_refused_before_anything_is_written(
    store: Store,
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    runtime = tuning_runtime(store, fake_aws, tmp_path)
    label_turns(store, 5, prompt="User: my bike {i} will not start")
    with pytest.raises(InvalidRequest) as exc:
        create(
            store, runtime.catalog, clients, request(s3_prefix=f"s3://{bucket}/r", test_fraction=0)
        )
    message = exc.value.message
    assert "5 training records; Amazon Nova Micro needs at least 8" in message
    assert "reserved keyword 'User:'" in message
    assert exc.value.code == "tuning_limit" and "Nothing was written" in exc.value.hint
    assert keys_in(moto_server, bucket) == []
    assert not fake_aws.customization.jobs and tunings.list_tunings(store) == []
    # hyperparameters outside the documented ranges: refused, each named
    label_turns(store, 10)
    with pytest.raises(InvalidRequest) as hp:
        create(
            store,
            runtime.catalog,
            clients,
            request(
                s3_prefix=f"s3://{bucket}/r", hyperparameters={"epochCount": "9", "batchSize": "8"}
            ),
        )
    assert "epochCount: 9 is outside 1..5 (default 2)" in hp.value.message
    assert "batchSize: Amazon Nova Micro takes no such hyperparameter" in hp.value.message
    # DPO is not a Bedrock customization of Nova: refused with where it runs instead
    with pytest.raises(InvalidRequest) as dpo:
        create(store, runtime.catalog, clients, request(s3_prefix=f"s3://{bucket}/r", method="dpo"))
    assert "--target sagemaker" in dpo.value.hint
    assert keys_in(moto_server, bucket) == []
    runtime.close()


def test_a_job_stopped_on_motos_bedrock(
    store: Store,
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto implements the customization job calls themselves: create, read and stop there."""
    clients = point_aws(monkeypatch, bedrock=moto_server, s3=moto_server)
    runtime = tuning_runtime(store, fake_aws, tmp_path)
    label_turns(store, 12)
    name = f"stopme-{uuid.uuid4().hex[:6]}"
    row = create(store, runtime.catalog, clients, request(name=name, s3_prefix=f"s3://{bucket}/r"))
    assert row["job_arn"].endswith(f"model-customization-job/{name}")
    row = refresh(store, runtime.catalog, clients, name)
    assert (row["state"], row["cloud_status"]) == ("training", "InProgress")
    row = stop(store, clients, name)
    assert (row["state"], row["cloud_status"]) == ("stopped", "Stopped")
    with pytest.raises(InvalidRequest, match="only a job in training"):
        stop(store, clients, name)
    runtime.close()


def test_a_restart_while_a_job_trains_picks_it_up(
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    _tuned_answers(fake_aws)
    with scratch_store("sqlite", tmp_path) as first:
        runtime = tuning_runtime(first, fake_aws, tmp_path)
        label_turns(first, 12)
        create(
            first, runtime.catalog, clients, request(name="survivor", s3_prefix=f"s3://{bucket}/r")
        )
        runtime.close()  # the process ends while the job trains
    fake_aws.customization.finish("survivor")
    again = Store(f"sqlite:///{tmp_path / 'arbiter.db'}")
    runtime = tuning_runtime(again, fake_aws, tmp_path)
    rows = refresh_all(
        again, runtime.catalog, point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    )
    assert [(r["name"], r["state"]) for r in rows] == [("survivor", "done")]
    assert "survivor" in runtime.catalog.names()
    runtime.close()
    # a third process finds the tuned variant among the stored ones
    third = tuning_runtime(Store(f"sqlite:///{tmp_path / 'arbiter.db'}"), fake_aws, tmp_path)
    assert "survivor" in third.catalog.names()
    third.close()


def test_provisioned_throughput_waits_for_the_price_to_be_accepted(
    store: Store,
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    _tuned_answers(fake_aws)
    runtime = tuning_runtime(store, fake_aws, tmp_path)
    label_turns(store, 40, pair=("haiku", "nova"))
    create(
        store,
        runtime.catalog,
        clients,
        request(
            base="haiku",
            name="haiku-sft",
            s3_prefix=f"s3://{bucket}/r",
            model_units=2,
            test_fraction=0,
        ),
    )
    assert fake_aws.customization.jobs["haiku-sft"]["hyperParameters"]["batchSize"] == "32"
    fake_aws.customization.finish("haiku-sft")
    row = refresh(store, runtime.catalog, clients, "haiku-sft")
    assert (row["state"], row["cloud_status"]) == ("deploying", "awaiting price")
    assert row["serving"] == {"model_units": 2, "kind": "provisioned", "usd_per_hour": 100.0}
    assert not fake_aws.customization.throughputs  # nothing bought
    row = refresh(store, runtime.catalog, clients, "haiku-sft")
    assert row["cloud_status"] == "awaiting price" and not fake_aws.customization.throughputs
    row = refresh(store, runtime.catalog, clients, "haiku-sft", accept_price=True)
    assert row["state"] == "done" and row["serving"]["price_accepted"] is True
    (bought,) = fake_aws.customization.throughputs.values()
    assert bought["units"] == 2
    assert runtime.catalog.get("haiku-sft").model.model_id == row["serving_arn"]  # type: ignore[union-attr]
    runtime.close()


def test_exports_can_leave_out_a_tuned_models_own_answers(
    store: Store,
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    _tuned_answers(fake_aws)
    runtime = tuning_runtime(store, fake_aws, tmp_path)
    label_turns(store, 12)
    create(store, runtime.catalog, clients, request(name="gen1", s3_prefix=f"s3://{bucket}/r"))
    fake_aws.customization.finish("gen1")
    refresh(store, runtime.catalog, clients, "gen1")
    label_turns(store, 9, pair=("gen1", "nova"), prompt="Where is the frame number {i}?")
    own = create(
        store, runtime.catalog, clients, request(name="gen2a", s3_prefix=f"s3://{bucket}/r")
    )
    assert own["export_options"]["exclude_variants"] == ["gen1"]
    assert own["manifest"]["records"]["train"] + own["manifest"]["records"]["test"] == 12
    every = create(
        store,
        runtime.catalog,
        clients,
        request(name="gen2b", s3_prefix=f"s3://{bucket}/r", exclude_own_answers=False),
    )
    assert every["manifest"]["records"]["train"] + every["manifest"]["records"]["test"] == 21
    runtime.close()


def test_sagemaker_training_job_to_an_endpoint_variant_on_moto(
    store: Store,
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto runs SageMaker training jobs (completed at once), models, endpoint configs and
    endpoints: a DPO job on the TRL export becomes an endpoint and a SageMaker variant."""
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server, sagemaker=moto_server)
    runtime = tuning_runtime(store, fake_aws, tmp_path)
    label_turns(store, 14)  # at least 8 training records (sagemaker_training.toml)
    name = f"trl-dpo-{uuid.uuid4().hex[:6]}"
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/trl-training:latest"
    row = create(
        store,
        runtime.catalog,
        clients,
        request(
            name=name,
            target="sagemaker",
            method="dpo",
            s3_prefix=f"s3://{bucket}/sm",
            training_image=image,
            serving_instance_type="ml.g4dn.xlarge",  # moto's enum of instance types is older
            serving_image="123456789012.dkr.ecr.us-east-1.amazonaws.com/tgi:latest",
            hyperparameters={"beta": "0.1"},
        ),
    )
    assert row["export_options"]["format"] == "trl-preference"
    first = json.loads(read_jsonl(moto_server, row["data_uris"]["train"])[0])
    assert {"prompt", "chosen", "rejected", "provenance"} <= set(first)
    job = clients.sagemaker.describe_training_job(TrainingJobName=name)
    assert job["AlgorithmSpecification"]["TrainingImage"] == image
    assert job["HyperParameters"] == {"method": "dpo", "beta": "0.1"}
    channel = job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    assert channel == row["data_uris"]["train"]
    assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{bucket}/sm/{name}/output/"
    row = refresh(store, runtime.catalog, clients, name)
    assert row["state"] == "done", row
    assert row["serving"]["kind"] == "endpoint" and row["serving_arn"] == name
    endpoint = clients.sagemaker.describe_endpoint(EndpointName=name)
    assert endpoint["EndpointStatus"] == "InService"
    tuned = runtime.catalog.get(name)
    assert tuned.provider == "sagemaker" and tuned.model.endpoint_name == name  # type: ignore[union-attr]
    assert tuned.system_prompt == runtime.catalog.get("nova").system_prompt
    runtime.close()


def test_a_deployment_that_fails_fails_the_job_with_its_reason(
    store: Store,
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    runtime = tuning_runtime(store, fake_aws, tmp_path)
    label_turns(store, 12)
    create(store, runtime.catalog, clients, request(name="unserved", s3_prefix=f"s3://{bucket}/r"))
    reason = "On-demand deployment is not available for this model in us-east-1."
    fake_aws.customization.serving_failure = reason
    fake_aws.customization.finish("unserved")
    row = refresh(store, runtime.catalog, clients, "unserved")
    assert (row["state"], row["cloud_status"], row["failure"]) == (
        "failed",
        "serving Failed",
        reason,
    )
    assert row["custom_model_arn"] and row["variant_name"] is None
    assert "unserved" not in runtime.catalog.names()
    runtime.close()
