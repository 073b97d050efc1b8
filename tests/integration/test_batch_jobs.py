"""Eval runs on batch backends: Bedrock batch inference on the project's fake AWS server
(model invocation jobs reading and writing moto's S3) and SageMaker batch transform on
moto's server (outputs written by tests/fakes/sagemaker_transform.py, as the service
would). Answers are scored and stored as an online run's are."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from gradio_client import handle_file

from evals.datasets import load_dataset
from rag import KnowledgeBaseSpec
from service.app.bootstrap import build_runtime
from service.app.runtime import Runtime
from service.config import Settings
from service.errors import AccessDenied, ArbiterError, Conflict, ErrorCode
from service.evaluation import Progress, run_gate, run_summaries
from service.evaluation.batch_jobs import BatchJobFailed
from service.schemas import RagRequest
from service.store import Store, eval_batch_jobs, eval_runs
from tests.fakes.aws_server import FakeAws
from tests.fakes.bedrock_batch import BatchScript
from tests.fakes.sagemaker_transform import TransformProxy
from tests.support import cli
from tests.support.batch_jobs import (
    BUCKET,
    CLAUDE,
    NOVA,
    ROLE,
    batch_settings,
    make_bucket,
    s3_client,
    write_dataset,
)
from tests.support.fixtures import LiveServer, scratch_store
from tests.support.gradio import page_client


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    with scratch_store("sqlite", tmp_path) as s:
        yield s


@pytest.fixture
def aws(fake_aws: FakeAws, moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    """The fake Bedrock reading and writing moto's S3, where Arbiter's S3 calls go too."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    fake_aws.batch.s3_endpoint = moto_server
    make_bucket(moto_server)
    yield fake_aws


def runtime_for(store: Store, tmp_path: Path, fake: FakeAws, **overrides: object) -> Runtime:
    return build_runtime(Settings(**batch_settings(tmp_path, fake.url, **overrides)), store=store)


def run(runtime: Runtime, data: Path, variants: list[str], **kwargs: object) -> str:
    return asyncio.run(
        runtime.evals.run(
            load_dataset(data),
            variants,
            ["exact_match", "rouge_l"],
            backend="bedrock-batch",
            **kwargs,  # type: ignore[arg-type]
        )
    )


def test_bedrock_batch_run_scores_and_stores_every_answer_like_an_online_run(
    store: Store, aws: FakeAws, tmp_path: Path, moto_server: str
) -> None:
    runtime = runtime_for(store, tmp_path, aws)
    data = write_dataset(tmp_path / "qa.jsonl", 120, fail_every=40)
    seen: list[Progress] = []
    run_id = run(runtime, data, ["claude", "nova"], on_progress=seen.append)

    items = eval_runs.items(runtime.store, run_id)
    assert len(items) == 240
    failed = [i for i in items if i["status"] != "ok"]
    # q0, q40, q80 carry the fake's FAIL marker: the service's per-record error is kept.
    assert sorted({i["example_id"] for i in failed}) == ["q0", "q40", "q80"]
    assert all("400: Malformed input request" in i["error"] for i in failed)
    ok = next(i for i in items if i["example_id"] == "q1" and i["variant"] == "claude")
    assert ok["answer"] == "Paris is the capital." and ok["tokens_in"] and ok["tokens_out"] == 4
    # Half the on-demand price of claude 3 haiku (0.00025 / 0.00125 per 1k tokens).
    expected = (ok["tokens_in"] * 0.00025 + 4 * 0.00125) / 1000 * 0.5
    assert ok["cost_usd"] == pytest.approx(expected)
    summary = run_summaries(runtime.store, run_id)
    assert summary["claude"].metrics["exact_match"].mean == 1.0
    assert summary["nova"].metrics["error_rate"].mean == pytest.approx(3 / 120)
    run_row = eval_runs.get_run(runtime.store, run_id)
    assert run_row["status"] == "done" and run_row["backend"] == "bedrock-batch"
    # One job per variant, stored with its ARN; the fake saw each body in its model's format.
    jobs = eval_batch_jobs.jobs_of_run(runtime.store, run_id)
    assert sorted(j.variant for j in jobs) == ["claude", "nova"]
    assert all(j.job_arn and j.collected and j.status == "Completed" for j in jobs)
    fake_jobs = {j.model_id: j for j in aws.batch.jobs.values()}
    assert set(fake_jobs) == {CLAUDE, NOVA} and all(j.role_arn == ROLE for j in fake_jobs.values())
    inputs = (
        s3_client(moto_server)
        .get_object(Bucket=BUCKET, Key=fake_jobs[CLAUDE].input_uri.split(BUCKET + "/", 1)[1])[
            "Body"
        ]
        .read()
        .decode()
        .splitlines()
    )
    assert '"anthropic_version": "bedrock-2023-05-31"' in inputs[0]
    assert '"system": "Answer in one sentence."' in inputs[0]
    assert seen[-1].done == seen[-1].total == 240
    # The gate reads batch runs as online ones: claude against nova.
    checks = run_gate(runtime.store, f"{run_id}:nova", f"{run_id}:claude", {"exact_match": 0.0})
    assert all(c.passed for c in checks)
    runtime.close()


