"""Models discovered, not typed in: Bedrock listings on the project's fake AWS server (moto
has no ListFoundationModels or ListInferenceProfiles), SageMaker endpoints, endpoint configs
and models on moto's server (reached through the fake, which answers the inference
component calls itself and passes the rest on), then a discovered model, made a variant,
answering through the fake runtime. Faults: access denied on one service, no credentials,
a region with nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.errors import ArbiterError
from service.models import discovery
from service.models.discovery import (
    ADAPTER_UNKNOWN,
    AwsTarget,
    discover,
    discovered_variant,
    find_discovered,
    variant_from_discovered,
)
from service.models.providers import build_chat_model
from service.models.variants import BedrockModel, SageMakerModel
from tests.fakes.aws_server import FakeAws
from tests.fakes.script import Script
from tests.support.discovery import (
    CLAUDE,
    LMI,
    REGION,
    TGI,
    bedrock_catalog,
    sagemaker_endpoints,
)


@pytest.fixture
def aws(fake_aws: FakeAws, moto_server: str) -> Iterator[FakeAws]:
    """The fake in front of moto: one endpoint URL for discovery and the runtime."""
    fake_aws.discovery.sagemaker_upstream = moto_server
    discovery.clear_clients()  # each test's own credentials and environment
    yield fake_aws


def test_bedrock_lists_on_demand_text_models_and_profiles(aws: FakeAws) -> None:
    bedrock_catalog(aws)
    found = discover(AwsTarget(region=REGION, endpoint_url=aws.url), sagemaker=False)
    assert found.problems == [] and found.region == REGION
    by_id = {m.id: m for m in found.models}
    assert set(by_id) == {
        f"bedrock/{CLAUDE}",
        "bedrock/meta.llama3-8b-instruct-v1:0",
        "bedrock/eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
        f"bedrock/eu.{CLAUDE}",
        f"bedrock/arn:aws:bedrock:{REGION}:123456789012:application-inference-profile/team-haiku",
    }
    claude = by_id[f"bedrock/{CLAUDE}"]
    assert (claude.kind, claude.provider, claude.streaming) == ("bedrock-model", "Anthropic", True)
    assert claude.input_modalities == ["TEXT", "IMAGE"] and claude.output_modalities == ["TEXT"]
    assert by_id["bedrock/meta.llama3-8b-instruct-v1:0"].streaming is False
    profile = by_id["bedrock/eu.anthropic.claude-3-7-sonnet-20250219-v1:0"]
    assert profile.kind == "bedrock-profile" and profile.provider == "Anthropic"
    assert "2 region(s)" in profile.note
    # The listing asked the service to filter, and the profiles were read page by page.
    paths = [r["path"] for r in aws.requests]
    assert "/foundation-models?byOutputModality=TEXT" in paths
    # Both kinds of profile asked for; the system ones came in two pages.
    assert [p for p in paths if p.startswith("/inference-profiles")] == [
        "/inference-profiles?type=SYSTEM_DEFINED",
        "/inference-profiles?type=SYSTEM_DEFINED&nextToken=2",
        "/inference-profiles?type=APPLICATION",
    ]
    team = by_id[
        f"bedrock/arn:aws:bedrock:{REGION}:123456789012:application-inference-profile/team-haiku"
    ]
    assert team.suggested_name == "team-haiku" and "application inference profile" in team.note


def test_sagemaker_endpoints_and_components_with_their_adapters(
    aws: FakeAws, moto_server: str
) -> None:
    tag = sagemaker_endpoints(moto_server, aws)
    found = discover(AwsTarget(region=REGION, endpoint_url=aws.url), bedrock=False)
    assert found.problems == []
    mine = {m.id: m for m in found.models if tag in m.id}
    assert set(mine) == {
        f"sagemaker/tgi-{tag}",
        f"sagemaker/own-{tag}",
        f"sagemaker/shared-{tag}/chat-{tag}",
        f"sagemaker/shared-{tag}/code-{tag}",
    }  # the endpoint hosting components is listed by its components InService
    tgi = mine[f"sagemaker/tgi-{tag}"]
    assert (tgi.adapter, tgi.prompt_template, tgi.image) == ("tgi", "llama3", TGI)
    assert tgi.streaming is True and tgi.kind == "sagemaker-endpoint"
    own = mine[f"sagemaker/own-{tag}"]
    assert own.adapter is None and own.note.startswith(ADAPTER_UNKNOWN)
    chat = mine[f"sagemaker/shared-{tag}/chat-{tag}"]
    assert (chat.adapter, chat.image, chat.kind) == ("messages", LMI, "sagemaker-component")
    code = mine[f"sagemaker/shared-{tag}/code-{tag}"]
    assert (code.adapter, code.prompt_template) == ("tgi", "chatml")


def test_a_discovered_bedrock_model_answers_through_the_fake_runtime(aws: FakeAws) -> None:
    bedrock_catalog(aws)
    aws.models[CLAUDE] = Script(tokens=["Bon", "jour"])
    target = AwsTarget(region=REGION, endpoint_url=aws.url)
    variant = discovered_variant(target, CLAUDE, name="haiku")  # the prefix may be left out
    assert isinstance(variant.model, BedrockModel)
    assert (variant.name, variant.model.model_id, variant.model.region) == ("haiku", CLAUDE, REGION)
    assert variant.model.endpoint_url == aws.url and variant.model.streaming
    text = asyncio.run(_answer(build_chat_model(variant)))
    assert text == "Bonjour"
    assert any(r["path"].endswith("/converse-stream") for r in aws.requests)


def test_a_discovered_sagemaker_component_answers_through_the_fake_runtime(
    aws: FakeAws, moto_server: str
) -> None:
    tag = sagemaker_endpoints(moto_server, aws)
    aws.endpoints[f"shared-{tag}"] = Script(tokens=["def ", "f(): ", "pass"])
    aws.endpoint_formats[f"shared-{tag}"] = "tgi"
    target = AwsTarget(region=REGION, endpoint_url=aws.url)
    variant = discovered_variant(target, f"sagemaker/shared-{tag}/code-{tag}")
    spec = variant.model
    assert isinstance(spec, SageMakerModel)
    assert (spec.endpoint_name, spec.inference_component, spec.adapter) == (
        f"shared-{tag}",
        f"code-{tag}",
        "tgi",
    )
    assert variant.name == f"shared-{tag}-code-{tag}"
    assert asyncio.run(_answer(build_chat_model(variant))) == "def f(): pass"
    call = aws.requests[-1]
    assert call["path"] == f"/endpoints/shared-{tag}/invocations-response-stream"
    assert call["headers"]["X-Amzn-SageMaker-Inference-Component"] == f"code-{tag}"
    assert "inputs" in call["body"]  # the TGI payload


def test_an_unknown_image_needs_an_adapter(aws: FakeAws, moto_server: str) -> None:
    tag = sagemaker_endpoints(moto_server, aws)
    target = AwsTarget(region=REGION, endpoint_url=aws.url)
    with pytest.raises(ArbiterError) as refused:
        discovered_variant(target, f"sagemaker/own-{tag}")
    assert refused.value.code == "adapter_unknown" and "--adapter" in refused.value.message
    variant = discovered_variant(target, f"sagemaker/own-{tag}", adapter="messages")
    assert isinstance(variant.model, SageMakerModel) and variant.model.adapter == "messages"


def test_access_denied_on_one_service_still_lists_the_other(aws: FakeAws, moto_server: str) -> None:
    bedrock_catalog(aws)
    tag = sagemaker_endpoints(moto_server, aws)
    aws.discovery.denied.add("ListFoundationModels")
    found = discover(AwsTarget(region=REGION, endpoint_url=aws.url))
    assert [p.service for p in found.problems] == ["bedrock"]
    problem = found.problems[0]
    assert problem.code == "access_denied" and "ListFoundationModels" in problem.message
    assert "bedrock:ListFoundationModels" in problem.hint
    assert {m.id for m in found.models if tag in m.id} and all(
        m.id.startswith("sagemaker/") for m in found.models
    )
    with pytest.raises(ArbiterError) as missing:
        find_discovered(found, CLAUDE)
    assert "bedrock could not be listed" in missing.value.message

    aws.discovery.denied = {"ListInferenceComponents"}
    found = discover(AwsTarget(region=REGION, endpoint_url=aws.url))
    assert [p.service for p in found.problems] == ["sagemaker"]
    assert "sagemaker:ListEndpoints" in found.problems[0].hint
    assert {m.kind for m in found.models} == {"bedrock-model", "bedrock-profile"}


def test_no_credentials_is_said_for_each_service(
    aws: FakeAws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role either
    found = discover(AwsTarget(region=REGION, endpoint_url=aws.url))
    assert found.models == []
    assert [(p.service, p.code) for p in found.problems] == [
        ("bedrock", "credentials_invalid"),
        ("sagemaker", "credentials_invalid"),
    ]
    assert all(
        "no AWS credentials" in p.message and "AWS_PROFILE" in p.hint for p in found.problems
    )
    assert aws.requests == []  # nothing was sent unsigned


def test_a_region_with_nothing(aws: FakeAws, moto_server: str) -> None:
    bedrock_catalog(aws)
    sagemaker_endpoints(moto_server, aws)
    found = discover(AwsTarget(region="sa-east-1", endpoint_url=aws.url))
    assert (found.region, found.models, found.problems) == ("sa-east-1", [], [])
    with pytest.raises(ArbiterError) as missing:
        find_discovered(found, CLAUDE)
    assert missing.value.code == "not_found" and "sa-east-1" in missing.value.message


def test_a_profile_and_endpoint_url_carry_into_the_variant(aws: FakeAws) -> None:
    bedrock_catalog(aws)
    found = discover(AwsTarget(region=REGION, endpoint_url=aws.url), sagemaker=False)
    model = find_discovered(found, f"eu.{CLAUDE}")
    variant = variant_from_discovered(model, AwsTarget(profile="team", endpoint_url=aws.url))
    assert isinstance(variant.model, BedrockModel)
    assert variant.model.profile == "team" and variant.model.model_id == f"eu.{CLAUDE}"
    assert variant.name == "eu.anthropic.claude-3-haiku-20240307-v1-0"
    with pytest.raises(ArbiterError) as bad:
        variant_from_discovered(model, AwsTarget(), name="no spaces allowed")
    assert bad.value.code == "invalid_request"


async def _answer(model: object) -> str:
    chunks = [c async for c in model.astream([("human", "Hi?")])]  # type: ignore[attr-defined]
    return "".join(c.text for c in chunks)


def test_no_region_says_where_to_set_one(aws: FakeAws, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    found = discover(AwsTarget(endpoint_url=aws.url + "/no-region"))
    assert found.models == [] and {p.code for p in found.problems} == {"invalid_config"}
    assert all("ARBITER_DISCOVER_REGION" in p.hint for p in found.problems)
