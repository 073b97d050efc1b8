"""The pure parts of batch-backend eval runs: InvokeModel bodies per model family, job
sizes and names, record ids, the batch price, S3 locations."""

from __future__ import annotations

import re

import pytest

from service.errors import ArbiterError, ErrorCode
from service.evaluation.batch_jobs.backend import chunk_sizes, job_name
from service.evaluation.batch_jobs.bedrock import record_id, record_index
from service.evaluation.batch_jobs.s3 import S3Uri
from service.models import MalformedReply, PriceTable, parse_reply, request_body
from service.models.variants import BedrockModel, Price, Variant
from service.schemas import GenerationParams

PARAMS = GenerationParams(temperature=0.2, top_p=0.9, max_tokens=50, stop=("\n\n",))


def test_claude_gets_the_messages_body_and_its_reply_is_read() -> None:
    body = request_body("us.anthropic.claude-3-5-haiku-20241022-v1:0", "Be brief.", "Hi?", PARAMS)
    assert body == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi?"}]}],
        "system": "Be brief.",
        "temperature": 0.2,
        "top_p": 0.9,
        "stop_sequences": ["\n\n"],
    }
    reply = parse_reply(
        "anthropic.claude-3-haiku-20240307-v1:0",
        {
            "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "!"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 7, "output_tokens": 2},
        },
    )
    assert (reply.text, reply.tokens_in, reply.tokens_out, reply.finish_reason) == (
        "Hello!",
        7,
        2,
        "end_turn",
    )


def test_nova_and_titan_get_their_own_bodies() -> None:
    nova = request_body("amazon.nova-lite-v1:0", "Be brief.", "Hi?", PARAMS)
    assert nova["schemaVersion"] == "messages-v1"
    assert nova["system"] == [{"text": "Be brief."}]
    assert nova["messages"] == [{"role": "user", "content": [{"text": "Hi?"}]}]
    assert nova["inferenceConfig"] == {
        "maxTokens": 50,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["\n\n"],
    }
    assert "inferenceConfig" not in request_body(
        "amazon.nova-micro-v1:0", "", "Hi?", GenerationParams()
    )
    titan = request_body("amazon.titan-text-express-v1", "", "Hi?", GenerationParams())
    assert titan == {"inputText": "Hi?", "textGenerationConfig": {"maxTokenCount": 1024}}
    reply = parse_reply(
        "amazon.titan-text-express-v1",
        {
            "inputTextTokenCount": 3,
            "results": [{"tokenCount": 1, "outputText": "Yo", "completionReason": "FINISH"}],
        },
    )
    assert (reply.text, reply.tokens_in, reply.tokens_out) == ("Yo", 3, 1)
    nova_reply = parse_reply(
        "amazon.nova-micro-v1:0",
        {
            "output": {"message": {"content": [{"text": "Hey"}]}},
            "usage": {"inputTokens": 4, "outputTokens": 1},
        },
    )
    assert (nova_reply.text, nova_reply.tokens_in) == ("Hey", 4)


def test_unknown_families_and_malformed_replies_are_refused_clearly() -> None:
    with pytest.raises(ArbiterError) as caught:
        request_body("meta.llama3-1-8b-instruct-v1:0", "", "Hi", GenerationParams())
    assert "Anthropic Claude, Amazon Nova and Amazon Titan Text" in caught.value.message
    assert "--backend online" in caught.value.hint
    with pytest.raises(MalformedReply):
        parse_reply("anthropic.claude-3-haiku-20240307-v1:0", {"completion": "old API"})
    with pytest.raises(MalformedReply):
        parse_reply("amazon.nova-micro-v1:0", ["not", "a", "dict"])


@pytest.mark.parametrize(
    ("count", "most", "sizes"),
    [
        (0, 10, []),
        (10, 10, [10]),
        (11, 10, [6, 5]),
        (120, 50, [40, 40, 40]),
        (100_001, 50_000, [33_334, 33_334, 33_333]),
    ],
)
def test_jobs_are_as_few_and_as_even_as_the_maximum_allows(
    count: int, most: int, sizes: list[int]
) -> None:
    assert chunk_sizes(count, most) == sizes


def test_job_names_suit_both_services() -> None:
    bedrock = re.compile(r"^[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}$")
    sagemaker = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    for variant in ("claude", "my_variant.v2", "x" * 64, "--weird--"):
        name = job_name("0190f2a4-5b6c-7d8e-9f00-112233445566", variant, 12)
        assert len(name) <= 63 and bedrock.match(name) and sagemaker.match(name), name
    assert job_name("a-b", "v", 1) != job_name("a-b", "v", 2)


def test_record_ids_are_eleven_alphanumerics_that_map_back() -> None:
    rid = record_id(4321)
    assert len(rid) == 11 and rid.isalnum() and record_index(rid) == 4321
    assert record_index("CALL0000001") is None and record_index(12) is None


def test_batch_inference_costs_half_the_on_demand_price() -> None:
    prices = PriceTable.load()
    claude = Variant(
        name="c", model=BedrockModel(model_id="anthropic.claude-3-haiku-20240307-v1:0")
    )
    assert prices.batch_cost(claude, 1000, 1000) == pytest.approx((0.00025 + 0.00125) / 2)
    assert prices.cost(claude, 1000, 1000) == pytest.approx(0.00025 + 0.00125)
    own = claude.model_copy(update={"price": Price(input_per_1k=1.0, output_per_1k=2.0)})
    assert prices.batch_cost(own, 1000, 0) == pytest.approx(0.5)
    listed = PriceTable(
        {
            **prices.prices,
            "bedrock-batch": {
                "anthropic.claude-3-haiku-20240307-v1:0": Price(input_per_1k=0.1, output_per_1k=0.1)
            },
        }
    )
    assert listed.batch_cost(claude, 1000, 1000) == pytest.approx(0.2)


def test_s3_locations() -> None:
    root = S3Uri.parse("s3://bucket/runs")
    assert (
        str(root.folder().join("r1", "job", "input.jsonl")) == "s3://bucket/runs/r1/job/input.jsonl"
    )
    assert str(S3Uri.parse("s3://bucket").join("a")) == "s3://bucket/a"
    with pytest.raises(ArbiterError) as caught:
        S3Uri.parse("bucket/runs")
    assert caught.value.code == ErrorCode.BATCH_NOT_CONFIGURED