def test_too_few_records_are_refused_before_anything_is_submitted(
    sqlite_store: Store, aws: FakeAws, tmp_path: Path
) -> None:
    runtime = runtime_for(sqlite_store, tmp_path, aws)
    with pytest.raises(ArbiterError) as caught:
        run(runtime, write_dataset(tmp_path / "small.jsonl", 10), ["claude"])
    assert caught.value.code == ErrorCode.TOO_FEW_RECORDS
    assert "at least 100 records" in caught.value.message and "online" in caught.value.hint
    assert aws.batch.jobs == {}
    assert eval_runs.list_runs(runtime.store) == []  # refused before a run is stored
    runtime.close()


def test_more_records_than_a_job_takes_are_split_into_even_jobs(
    sqlite_store: Store, aws: FakeAws, tmp_path: Path
) -> None:
    runtime = runtime_for(
        sqlite_store, tmp_path, aws, bedrock_batch_min_records=10, bedrock_batch_max_records=50
    )
    run_id = run(runtime, write_dataset(tmp_path / "qa.jsonl", 120), ["claude"])
    jobs = eval_batch_jobs.jobs_of_run(runtime.store, run_id)
    assert sorted(len(j.examples) for j in jobs) == [40, 40, 40]
    assert len(aws.batch.jobs) == 3
    assert len(eval_runs.items(runtime.store, run_id)) == 120
    runtime.close()


def test_a_role_without_permission_is_reported_with_what_to_grant(
    sqlite_store: Store, aws: FakeAws, tmp_path: Path
) -> None:
    aws.batch.denied_roles.add(ROLE)
    runtime = runtime_for(sqlite_store, tmp_path, aws, bedrock_batch_min_records=1)
    with pytest.raises(AccessDenied) as caught:
        run(runtime, write_dataset(tmp_path / "qa.jsonl", 5), ["claude"])
    assert "iam:PassRole" in caught.value.message and ROLE in caught.value.hint
    (row,) = eval_runs.list_runs(runtime.store)
    assert row["status"] == "failed" and "iam:PassRole" in row["error"]
    runtime.close()


def test_a_missing_bucket_is_named(sqlite_store: Store, aws: FakeAws, tmp_path: Path) -> None:
    runtime = runtime_for(
        sqlite_store,
        tmp_path,
        aws,
        bedrock_batch_min_records=1,
        batch_s3_uri="s3://no-such-bucket-here/runs",
    )
    with pytest.raises(ArbiterError) as caught:
        run(runtime, write_dataset(tmp_path / "qa.jsonl", 5), ["claude"])
    assert caught.value.code == ErrorCode.S3_BUCKET_MISSING
    assert "no-such-bucket-here" in caught.value.message
    assert "ARBITER_BATCH_S3_URI" in caught.value.hint
    assert aws.batch.jobs == {}
    runtime.close()


def test_a_job_failing_half_way_keeps_its_answers_and_resume_submits_only_the_rest(
    sqlite_store: Store, aws: FakeAws, tmp_path: Path
) -> None:
    aws.batch.scripts[CLAUDE] = BatchScript(fail_after=10, fail_message="Model capacity lost.")
    runtime = runtime_for(sqlite_store, tmp_path, aws, bedrock_batch_min_records=5)
    data = write_dataset(tmp_path / "qa.jsonl", 20)
    with pytest.raises(BatchJobFailed) as caught:
        run(runtime, data, ["claude"])
    assert "Failed: Model capacity lost." in caught.value.message
    assert "--resume" in caught.value.hint
    (row,) = eval_runs.list_runs(runtime.store)
    assert row["status"] == "failed" and "Model capacity lost." in row["error"]
    items = eval_runs.items(runtime.store, row["id"])
    assert len(items) == 20
    assert sum(i["status"] == "ok" for i in items) == 10
    missing = [i for i in items if i["status"] != "ok"]
    assert all(
        "no output record" in i["error"] and "Model capacity lost." in i["error"] for i in missing
    )

    aws.batch.scripts[CLAUDE] = BatchScript()
    run(runtime, data, ["claude"], run_id=row["id"])
    assert len(aws.batch.jobs) == 2
    second = next(j for j in aws.batch.jobs.values() if j.status == "Completed")
    assert second.total == 10  # only what the failed job did not answer
    items = eval_runs.items(runtime.store, row["id"])
    assert len(items) == 20 and all(i["status"] == "ok" for i in items)
    assert eval_runs.get_run(runtime.store, row["id"])["status"] == "done"
    runtime.close()


