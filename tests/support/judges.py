"""A Bedrock judge variant pointed at the fake AWS server."""

from __future__ import annotations

from service.models.variants import BedrockModel, Variant
from service.schemas import GenerationParams
from tests.fakes.aws_server import FakeAws

JUDGE = "anthropic.claude-3-haiku-20240307-v1:0"


def judge_variant(fake: FakeAws, max_attempts: int = 1) -> Variant:
    return Variant(
        name="judge",
        model=BedrockModel(
            model_id=JUDGE, endpoint_url=fake.url, max_attempts=max_attempts, streaming=False
        ),
        params=GenerationParams(temperature=0.0, max_tokens=300),
    )
