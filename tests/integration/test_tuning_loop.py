"""The loop closed without anyone looking, and its answer: the tuning poller moves a finished
job on by itself (one process at a time on PostgreSQL), the use-case report shows the tuned
variant against its base (blind votes with a Wilson interval, eval-run means, the
recommendation and its rule) on the API, the CLI and the page's text, and SageMaker SFT
trains on the TRL SFT export (moto's CreateTrainingJob)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from evals.exports import validate
from evals.render import selection_markdown
from service.app import tuning_poller
from service.errors import InvalidRequest
from service.evaluation import usecases
from service.store import Leadership, Store, campaigns, tunings, turns
from service.tuning import create, refresh
from tests.fakes.aws_server import FakeAws
from tests.support.cli import run
from tests.support.fixtures import LiveServer
from tests.support.tuning import (
    fresh_bucket,
    keys_in,
    label_turns,
    point_aws,
    read_jsonl,
    request,
    scripted_models,
    tuned_and_compared,
    tuning_runtime,
    vote_in_campaign,
)
from ui.usecases import tuned_markdown

Z95 = 1.959963984540054


@pytest.fixture
def bucket(moto_server: str) -> str:
    name = f"loop-{uuid.uuid4().hex[:10]}"
    fresh_bucket(moto_server, name)
    return name


def _wilson(wins: int, n: int) -> tuple[float, float]:
    """Written out here, apart from the code under test (which uses statsmodels)."""
    p = wins / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def test_the_use_case_report_shows_base_vs_tuned(
    store: Store,
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scripted_models(fake_aws)
    runtime = tuning_runtime(store, fake_aws, tmp_path, tuning_poll_seconds=0)
    row = tuned_and_compared(store, runtime, fake_aws, moto_server, bucket, monkeypatch)
    spec = usecases.get(store, "support")
    window = usecases.Window.last(30)

    # answered but not yet voted on: the eval-run means are there, the verdict waits
    (before,) = usecases.report(store, spec, window, plots=False).tuned
    assert (before.tuned, before.base, before.campaign) == ("nova-sft", "nova", "nova-sft-vs-base")
    assert before.eval_runs == row["eval_run_ids"]
    assert before.verdict == "not_enough_data" and before.win.decisive == 0
    f1 = next(d for d in before.metrics if d.metric == "token_f1")
    examples = len(campaigns.items(store, campaigns.campaign(store, "nova-sft-vs-base").id))
    assert f1.a.n == f1.b.n > 0 and f1.a.mean is not None and f1.b.mean is not None
    assert f1.a.low is not None and f1.a.low <= f1.a.mean <= (f1.a.high or 0)
    assert examples == len(row["held_out_prompts"]) > 0  # type: ignore[arg-type]

    # three votes for the tuned model: its interval still crosses 50%
    assert vote_in_campaign(store, "nova-sft-vs-base", "ann", "nova-sft", 3) == 3
    (few,) = usecases.report(store, spec, window, plots=False).tuned
    assert (few.win.wins, few.win.losses) == (3, 0) and few.verdict == "not_enough_data"
    assert few.win.interval == pytest.approx(_wilson(3, 3))
    assert few.win.interval[0] < 0.5  # type: ignore[index]

    # every rater on every item, the base losing one: the interval clears 50%
    cast = 3 + vote_in_campaign(store, "nova-sft-vs-base", "ann", "nova-sft", 99)
    cast += vote_in_campaign(store, "nova-sft-vs-base", "bob", "nova", 1)
    cast += vote_in_campaign(store, "nova-sft-vs-base", "bob", "nova-sft", 99)
    cast += vote_in_campaign(store, "nova-sft-vs-base", "cy", "nova-sft", 99)
    assert cast == 3 * examples
    report = usecases.report(store, spec, window, plots=False)
    (after,) = report.tuned
    assert (after.win.wins, after.win.losses, after.win.ties) == (cast - 1, 1, 0)
    assert after.win.interval == pytest.approx(_wilson(cast - 1, cast))
    assert after.verdict == "promote"
    assert after.recommendation.startswith("Promote nova-sft: it beats nova in blind votes")

    md = selection_markdown(report)
    assert "## Base vs tuned" in md and "95% Wilson interval" in md
    assert f"| nova-sft | nova | nova-sft-vs-base | {cast - 1}-1-0 |" in md
    assert "| token_f1 |" in md
    en, zh = tuned_markdown(report.tuned, "en"), tuned_markdown(report.tuned, "zh-CN")
    assert "**Promote nova-sft: it beats nova in blind votes.**" in en
    assert "基础模型与微调模型对比" in zh and "建议上线 nova-sft" in zh and "Wilson" in zh

    # the API gives the same numbers
    with LiveServer(runtime) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        body = http.get("/api/usecases/support/status").json()
        report_md = http.get("/api/usecases/support/report.md").text
        report_html = http.get("/api/usecases/support/report.html").text
    (out,) = body["tuned"]
    assert (out["tuned"], out["base"], out["wins"], out["losses"]) == (
        "nova-sft",
        "nova",
        cast - 1,
        1,
    )
    assert out["verdict"] == "promote" and out["win_rate_low"] > 0.5
    assert out["win_rate_low"] == pytest.approx(_wilson(cast - 1, cast)[0])
    metric = next(m for m in out["metrics"] if m["metric"] == "token_f1")
    assert metric["base"]["n"] == metric["tuned"]["n"] == f1.a.n
    assert "Promote nova-sft" in report_md
    assert "<h2>Base vs tuned</h2>" in report_html and "<h3>nova-sft vs nova</h3>" in report_html
    assert "<td>token_f1</td>" in report_html
    runtime.close()


def test_keep_base_when_the_tuned_model_loses_and_the_cli_says_so(
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = Store(f"sqlite:///{home / 'arbiter.db'}")
    db.upgrade()
    scripted_models(fake_aws)
    runtime = tuning_runtime(db, fake_aws, tmp_path, tuning_poll_seconds=0)
    tuned_and_compared(db, runtime, fake_aws, moto_server, bucket, monkeypatch)
    lost = sum(
        vote_in_campaign(db, "nova-sft-vs-base", r, "nova", 99) for r in ("ann", "bob", "cy")
    )
    runtime.close()
    env = {"ARBITER_VARIANTS_FILE": str(tmp_path / "variants.toml")}
    out = home / "selection.md"
    done = run(["usecase", "report", "support", "--out", str(out)], home.parent, env)
    assert done.returncode == 0, done.stderr
    flat = " ".join(done.stdout.split())
    assert "Base vs tuned" in flat and f"0-{lost}-0" in flat and "keep base" in flat
    assert "Keep nova: it beats its tuned nova-sft in blind votes" in flat
    assert "Keep nova: it beats its tuned nova-sft" in out.read_text()


def _wait_for(check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_poller_moves_a_finished_job_on_while_nobody_looks(
    store: Store,
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scripted_models(fake_aws)
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    runtime = tuning_runtime(store, fake_aws, tmp_path, tuning_poll_seconds=0.2)
    runtime.tuning_clients = clients
    label_turns(store, 12)
    create(store, runtime.catalog, clients, request(name="unwatched", s3_prefix=f"s3://{bucket}/r"))
    with LiveServer(runtime):
        time.sleep(0.6)  # a few turns of the poller while the job trains: it stays put
        row = tunings.get_tuning(store, "unwatched")
        assert (row["state"], row["cloud_status"]) == ("training", "InProgress")
        assert row["metrics"]["training_loss"] > 0  # the poller read it, nobody else did
        fake_aws.customization.finish("unwatched")
        _wait_for(lambda: tunings.get_tuning(store, "unwatched")["state"] == "done")
        assert "unwatched" in runtime.catalog.names()
        campaign = campaigns.campaign(store, "unwatched-vs-base")
        held_out = tunings.get_tuning(store, "unwatched")["held_out_prompts"]
        # the comparison's answers come from a queued job the worker runs
        _wait_for(lambda: len(campaigns.items(store, campaign.id, answered=True)) == len(held_out))
    first = campaigns.items(store, campaign.id, answered=True)[0]
    answers = {a.variant: a.text for a in turns.get_turn(store, first.turn_id).answers}  # type: ignore[arg-type]
    assert answers == {"nova": "base answer", "unwatched": "tuned answer"}
    runtime.close()


@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_only_the_leader_polls(
    store: Store,
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another process holding the poller's lock: this one's turns leave the job alone;
    once it lets go, this one takes over at its next turn."""
    scripted_models(fake_aws)
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    runtime = tuning_runtime(store, fake_aws, tmp_path, tuning_poll_seconds=0)
    runtime.tuning_clients = clients
    label_turns(store, 12)
    create(store, runtime.catalog, clients, request(name="led", s3_prefix=f"s3://{bucket}/r"))
    fake_aws.customization.finish("led")
    other = Leadership(store, "tuning-poller")
    assert other.acquire()
    poller = tuning_poller(runtime)

    async def turn() -> None:
        await poller.run_once()

    asyncio.run(turn())
    row = tunings.get_tuning(store, "led")
    assert (row["state"], row["cloud_status"]) == ("training", "Submitted")
    other.release()
    asyncio.run(turn())
    assert tunings.get_tuning(store, "led")["state"] == "done"
    assert "led" in runtime.catalog.names()
    asyncio.run(poller.stop())
    runtime.close()