def test_missing_and_malformed_output_records_become_errors_saying_so(
    sqlite_store: Store, aws: FakeAws, tmp_path: Path
) -> None:
    aws.batch.scripts[CLAUDE] = BatchScript(drop={2}, garble={3})
    runtime = runtime_for(sqlite_store, tmp_path, aws, bedrock_batch_min_records=1)
    run_id = run(runtime, write_dataset(tmp_path / "qa.jsonl", 6), ["claude"])
    by_id = {i["example_id"]: i for i in eval_runs.items(runtime.store, run_id)}
    assert len(by_id) == 6
    for lost in ("q2", "q3"):
        assert by_id[lost]["status"] == "error"
        assert "no output record" in by_id[lost]["error"]
        assert "1 output lines could not be read" in by_id[lost]["error"]
    assert all(by_id[q]["status"] == "ok" for q in ("q0", "q1", "q4", "q5"))
    assert eval_runs.get_run(runtime.store, run_id)["status"] == "done"
    runtime.close()


def test_resume_after_a_restart_reattaches_to_the_running_job(
    sqlite_store: Store, aws: FakeAws, tmp_path: Path
) -> None:
    aws.batch.scripts[CLAUDE] = BatchScript(duration_s=1.5)
    data = write_dataset(tmp_path / "qa.jsonl", 8)
    first = runtime_for(sqlite_store, tmp_path, aws, bedrock_batch_min_records=1)
    run_id = first.evals.create_run(
        load_dataset(data), ["claude"], ["exact_match"], backend="bedrock-batch"
    )

    async def crash() -> None:
        task = asyncio.ensure_future(
            first.evals.run(
                load_dataset(data),
                ["claude"],
                ["exact_match"],
                backend="bedrock-batch",
                run_id=run_id,
            )
        )
        while not any(j.job_arn for j in eval_batch_jobs.jobs_of_run(first.store, run_id)):
            await asyncio.sleep(0.02)
        task.cancel()  # the process dies while the job runs
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(crash())
    (job,) = aws.batch.jobs.values()
    assert job.status in {"Submitted", "InProgress"}
    assert eval_runs.items(first.store, run_id) == []

    restarted = runtime_for(sqlite_store, tmp_path, aws, bedrock_batch_min_records=1)
    asyncio.run(
        restarted.evals.run(
            load_dataset(data), ["claude"], ["exact_match"], backend="bedrock-batch", run_id=run_id
        )
    )
    assert len(aws.batch.jobs) == 1  # re-attached, not submitted again
    items = eval_runs.items(restarted.store, run_id)
    assert len(items) == 8 and all(i["status"] == "ok" for i in items)
    first.close()
    restarted.close()


def test_a_stopped_job_is_reported_with_the_service_status(
    sqlite_store: Store, aws: FakeAws, tmp_path: Path
) -> None:
    aws.batch.scripts[CLAUDE] = BatchScript(submit_s=3.0, duration_s=5.0)  # stopped while Submitted
    runtime = runtime_for(sqlite_store, tmp_path, aws, bedrock_batch_min_records=1)
    data = write_dataset(tmp_path / "qa.jsonl", 4)
    bedrock = boto3.client(
        "bedrock",
        endpoint_url=aws.url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
    )

    async def stop_soon() -> None:
        while not aws.batch.jobs:
            await asyncio.sleep(0.02)
        (arn,) = aws.batch.jobs
        listed = bedrock.list_model_invocation_jobs(nameContains="arb-")["invocationJobSummaries"]
        assert [j["jobArn"] for j in listed] == [arn]
        bedrock.stop_model_invocation_job(jobIdentifier=arn)

    async def both() -> None:
        stopper = asyncio.ensure_future(stop_soon())
        try:
            await runtime.evals.run(
                load_dataset(data), ["claude"], ["exact_match"], backend="bedrock-batch"
            )
        finally:
            await stopper

    with pytest.raises(BatchJobFailed) as caught:
        asyncio.run(both())
    assert "ended Stopped" in caught.value.message
    (row,) = eval_runs.list_runs(runtime.store)
    items = eval_runs.items(runtime.store, row["id"])
    assert len(items) == 4 and all("ended Stopped" in i["error"] for i in items)
    runtime.close()


