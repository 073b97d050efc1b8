"""OpenTelemetry with in-memory exporters: a trace per comparison with a span per model
call, GenAI semantic-convention attributes and metrics, and evaluation events."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from monitoring.pipeline import Telemetry
from service.app.runtime import Runtime
from service.serving import BlindHold
from tests.fakes.script import Script
from tests.support.fixtures import LiveServer
from tests.support.otel import in_memory


def test_no_prompt_or_answer_text_is_recorded(
    runtime: Runtime,
    scripts: dict[str, Script],
    live: LiveServer,
    wait_for: Callable[[Callable[[], bool], float], None],
) -> None:
    sink, spans, _ = in_memory()
    telemetry = Telemetry([sink], interval_s=0.01)
    runtime.engine.emit = telemetry.emit
    runtime.engine.blind_hold = BlindHold(telemetry.emit)
    scripts["alpha"].tokens = ["The secret answer."]
    r = httpx.post(
        f"{live.url}/api/compare",
        json={"prompt": "my private question", "variants": ["alpha", "beta"]},
        timeout=30,
    )
    assert r.status_code == 200

    def traced() -> bool:
        telemetry.flush(5)
        return any(s.name == "compare" for s in spans.get_finished_spans())

    wait_for(traced, 10)
    finished = spans.get_finished_spans()
    root = next(s for s in finished if s.name == "compare")
    children = [
        s for s in finished if s.parent is not None and s.parent.span_id == root.context.span_id
    ]
    assert sorted(s.attributes["arbiter.variant"] for s in children) == ["alpha", "beta"]
    everything = repr([(s.name, dict(s.attributes or {}), s.events) for s in finished])
    assert "my private question" not in everything and "secret answer" not in everything
    telemetry.shutdown()