def test_sagemaker_sft_on_the_trl_sft_export_through_motos_training_job(
    store: Store,
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server, sagemaker=moto_server)
    runtime = tuning_runtime(store, fake_aws, tmp_path, tuning_poll_seconds=0)
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/trl-training:latest"
    sm = {
        "target": "sagemaker",
        "method": "sft",
        "s3_prefix": f"s3://{bucket}/sm",
        "training_image": image,
        "serving_instance_type": "ml.g4dn.xlarge",  # moto's enum of instance types is older
        "serving_image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/tgi:latest",
    }
    # refused before anything is written: too few records, a reserved hyperparameter
    label_turns(store, 4)
    with pytest.raises(InvalidRequest) as few:
        create(store, runtime.catalog, clients, request(**sm, test_fraction=0))
    assert "4 training records; a SageMaker tuning needs at least 8" in few.value.message
    assert few.value.code == "tuning_limit" and "Nothing was written" in few.value.hint
    label_turns(store, 12, prompt="Where is the serial number, case {i}?")
    with pytest.raises(InvalidRequest) as hp:
        create(
            store,
            runtime.catalog,
            clients,
            request(**sm, hyperparameters={"method": "dpo", "x" * 300: "1"}),
        )
    assert "method: set by Arbiter (from --method)" in hp.value.message
    assert "a name must have 1 to 256 characters" in hp.value.message
    assert keys_in(moto_server, bucket) == [] and tunings.list_tunings(store) == []

    name = f"trl-sft-{uuid.uuid4().hex[:6]}"
    row = create(
        store,
        runtime.catalog,
        clients,
        request(**sm, name=name, test_fraction=0.2, hyperparameters={"num_train_epochs": "1"}),
    )
    assert row["export_options"]["format"] == "trl-sft"
    records = [json.loads(line) for line in read_jsonl(moto_server, row["data_uris"]["train"])]
    assert records and all(validate("trl-sft", r) == [] for r in records)
    first = records[0]["messages"]
    assert [m["role"] for m in first[-2:]] == ["user", "assistant"]
    assert first[-1]["content"].startswith("Plug it in for four hours")  # the ideal answer
    assert records[0]["provenance"]["ideal_answer_id"]
    assert len(row["manifest"]["ideal_answers"]) == 16
    assert len(records) == row["manifest"]["records"]["train"] >= 8
    job = clients.sagemaker.describe_training_job(TrainingJobName=name)
    assert job["AlgorithmSpecification"]["TrainingImage"] == image
    assert job["HyperParameters"] == {"method": "sft", "num_train_epochs": "1"}
    channel = job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    assert channel == row["data_uris"]["train"]
    row = refresh(store, runtime.catalog, clients, name)
    assert row["state"] == "done" and row["serving"]["kind"] == "endpoint", row
    assert runtime.catalog.get(name).provider == "sagemaker"
    runtime.close()