def test_variants_a_backend_cannot_run_are_refused_and_retrieval_is_not(
    sqlite_store: Store, aws: FakeAws, tmp_path: Path
) -> None:
    runtime = runtime_for(sqlite_store, tmp_path, aws)
    dataset = load_dataset(write_dataset(tmp_path / "qa.jsonl", 120))
    with pytest.raises(ArbiterError) as caught:
        runtime.evals.create_run(dataset, ["endpoint"], [], backend="bedrock-batch")
    assert caught.value.code == ErrorCode.UNSUPPORTED_BACKEND
    with pytest.raises(ArbiterError) as caught:
        runtime.evals.create_run(dataset, ["claude"], [], backend="sagemaker-transform")
    assert "sagemaker-transform" not in caught.value.hint and "bedrock-batch" in caught.value.hint
    # A collection that does not exist is named before anything is stored or retrieved.
    with pytest.raises(ArbiterError) as caught:
        runtime.evals.create_run(
            dataset, ["claude"], [], backend="bedrock-batch", rag=RagRequest(collection="nope")
        )
    assert "nope" in caught.value.message
    unset = runtime_for(sqlite_store, tmp_path, aws, batch_s3_uri=None)
    with pytest.raises(ArbiterError) as caught:
        unset.evals.create_run(dataset, ["claude"], [], backend="bedrock-batch")
    assert caught.value.code == ErrorCode.BATCH_NOT_CONFIGURED
    assert "ARBITER_BATCH_S3_URI" in caught.value.message
    assert eval_runs.list_runs(runtime.store) == []
    # With one that does, the run is accepted (the refusal of retrieval is gone).
    _docs(runtime)
    run_id = runtime.evals.create_run(
        dataset, ["claude"], [], backend="bedrock-batch", rag=RagRequest(collection="docs")
    )
    assert eval_runs.get_run(runtime.store, run_id)["retrieval"]["collection"] == "docs"
    runtime.close()
    unset.close()


# -- with retrieval ---------------------------------------------------------------------

PARIS = "Paris is the capital of France."
DECOY = "Question capital question capital: every question asks for a capital."


def _docs(runtime: Runtime) -> None:
    runtime.library.create_collection("docs", exist_ok=True)
    runtime.library.ingest("docs", "paris.txt", PARIS.encode())
    runtime.library.flush("docs")


def _records(moto_server: str, input_uri: str) -> list[dict[str, Any]]:
    body = s3_client(moto_server).get_object(
        Bucket=BUCKET, Key=input_uri.split(BUCKET + "/", 1)[1]
    )["Body"]
    return [json.loads(line) for line in body.read().decode().splitlines()]


def test_a_bedrock_batch_run_with_retrieval_sends_and_scores_each_examples_context(
    store: Store, aws: FakeAws, tmp_path: Path, moto_server: str
) -> None:
    runtime = runtime_for(store, tmp_path, aws, bedrock_batch_min_records=1)
    _docs(runtime)
    rag = RagRequest(collection="docs", top_k=1, mode="lexical")
    data = write_dataset(tmp_path / "qa.jsonl", 6)
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    data.write_text("".join(json.dumps({**r, "contexts": [PARIS]}) + "\n" for r in rows))
    run_id = asyncio.run(
        runtime.evals.run(
            load_dataset(data),
            ["claude", "nova"],
            ["exact_match", "faithfulness_overlap", "context_precision_match"],
            backend="bedrock-batch",
            rag=rag,
        )
    )
    # Each record's body carries the context, rendered with the variant's RAG template.
    for job in eval_batch_jobs.jobs_of_run(runtime.store, run_id):
        records = _records(moto_server, job.input_uri)
        assert len(records) == 6
        for record in records:
            text = json.dumps(record["modelInput"])
            assert PARIS in text and "Sources:" in text and "Question: Question " in text
    items = eval_runs.items(runtime.store, run_id)
    assert len(items) == 12 and all(i["status"] == "ok" for i in items)
    for item in items:
        (chunk,) = item["contexts"]
        assert chunk["text"] == PARIS and chunk["ref"].startswith("chunk:")
        scores = {s["metric"]: s for s in item["scores"]}
        # Scored against the stored context: the fake's answer is all in it.
        assert scores["faithfulness_overlap"]["value"] == 1.0
        assert scores["faithfulness_overlap"]["error"] is None
        # The retrieved chunk is the example's reference context: ranked first.
        assert scores["context_precision_match"]["value"] == 1.0
    summary = run_summaries(runtime.store, run_id)
    assert summary["claude"].metrics["faithfulness_overlap"].mean == 1.0
    runtime.close()


