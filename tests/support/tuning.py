"""What the tuning tests share: a runtime whose Bedrock variants call the fake AWS server
through the real clients, S3 on moto's server, labelled turns in the store, and a tuned
variant with its comparison answered (votes cast on it as asked)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import boto3
import pytest

from service.app import Runtime, build_runtime
from service.config import Settings
from service.evaluation import UseCaseSpec, usecases
from service.labels import campaigns as campaign_labels
from service.schemas import LabelsIn, VoteIn
from service.store import Store, labels, turns, votes
from service.tuning import Clients, TuneRequest, answer_comparison, create, refresh
from tests.fakes.aws_server import FakeAws
from tests.fakes.script import Script

BUCKET = "tuning-data"
ROLE = "arn:aws:iam::123456789012:role/arbiter-tuning"


def variants_toml(fake_url: str) -> str:
    out = []
    for name, model in (
        ("nova", "amazon.nova-micro-v1:0"),
        ("lite", "amazon.nova-lite-v1:0"),
        ("haiku", "anthropic.claude-3-haiku-20240307-v1:0"),
    ):
        out.append(
            f"""
[[variants]]
name = "{name}"
system_prompt = "You answer for Lumen support."
[variants.model]
provider = "bedrock"
model_id = "{model}"
region = "us-east-1"
endpoint_url = "{fake_url}"
max_attempts = 1
[variants.params]
temperature = 0.2
max_tokens = 64
"""
        )
    return "".join(out)


def tuning_runtime(store: Store, fake: FakeAws, tmp_path: Path, **settings_: Any) -> Runtime:
    path = tmp_path / "variants.toml"
    path.write_text(variants_toml(fake.url))
    settings = Settings(
        home=tmp_path,
        variants_file=path,
        online_metrics="",
        example_use_case=False,
        **settings_,
    )
    return build_runtime(settings, store=store)


def point_aws(
    monkeypatch: pytest.MonkeyPatch, *, bedrock: str, s3: str, sagemaker: str | None = None
) -> Clients:
    """The AWS chain's per-service endpoints (what a user sets for a private endpoint)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", bedrock)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3)
    if sagemaker:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", sagemaker)
    return Clients()


def fresh_bucket(moto_url: str, name: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    s3.create_bucket(Bucket=name)


def keys_in(moto_url: str, bucket: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def read_jsonl(moto_url: str, uri: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    bucket, _, key = uri[5:].partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()


def label_turns(
    store: Store,
    n: int,
    *,
    pair: tuple[str, str] = ("nova", "lite"),
    use_case: str | None = None,
    prompt: str = "How do I charge the battery, case {i}?",
) -> list[str]:
    """`n` answered turns, each with a vote (pane A better) and an ideal answer."""
    turn_ids = []
    for i in range(n):
        start = turns.start_turn(store, None, list(pair), prompt.format(i=i), use_case=use_case)
        for pane, variant in enumerate(pair):
            turns.save_answer(
                store,
                start.turn_id,
                pane=pane,
                variant_name=variant,
                variant_spec={"system_prompt": "You answer for Lumen support."},
                request={},
                text=f"{variant} answer {i}",
                status="ok",
            )
        turns.finish_turn(store, start.turn_id)
        votes.cast_vote(store, start.turn_id, VoteIn(outcome="a"), rater=f"rater{i % 3}")
        labels.save_labels(
            store,
            start.turn_id,
            LabelsIn(ideal_answer=f"Plug it in for four hours ({i}).", ideal_based_on_pane=0),
            rater=f"rater{i % 3}",
        )
        turn_ids.append(start.turn_id)
    return turn_ids


def support_use_case(runtime: Runtime) -> None:
    usecases.apply(
        runtime.store,
        runtime.catalog,
        UseCaseSpec(
            name="support",
            variants=["nova", "lite"],
            targets=["token_f1 >= 0.1"],
            datasets=["example"],
            metrics=["token_f1"],
        ),
    )


def request(**overrides: object) -> TuneRequest:
    fields: dict[str, object] = {
        "base": "nova",
        "role_arn": ROLE,
        "s3_prefix": f"s3://{BUCKET}/runs",
        "test_fraction": 0.3,
    }
    return TuneRequest.model_validate(fields | overrides)


def scripted_models(fake: FakeAws) -> None:
    fake.models["amazon.nova-micro-v1:0"] = Script(tokens=["base", " answer"])
    fake.models["amazon.nova-lite-v1:0"] = Script(tokens=["lite", " answer"])
    fake.customization.on_ready = lambda arn: fake.models.__setitem__(
        arn, Script(tokens=["tuned", " answer"])
    )


def vote_in_campaign(store: Store, campaign: str, rater: str, winner: str, limit: int) -> int:
    """`rater` votes for `winner`'s answer on up to `limit` items; returns how many."""
    done = 0
    while done < limit:
        item = campaign_labels.next_item(store, campaign, rater)
        if item is None:
            break
        turn = turns.get_turn(store, item["turn"].id)
        pane = next(a.pane for a in turn.answers if a.variant == winner)
        votes.cast_vote(store, turn.id, VoteIn(outcome="ab"[pane]), rater=rater)
        done += 1
    return done


def tuned_and_compared(
    store: Store, runtime: Runtime, fake: FakeAws, moto: str, bucket: str, mp: pytest.MonkeyPatch
) -> dict[str, object]:
    clients = point_aws(mp, bedrock=fake.url, s3=moto)
    support_use_case(runtime)
    label_turns(store, 20, use_case="support")
    req = request(name="nova-sft", s3_prefix=f"s3://{bucket}/r", use_case="support")
    create(store, runtime.catalog, clients, req)
    fake.customization.finish("nova-sft")
    row = refresh(store, runtime.catalog, clients, "nova-sft", runner=runtime.evals)
    assert row["state"] == "done", row
    asyncio.run(answer_comparison(store, runtime.engine, runtime.evals, row["id"]))
    return row