def test_an_arbiter_worker_process_polls_and_answers_the_comparison(
    fake_aws: FakeAws,
    moto_server: str,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`arbiter worker` as deployed beside web replicas: it polls the job on by itself and
    its job worker answers the comparison; SIGTERM stops it cleanly."""
    scripted_models(fake_aws)
    clients = point_aws(monkeypatch, bedrock=fake_aws.url, s3=moto_server)
    home = tmp_path / "home"
    home.mkdir()
    db = Store(f"sqlite:///{home / 'arbiter.db'}")
    db.upgrade()
    runtime = tuning_runtime(db, fake_aws, tmp_path, tuning_poll_seconds=0)
    label_turns(db, 12)
    create(db, runtime.catalog, clients, request(name="by-worker", s3_prefix=f"s3://{bucket}/w"))
    runtime.close()
    fake_aws.customization.finish("by-worker")
    env = {
        **os.environ,
        "ARBITER_HOME": str(home),
        "ARBITER_VARIANTS_FILE": str(tmp_path / "variants.toml"),
        "ARBITER_EXAMPLE_USE_CASE": "false",
        "ARBITER_ONLINE_METRICS": "",
        "ARBITER_TUNING_POLL_SECONDS": "0.3",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "service", "worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        store = Store(f"sqlite:///{home / 'arbiter.db'}")
        _wait_for(lambda: tunings.get_tuning(store, "by-worker")["state"] == "done", 60)
        row = tunings.get_tuning(store, "by-worker")
        assert row["variant_name"] == "by-worker"
        campaign = campaigns.campaign(store, "by-worker-vs-base")
        _wait_for(
            lambda: (
                len(campaigns.items(store, campaign.id, answered=True))
                == len(row["held_out_prompts"])
            ),
            60,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    store.dispose()