def test_an_example_whose_retrieval_fails_is_stored_as_an_error_and_not_sent(
    sqlite_store: Store, aws: FakeAws, tmp_path: Path, moto_server: str
) -> None:
    """A Knowledge Bases collection on the fake service, which refuses one example's query:
    that example is stored as an error saying why, the others are sent and answered; a
    resume tries the failed one again."""
    aws.knowledge_bases["KB12345678"] = [{"text": PARIS, "uri": "s3://kb-docs/paris.md"}]
    aws.kb_refused_marker = "Question 2:"
    runtime = runtime_for(sqlite_store, tmp_path, aws, bedrock_batch_min_records=1)
    runtime.library.create_collection(
        "kb",
        knowledge_base=KnowledgeBaseSpec(
            knowledge_base_id="KB12345678", region="us-east-1", endpoint_url=aws.url
        ),
    )
    data = write_dataset(tmp_path / "qa.jsonl", 4)
    run_id = run(runtime, data, ["claude"], rag=RagRequest(collection="kb", top_k=1))
    by_id = {i["example_id"]: i for i in eval_runs.items(runtime.store, run_id)}
    assert by_id["q2"]["status"] == "error" and by_id["q2"]["contexts"] is None
    assert "retrieval failed" in by_id["q2"]["error"]
    assert "could not be processed" in by_id["q2"]["error"]
    assert all(by_id[q]["status"] == "ok" for q in ("q0", "q1", "q3"))
    assert by_id["q0"]["contexts"][0]["source"] == "s3://kb-docs/paris.md"
    (job,) = eval_batch_jobs.jobs_of_run(runtime.store, run_id)
    assert job.examples == [0, 1, 3] and len(_records(moto_server, job.input_uri)) == 3

    aws.kb_refused_marker = None
    run(runtime, data, ["claude"], run_id=run_id)
    items = eval_runs.items(runtime.store, run_id)
    assert len(items) == 4 and all(i["status"] == "ok" for i in items)
    runtime.close()


def test_resume_rebuilds_the_same_records_from_the_stored_context(
    sqlite_store: Store, aws: FakeAws, tmp_path: Path, moto_server: str
) -> None:
    """The submission fails once the records are written; the collection then changes (a
    new retrieval would now find another chunk); `--resume` without `--collection` submits
    the very records the job was planned with, and scores against their context."""
    aws.batch.denied_roles.add(ROLE)
    runtime = runtime_for(sqlite_store, tmp_path, aws, bedrock_batch_min_records=1)
    _docs(runtime)
    rag = RagRequest(collection="docs", top_k=1, mode="lexical")
    data = write_dataset(tmp_path / "qa.jsonl", 4)
    with pytest.raises(AccessDenied):
        run(runtime, data, ["claude"], rag=rag)
    (row,) = eval_runs.list_runs(runtime.store)
    (job,) = eval_batch_jobs.jobs_of_run(runtime.store, row["id"])
    assert job.job_arn is None and job.contexts is not None
    planned = _records(moto_server, job.input_uri)

    runtime.library.ingest("docs", "decoy.txt", DECOY.encode())
    runtime.library.flush("docs")
    fresh = runtime.library.retrieve("docs", "Question 0: capital?", top_k=1, mode="lexical")
    assert fresh.chunks[0].text == DECOY  # what a new retrieval would send

    aws.batch.denied_roles.clear()
    with pytest.raises(Conflict) as caught:
        run(runtime, data, ["claude"], run_id=row["id"], rag=RagRequest(collection="other"))
    assert "collection 'docs'" in caught.value.message
    run(runtime, data, ["claude"], run_id=row["id"])  # the run's own retrieval
    assert _records(moto_server, job.input_uri) == planned
    items = eval_runs.items(runtime.store, row["id"])
    assert len(items) == 4 and all(i["status"] == "ok" for i in items)
    assert all([c["text"] for c in i["contexts"]] == [PARIS] for i in items)
    runtime.close()


