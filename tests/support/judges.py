"""A Bedrock judge variant pointed at the fake AWS server, and a judge script with a reply
per call."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.models.variants import BedrockModel, Variant
from service.schemas import GenerationParams
from tests.fakes.aws_server import FakeAws
from tests.fakes.script import Script

JUDGE = "anthropic.claude-3-haiku-20240307-v1:0"


def judge_variant(fake: FakeAws, max_attempts: int = 1) -> Variant:
    return Variant(
        name="judge",
        model=BedrockModel(
            model_id=JUDGE, endpoint_url=fake.url, max_attempts=max_attempts, streaming=False
        ),
        params=GenerationParams(temperature=0.0, max_tokens=300),
    )


@dataclass
class Replies(Script):
    """A scripted judge that gives its replies in turn, one per call (the last one again
    after the list runs out): for judges that ask more than once."""

    replies: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.replies[min(self.calls, len(self.replies)) - 1]
