"""The OpenAI-compatible gateway, driven by the official `openai` client against the live
server: plain and streamed answers, errors as the client expects them, A/B splits (ratio
and stickiness over 2,000 requests), sampling to the store, shadows that never touch the
live answer, feedback by response id, and audited deployment changes."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import httpx
import openai
import pytest
from sqlalchemy import func, select

from service.app.runtime import Runtime
from service.labels.campaigns import list_campaigns
from service.serving.gateway import answer_id
from service.store import turns
from service.store.tables import AnswerRow, ConversationRow
from tests.fakes.script import Script
from tests.support.fixtures import LiveServer

Wait = Callable[[Callable[[], bool], float], None]


def client(live: LiveServer, **kw: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0, **kw)  # type: ignore[arg-type]


def stored_answer(runtime: Runtime, response_id: str) -> AnswerRow | None:
    with runtime.store.session() as s:
        return s.get(AnswerRow, answer_id(response_id))


def test_plain_and_streamed_answers(runtime: Runtime, live: LiveServer, wait_for: Wait) -> None:
    oa = client(live)
    assert {"alpha", "beta", "gamma"} <= {m.id for m in oa.models.list()}
    reply = oa.chat.completions.create(
        model="alpha",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        temperature=0.5,
        user="ada",
    )
    assert reply.choices[0].message.content == "Paris is the capital."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == "alpha" and reply.id.startswith("chatcmpl-")
    assert reply.usage is not None and reply.usage.completion_tokens == 5
    wait_for(lambda: stored_answer(runtime, reply.id) is not None, 5)
    row = stored_answer(runtime, reply.id)
    assert row is not None and row.text == "Paris is the capital." and row.status == "ok"
    sent = row.request["messages"]
    assert sent[0] == {"role": "system", "content": "You are alpha."}  # the variant's prompt
    assert sent[1:] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    assert row.request["params"]["temperature"] == 0.5  # the request overrides the variant

    stream = oa.chat.completions.create(
        model="beta",
        messages=[{"role": "user", "content": "Capital?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "It is Paris."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert len({c.id for c in chunks}) == 1

    good = httpx.post(
        f"{live.url}/v1/feedback", json={"response_id": reply.id, "positive": True, "user": "ada"}
    )
    assert good.status_code == 200 and good.json()["positive"] is True
    missing = httpx.post(
        f"{live.url}/v1/feedback", json={"response_id": "chatcmpl-nope", "positive": False}
    )
    assert missing.status_code == 404


def test_errors_reach_the_client_as_it_expects(
    runtime: Runtime, live: LiveServer, scripts: dict[str, Script]
) -> None:
    oa = client(live)
    with pytest.raises(openai.NotFoundError) as nf:
        oa.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert "GET /v1/models" in str(nf.value)
    with pytest.raises(openai.UnprocessableEntityError, match="last user message is empty"):
        oa.chat.completions.create(model="alpha", messages=[{"role": "user", "content": " "}])
    with pytest.raises(openai.APIStatusError) as big:
        oa.chat.completions.create(
            model="alpha", messages=[{"role": "user", "content": "x" * 5000}]
        )
    assert big.value.status_code == 413
    scripts["gamma"].failure = "throttle"
    with pytest.raises(openai.RateLimitError) as limited:
        oa.chat.completions.create(model="gamma", messages=[{"role": "user", "content": "hi"}])
    assert int(limited.value.response.headers["retry-after"]) >= 1
    scripts["beta"].failure = "throttle_midstream"
    with pytest.raises(openai.APIError, match="throttling"):
        list(
            oa.chat.completions.create(
                model="beta", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )


def test_ab_split_sticky_sampled_and_changed_live(runtime: Runtime, live: LiveServer) -> None:
    url = live.url
    put = httpx.put(
        f"{url}/api/deployments/support",
        json={"split": {"alpha": 7, "beta": 3}, "sample_rate": 0.25, "sticky": "user"},
    )
    assert put.status_code == 200, put.text
    oa = client(live)
    seen: Counter[str] = Counter()
    by_user: dict[str, str] = {}
    n = 2000
    for i in range(n):
        raw = oa.chat.completions.with_raw_response.create(
            model="support", messages=[{"role": "user", "content": f"q{i}"}], user=f"user{i}"
        )
        variant = raw.headers["x-arbiter-variant"]
        seen[variant] += 1
        by_user[f"user{i}"] = variant
        assert raw.parse().choices[0].message.content
    # 70/30 within 4 standard deviations of the binomial (sd = sqrt(n * 0.21) = 20.5).
    assert abs(seen["alpha"] - 0.7 * n) < 4 * (n * 0.21) ** 0.5, seen
    for user in ("user1", "user77", "user1999"):  # the same user keeps their variant
        for _ in range(3):
            raw = oa.chat.completions.with_raw_response.create(
                model="support", messages=[{"role": "user", "content": "again"}], user=user
            )
            assert raw.headers["x-arbiter-variant"] == by_user[user]

    deadline = time.monotonic() + 20
    while True:  # sampled calls are stored in the background
        with runtime.store.session() as s:
            stored = s.scalar(
                select(func.count())
                .select_from(ConversationRow)
                .where(ConversationRow.mode == "gateway")
            )
        if time.monotonic() > deadline or runtime.gateway.inflight == set():
            break
        time.sleep(0.1)
    sd = (n * 0.25 * 0.75) ** 0.5  # 19.4
    assert abs(stored - 0.25 * (n + 9)) < 4 * sd, stored

    httpx.put(f"{url}/api/deployments/support", json={"split": {"beta": 1}}).raise_for_status()
    for i in range(20):  # takes effect on the next request, no restart
        raw = oa.chat.completions.with_raw_response.create(
            model="support", messages=[{"role": "user", "content": "x"}], user=f"user{i}"
        )
        assert raw.headers["x-arbiter-variant"] == "beta"
    events = httpx.get(f"{url}/api/audit", params={"action": "deployment.update"}).json()
    assert len(events) == 1 and events[0]["actor"] == "local"
    assert events[0]["detail"]["before"]["split"] == {"alpha": 7, "beta": 3}
    assert events[0]["detail"]["after"]["split"] == {"beta": 1}
    assert httpx.get(f"{url}/api/audit", params={"action": "deployment.create"}).json()

    bad = httpx.put(f"{url}/api/deployments/x", json={"split": {"alpha": 1}, "shadows": ["zeta"]})
    assert bad.status_code == 422 and "unknown variant(s) zeta" in bad.json()["error"]["message"]
    both = httpx.put(f"{url}/api/deployments/x", json={"live": "alpha", "split": {"beta": 1}})
    assert both.status_code == 422 and "not both" in both.json()["error"]["message"]


@pytest.mark.parametrize("shadow_trouble", ["slow", "failing"])
def test_shadows_never_touch_the_live_answer(
    runtime: Runtime,
    live: LiveServer,
    scripts: dict[str, Script],
    wait_for: Wait,
    shadow_trouble: str,
) -> None:
    if shadow_trouble == "slow":
        scripts["gamma"].first_token_delay_s = 3.0
    else:
        scripts["gamma"].failure = "server_error"
    httpx.put(
        f"{live.url}/api/deployments/prod", json={"live": "alpha", "shadows": ["gamma"]}
    ).raise_for_status()
    oa = client(live)
    started = time.perf_counter()
    reply = oa.chat.completions.create(model="prod", messages=[{"role": "user", "content": "hi"}])
    elapsed = time.perf_counter() - started
    assert reply.choices[0].message.content == "Paris is the capital."  # alpha's, never gamma's
    # The live answer came back while the shadow was still thinking (3 s) or had failed.
    assert elapsed < 1.5, elapsed

    def shadow_stored() -> bool:
        row = stored_answer(runtime, reply.id)
        return row is not None and len(turns.get_turn(runtime.store, row.turn_id).answers) == 2

    wait_for(shadow_stored, 10)
    row = stored_answer(runtime, reply.id)
    assert row is not None
    answers = {a.variant: a for a in turns.get_turn(runtime.store, row.turn_id).answers}
    assert answers["alpha"].pane == 0 and answers["alpha"].status == "ok"
    shadow = answers["gamma"]
    assert shadow.pane == 1
    if shadow_trouble == "slow":
        assert shadow.status == "ok" and shadow.text == "Bonjour!"
    else:
        assert shadow.status == "error"


def test_nul_characters_are_refused_in_requests_and_kept_out_of_the_store(
    runtime: Runtime, live: LiveServer, scripts: dict[str, Script], wait_for: Wait
) -> None:
    url = live.url
    bad = httpx.post(f"{url}/api/compare", json={"prompt": "a\x00b", "variants": ["alpha", "beta"]})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "nul_character"
    with pytest.raises(openai.UnprocessableEntityError, match="NUL character"):
        client(live).chat.completions.create(
            model="alpha", messages=[{"role": "user", "content": "x\x00"}]
        )
    assert httpx.get(f"{url}/api/turns", params={"q": "a\x00"}).status_code == 422
    # A model may answer with one: the answer is stored, the NUL replaced (PostgreSQL
    # cannot hold it in text).
    scripts["alpha"].tokens = ["bad", "\x00", "byte"]
    reply = client(live).chat.completions.create(
        model="alpha", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "bad\x00byte"
    wait_for(lambda: stored_answer(runtime, reply.id) is not None, 5)
    row = stored_answer(runtime, reply.id)
    assert row is not None and row.text == "bad\ufffdbyte"


def test_review_production_traffic_campaign(runtime: Runtime, live: LiveServer) -> None:
    """A campaign of stored gateway turns (live answer beside the shadow's), judged as they
    are; a rater sees only campaigns open to them."""
    url = live.url
    httpx.put(
        f"{url}/api/deployments/prod", json={"live": "alpha", "shadows": ["beta"]}
    ).raise_for_status()
    oa = client(live)
    for i in range(3):
        oa.chat.completions.create(model="prod", messages=[{"role": "user", "content": f"q{i}"}])
    oa.chat.completions.create(model="gamma", messages=[{"role": "user", "content": "solo"}])
    runtime.gateway.writer.close()  # everything written
    made = httpx.post(
        f"{url}/api/campaigns",
        json={"name": "review", "from_gateway": 10, "deployment": "prod", "raters": ["ada"]},
    )
    assert made.status_code == 201 and made.json()["items"] == 3, made.text
    nothing = httpx.post(
        f"{url}/api/campaigns", json={"name": "none", "from_gateway": 10, "deployment": "nope"}
    )
    assert nothing.status_code == 422 and "shadow" in nothing.json()["error"]["hint"]
    item = httpx.get(f"{url}/api/campaigns/review/next", params={"on_behalf_of": "ada"}).json()
    assert item["turn"]["prompt"] in {"q0", "q1", "q2"}
    assert len(item["turn"]["answers"]) == 2  # live and shadow, names hidden until voted
    vote = httpx.post(
        f"{url}/api/turns/{item['turn']['id']}/votes", json={"outcome": "a", "on_behalf_of": "ada"}
    )
    assert vote.status_code == 201
    answers = turns.get_turn(runtime.store, item["turn"]["id"]).answers
    assert [a.variant for a in answers] == ["alpha", "beta"]
    status = httpx.get(f"{url}/api/campaigns/review").json()
    assert status["items"] == 3 and status["answered"] == 3

    assert [c["name"] for c in list_campaigns(runtime.store, who="ada", role="rater")] == ["review"]
    assert list_campaigns(runtime.store, who="bob", role="rater") == []
    assert [c["name"] for c in list_campaigns(runtime.store, who="bob", role="admin")] == ["review"]