# -- SageMaker batch transform ----------------------------------------------------------


@pytest.fixture
def transform(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TransformProxy]:
    """moto's SageMaker behind the proxy that writes transform outputs, with an endpoint
    `qa-endpoint` whose config names model `qa-model`."""
    with TransformProxy(moto_server) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", proxy.url)  # type: ignore[attr-defined]
        make_bucket(moto_server)
        sm = boto3.client("sagemaker", endpoint_url=moto_server, region_name="us-east-1")
        with contextlib.suppress(sm.exceptions.ClientError):
            sm.create_model(
                ModelName="qa-model",
                ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMaker",
                PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/lmi:1"},
            )
            sm.create_endpoint_config(
                EndpointConfigName="qa-config",
                ProductionVariants=[
                    {
                        "VariantName": "main",
                        "ModelName": "qa-model",
                        "InitialInstanceCount": 1,
                        "InstanceType": "ml.g4dn.xlarge",  # moto knows no newer types
                    }
                ],
            )
            sm.create_endpoint(EndpointName="qa-endpoint", EndpointConfigName="qa-config")
        yield proxy  # type: ignore[misc]


def run_transform(
    runtime: Runtime, data: Path, n: int, metrics: list[str], **kwargs: object
) -> str:
    """A run of `n` questions on the `endpoint` variant by SageMaker batch transform."""
    return asyncio.run(
        runtime.evals.run(
            load_dataset(write_dataset(data, n)),
            ["endpoint"],
            metrics,
            backend="sagemaker-transform",
            **kwargs,  # type: ignore[arg-type]
        )
    )


def test_sagemaker_transform_run_stores_every_answer(
    sqlite_store: Store, fake_aws: FakeAws, transform: TransformProxy, tmp_path: Path
) -> None:
    runtime = runtime_for(sqlite_store, tmp_path, fake_aws)
    data = write_dataset(tmp_path / "qa.jsonl", 7)
    run_id = asyncio.run(
        runtime.evals.run(
            load_dataset(data), ["endpoint"], ["exact_match"], backend="sagemaker-transform"
        )
    )
    (created,) = transform.created
    assert created["ModelName"] == "qa-model"  # endpoint -> endpoint config -> model
    assert created["TransformInput"]["SplitType"] == "Line"
    items = eval_runs.items(runtime.store, run_id)
    assert len(items) == 7 and all(i["answer"] == "Paris is the capital." for i in items)
    assert all(i["tokens_out"] == 4 for i in items)
    summary = run_summaries(runtime.store, run_id)
    assert summary["endpoint"].metrics["exact_match"].mean == 1.0
    (job,) = eval_batch_jobs.jobs_of_run(runtime.store, run_id)
    assert job.job_arn and ":transform-job/" in job.job_arn and job.status == "Completed"
    runtime.close()


def test_a_transform_run_with_retrieval_sends_the_context_in_each_line(
    sqlite_store: Store,
    fake_aws: FakeAws,
    transform: TransformProxy,
    tmp_path: Path,
    moto_server: str,
) -> None:
    runtime = runtime_for(sqlite_store, tmp_path, fake_aws)
    _docs(runtime)
    run_id = run_transform(
        runtime,
        tmp_path / "qa.jsonl",
        3,
        ["faithfulness_overlap"],
        rag=RagRequest(collection="docs", top_k=1),
    )
    (job,) = eval_batch_jobs.jobs_of_run(runtime.store, run_id)
    lines = _records(moto_server, job.input_uri)
    assert len(lines) == 3 and all(PARIS in json.dumps(line) for line in lines)
    items = eval_runs.items(runtime.store, run_id)
    assert all(i["status"] == "ok" and i["contexts"][0]["text"] == PARIS for i in items)
    assert (
        run_summaries(runtime.store, run_id)["endpoint"].metrics["faithfulness_overlap"].mean == 1.0
    )
    runtime.close()


def test_a_failed_transform_job_is_reported_with_its_failure_reason(
    sqlite_store: Store, fake_aws: FakeAws, transform: TransformProxy, tmp_path: Path
) -> None:
    runtime = runtime_for(sqlite_store, tmp_path, fake_aws)
    data = write_dataset(tmp_path / "qa.jsonl", 3)
    dataset = load_dataset(data)
    run_id = runtime.evals.create_run(dataset, ["endpoint"], [], backend="sagemaker-transform")
    (name,) = [f"arb-{run_id.replace('-', '')[-16:]}-endpoint-1"]
    transform.failures[name] = "ClientError: the container answered 400 for line 2"
    with pytest.raises(BatchJobFailed) as caught:
        asyncio.run(
            runtime.evals.run(
                dataset, ["endpoint"], [], backend="sagemaker-transform", run_id=run_id
            )
        )
    assert "ClientError: the container answered 400 for line 2" in caught.value.message
    items = eval_runs.items(runtime.store, run_id)
    assert len(items) == 3 and all(i["status"] == "error" for i in items)
    runtime.close()


def test_transform_outputs_missing_cut_or_unreadable_become_errors_saying_so(
    sqlite_store: Store, fake_aws: FakeAws, transform: TransformProxy, tmp_path: Path
) -> None:
    transform.drop, transform.garble, transform.unreadable = {1}, {3}, {4}
    transform.echo = True
    runtime = runtime_for(sqlite_store, tmp_path, fake_aws)
    run_id = run_transform(runtime, tmp_path / "qa.jsonl", 7, ["exact_match"])
    (created,) = transform.created
    assert created["DataProcessing"]["JoinSource"] == "Input"
    by_id = {i["example_id"]: i for i in eval_runs.items(runtime.store, run_id)}
    assert len(by_id) == 7
    for lost in ("q1", "q3"):  # no output line, or one cut short: no record id to go by
        assert by_id[lost]["status"] == "error"
        assert "no output record" in by_id[lost]["error"]
        assert "1 output lines could not be read" in by_id[lost]["error"]
    assert by_id["q4"]["status"] == "error"
    assert "malformed transform output" in by_id["q4"]["error"]
    # The lines after the missing one still answer their own examples, not a neighbour's.
    for n in (0, 2, 5, 6):
        assert by_id[f"q{n}"]["status"] == "ok"
        assert by_id[f"q{n}"]["answer"].startswith(f"Question {n}: ")
    assert eval_runs.get_run(runtime.store, run_id)["status"] == "done"
    runtime.close()


def test_a_transform_job_the_caller_may_not_create_says_what_to_grant(
    sqlite_store: Store, fake_aws: FakeAws, transform: TransformProxy, tmp_path: Path
) -> None:
    transform.denied = True
    runtime = runtime_for(sqlite_store, tmp_path, fake_aws)
    with pytest.raises(AccessDenied) as caught:
        run_transform(runtime, tmp_path / "qa.jsonl", 3, [])
    assert "sagemaker:CreateTransformJob" in caught.value.message
    assert "sagemaker:CreateTransformJob" in caught.value.hint
    assert "bedrock" not in caught.value.hint
    (row,) = eval_runs.list_runs(runtime.store)
    assert row["status"] == "failed" and "sagemaker:CreateTransformJob" in row["error"]
    assert transform.created == []
    runtime.close()


# -- over HTTP --------------------------------------------------------------------------


def test_the_api_starts_a_batch_run_and_shows_its_jobs(
    sqlite_store: Store, aws: FakeAws, tmp_path: Path, wait_for: object
) -> None:
    runtime = runtime_for(sqlite_store, tmp_path, aws, bedrock_batch_min_records=1)
    _docs(runtime)
    dataset = "".join(
        f'{{"id": "q{i}", "prompt": "Q{i}?", "reference": "Paris is the capital."}}\n'
        for i in range(5)
    )
    with LiveServer(runtime) as server:
        bad = httpx.post(
            f"{server.url}/api/eval-runs",
            json={"variants": ["claude"], "dataset": dataset, "backend": "bedrock-later"},
        )
        assert bad.status_code == 422
        started = httpx.post(
            f"{server.url}/api/eval-runs",
            json={
                "variants": ["claude"],
                "metrics": ["exact_match"],
                "dataset": dataset,
                "backend": "bedrock-batch",
                "rag": {"collection": "docs", "top_k": 1},
            },
        )
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        assert started.json()["backend"] == "bedrock-batch"

        def finished() -> bool:
            return httpx.get(f"{server.url}/api/eval-runs/{run_id}").json()["status"] != "running"

        wait_for(finished, 90)  # type: ignore[operator]  (a loaded 2-core machine)
        body = httpx.get(f"{server.url}/api/eval-runs/{run_id}").json()
        assert body["status"] == "done" and body["stored"] == 5
        (job,) = body["jobs"]
        assert job["status"] == "Completed" and job["records"] == 5 and job["collected"]
        assert job["job_arn"].startswith("arn:aws:bedrock:")
        items = eval_runs.items(runtime.store, run_id)
        assert all(i["contexts"][0]["text"] == PARIS for i in items)
        unconfigured = httpx.post(
            f"{server.url}/api/eval-runs",
            json={"variants": ["endpoint"], "dataset": dataset, "backend": "bedrock-batch"},
        )
        assert unconfigured.status_code == 422
        assert unconfigured.json()["error"]["code"] == "unsupported_backend"
    runtime.close()


def test_the_page_starts_a_batch_run_with_retrieval(
    sqlite_store: Store, aws: FakeAws, tmp_path: Path, wait_for: object
) -> None:
    runtime = runtime_for(sqlite_store, tmp_path, aws, bedrock_batch_min_records=1)
    _docs(runtime)
    data = write_dataset(tmp_path / "qa.jsonl", 3)
    with LiveServer(runtime, with_ui=True) as server:
        status, _rows, _timer, run_id = page_client(server.url).predict(
            handle_file(str(data)),
            ["claude"],
            ["faithfulness_overlap"],
            "docs",
            "",
            "bedrock-batch",
            api_name="/eval_start",
        )
        assert run_id and run_id in status, status

        def finished() -> bool:
            return eval_runs.get_run(runtime.store, run_id)["status"] != "running"

        wait_for(finished, 90)  # type: ignore[operator]
    assert eval_runs.get_run(runtime.store, run_id)["status"] == "done"
    items = eval_runs.items(runtime.store, run_id)
    assert len(items) == 3 and all(i["contexts"][0]["text"] == PARIS for i in items)
    assert (
        run_summaries(runtime.store, run_id)["claude"].metrics["faithfulness_overlap"].mean == 1.0
    )
    runtime.close()


# -- the command ------------------------------------------------------------------------


def test_the_command_runs_on_bedrock_batch_and_resume_keeps_the_runs_backend(
    aws: FakeAws, tmp_path: Path, moto_server: str
) -> None:
    settings = batch_settings(tmp_path, aws.url, bedrock_batch_min_records=1)
    env = {
        "ARBITER_VARIANTS_FILE": str(settings["variants_file"]),
        "ARBITER_RAG_SAMPLE_CORPUS": "false",
        "ARBITER_ONLINE_METRICS": "",
        "ARBITER_BATCH_S3_URI": settings["batch_s3_uri"],
        "ARBITER_BEDROCK_BATCH_ROLE_ARN": ROLE,
        "ARBITER_BATCH_POLL_S": "0.05",
        "ARBITER_BEDROCK_BATCH_MIN_RECORDS": "1",
        "AWS_ENDPOINT_URL_S3": moto_server,
    }
    data = write_dataset(tmp_path / "qa.jsonl", 6)
    (tmp_path / "paris.txt").write_text(PARIS)
    ingested = cli.run(["ingest", str(tmp_path / "paris.txt"), "-c", "docs"], tmp_path, env)
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    aws.batch.scripts[CLAUDE] = BatchScript(fail_after=3, fail_message="Model capacity lost.")
    command = ["eval", "run", str(data), "-v", "claude", "-m", "exact_match"]
    command += ["-m", "faithfulness_overlap"]
    failed = cli.run(
        [*command, "--backend", "bedrock-batch", "--collection", "docs", "--top-k", "1"],
        tmp_path,
        env,
        timeout=180,
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "batch_job_failed" in failed.stderr and "Model capacity lost." in failed.stderr
    run_id = failed.stdout.split("run ", 1)[1].split()[0]
    assert f"--resume {run_id}" in " ".join(failed.stderr.split())

    aws.batch.scripts[CLAUDE] = BatchScript()
    resumed = cli.run(
        [*command, "--resume", run_id],  # without --collection: the run's own retrieval
        tmp_path,
        env,
        timeout=180,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len(aws.batch.jobs) == 2  # the resumed run stayed on Bedrock batch inference
    assert "exact_match" in resumed.stdout and "1.000" in resumed.stdout
    # Both jobs' records carry the context: the resume retrieved as the run did.
    for fake_job in aws.batch.jobs.values():
        assert all(
            PARIS in json.dumps(r["modelInput"]) for r in _records(moto_server, fake_job.input_uri)
        )
    assert "faithfulness_overlap" in resumed.stdout
