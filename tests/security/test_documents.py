"""Issue 23, items 2 and 11 and the report frames: untrusted documents are read under limits
(unpacked size, element count, time, in a worker that is stopped with the server), a bad file
in an upload leaves the collection alone and the answer says what became of each file; chunk
pages and report frames open by a link the page signs for the signed-in person, or with an
API key, and for nobody else."""

from __future__ import annotations

import html
import io
import os
import re
import signal
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.access.people import set_password
from service.labels.reviews import set_rater
from service.store import Store, turns
from tests.support.auth import ADMIN, secured
from tests.support.documents import make_docx
from tests.support.fixtures import LiveServer
from tests.support.gradio import page_client
from tests.support.processes import ServerProcess, arbiter_server

AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
PARSE_TIMEOUT_S = 3
GOOD = b"The north pier opens at six in the morning and closes at ten at night."


# ---- bombs, built here ------------------------------------------------------------------


def zip_bomb_docx(part_bytes: int = 2**30) -> bytes:
    """A real .docx with one more part: `part_bytes` of zeros, deflated (1 GiB -> ~5 MB)."""
    source = zipfile.ZipFile(io.BytesIO(make_docx(["A harmless paragraph."])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bomb:
        for info in source.infolist():
            bomb.writestr(info.filename, source.read(info.filename))
        with bomb.open("word/media/image1.png", "w") as part:
            block = bytes(2**20)
            for _ in range(part_bytes // len(block)):
                part.write(block)
    return out.getvalue()


def paragraph_bomb_docx(paragraphs: int = 3_000_000) -> bytes:
    """A real .docx whose document holds millions of empty paragraphs (~30 KB zipped)."""
    source = zipfile.ZipFile(io.BytesIO(make_docx(["First paragraph."])))
    xml = source.read("word/document.xml")
    head, _, tail = xml.partition(b"<w:body>")
    body = b"<w:body>" + b"<w:p/>" * paragraphs + b"<w:p><w:r><w:t>Last.</w:t></w:r></w:p>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/document.xml":
                data = (
                    head + body + tail.partition(b"</w:body>")[1] + tail.partition(b"</w:body>")[2]
                )
            bomb.writestr(info.filename, data)
    return out.getvalue()


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    return zip_bomb_docx()


@pytest.fixture(scope="module")
def paragraph_bomb() -> bytes:
    return paragraph_bomb_docx()


# ---- a real server ------------------------------------------------------------------------


def serve(home: Path, **env: str) -> Any:
    (home / "arbiter.toml").write_text(
        '[[variants]]\nname = "alpha"\n[variants.model]\nprovider = "openai"\n'
        'base_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n'
    )
    return arbiter_server(
        home,
        env={
            "ARBITER_AUTH": "keys",
            "ARBITER_ADMIN_KEY": ADMIN,
            "ARBITER_RAG_SAMPLE_CORPUS": "false",
            "ARBITER_ONLINE_METRICS": "",
            "ARBITER_EXAMPLE_USE_CASE": "false",
            "ARBITER_RAG_PARSE_TIMEOUT_S": str(PARSE_TIMEOUT_S),
            **env,
        },
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with serve(tmp_path_factory.mktemp("docs-server")) as running:
        yield running


def upload(url: str, collection: str, *files: tuple[str, bytes], timeout: float = 30) -> Any:
    return httpx.post(
        f"{url}/api/collections/{collection}/documents?create=true",
        files=[("files", f) for f in files],
        headers=AS_ADMIN,
        timeout=timeout,
    )


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def still_alive(pids: set[int], within_s: float = 5) -> list[int]:
    """Those of `pids` still running after waiting up to `within_s` for them to end."""
    deadline = time.monotonic() + within_s
    while [pid for pid in pids if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if alive(pid)]


# ---- item 11: upload bombs ---------------------------------------------------------------


def test_a_zip_bomb_is_refused_by_its_unpacked_size_without_growing_the_server(
    server: ServerProcess, zip_bomb: bytes
) -> None:
    assert len(zip_bomb) < 10 * 2**20  # ~5 MB that unpacks to 1 GiB
    before = peak_rss_mb(server.proc.pid)
    r = upload(server.url, "bombs", ("report.docx", zip_bomb))
    grown = peak_rss_mb(server.proc.pid) - before
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "unpacked_too_large"
    assert "100 MiB" in error["message"] and "ARBITER_RAG_MAX_UNPACKED_MB" in error["hint"]
    [file] = r.json()["files"]
    assert file["source"] == "report.docx" and file["status"] == "rejected"
    assert file["code"] == "unpacked_too_large"
    assert grown < 300, f"the server grew by {grown:.0f} MB"
    assert httpx.get(f"{server.url}/api/collections/bombs/documents", headers=AS_ADMIN).json() == []


def test_a_paragraph_bomb_is_refused_by_its_element_count_in_bounded_time(
    server: ServerProcess, paragraph_bomb: bytes
) -> None:
    assert len(paragraph_bomb) < 200_000
    start = time.monotonic()
    r = upload(server.url, "bombs", ("minutes.docx", paragraph_bomb))
    took = time.monotonic() - start
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "too_many_elements"
    assert "200,000" in error["message"] and "ARBITER_RAG_MAX_ELEMENTS" in error["hint"]
    assert took < 2 * PARSE_TIMEOUT_S, f"answered after {took:.1f} s"


def test_a_mixed_upload_keeps_only_the_good_file_and_says_what_became_of_each(
    server: ServerProcess, paragraph_bomb: bytes
) -> None:
    r = upload(
        server.url,
        "mixed",
        ("pier.txt", GOOD),
        ("minutes.docx", paragraph_bomb),
        ("notes.exe", b"MZ\x90\x00"),
    )
    assert r.status_code == 207, r.text
    files = {f["source"]: f for f in r.json()}
    assert files["pier.txt"]["status"] == "added" and files["pier.txt"]["chunks"] == 1
    assert files["minutes.docx"]["status"] == "rejected"
    assert files["minutes.docx"]["code"] == "too_many_elements"
    assert files["minutes.docx"]["message"] and files["minutes.docx"]["hint"]
    assert files["notes.exe"]["status"] == "rejected" and files["notes.exe"]["hint"]
    listed = httpx.get(f"{server.url}/api/collections/mixed/documents", headers=AS_ADMIN).json()
    assert [d["source"] for d in listed] == ["pier.txt"]
    [info] = [
        c
        for c in httpx.get(f"{server.url}/api/collections", headers=AS_ADMIN).json()
        if c["name"] == "mixed"
    ]
    assert info["documents"] == 1 and info["chunks"] == 1
    # All good: the plain success status, as before.
    again = upload(server.url, "mixed", ("museum.txt", b"The museum is closed on Mondays."))
    assert again.status_code == 200 and again.json()[0]["status"] == "added"


def test_a_slow_parse_is_stopped_at_the_time_limit(tmp_path: Path, paragraph_bomb: bytes) -> None:
    with serve(tmp_path, ARBITER_RAG_MAX_ELEMENTS="100000000") as running:
        start = time.monotonic()
        r = upload(running.url, "slow", ("minutes.docx", paragraph_bomb))
        took = time.monotonic() - start
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "parse_timeout"
        assert "ARBITER_RAG_PARSE_TIMEOUT_S" in r.json()["error"]["hint"]
        assert took < 2 * PARSE_TIMEOUT_S, f"answered after {took:.1f} s"
        workers = descendants(running.proc.pid)
        # The server is still fine: a good file goes in.
        ok = upload(running.url, "slow", ("pier.txt", GOOD))
        assert ok.status_code == 200 and ok.json()[0]["status"] == "added"
    assert still_alive(workers) == []  # no reader left behind


def test_sigterm_during_a_slow_parse_stops_the_server_within_seconds(
    tmp_path: Path, paragraph_bomb: bytes
) -> None:
    env = {"ARBITER_RAG_MAX_ELEMENTS": "100000000", "ARBITER_RAG_PARSE_TIMEOUT_S": "120"}
    with serve(tmp_path, **env) as running:
        answered: list[Any] = []

        def send() -> None:
            try:
                answered.append(upload(running.url, "slow", ("minutes.docx", paragraph_bomb)))
            except httpx.HTTPError as exc:
                answered.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(2.5)  # the parse is under way
        assert not answered
        family = descendants(running.proc.pid)
        start = time.monotonic()
        os.kill(running.proc.pid, signal.SIGTERM)
        try:
            running.proc.wait(timeout=10)
        except Exception:
            running.proc.kill()
            raise
        took = time.monotonic() - start
        sender.join(timeout=10)
    assert took < 8, f"stopped after {took:.1f} s"
    assert still_alive(family) == []  # no reader left behind


# ---- item 2 and the report frames: signed links --------------------------------------------


@pytest.fixture
def keyed_ui(
    store: Store, variants_file: Path, scripts: dict[str, Any], tmp_path: Path
) -> Iterator[LiveServer]:
    runtime = secured(store, variants_file, scripts, tmp_path, auth="keys", admin_key=ADMIN)
    set_rater(store, "ada", "rater")
    set_password(store, "ada", "rater-password")
    runtime.library.create_collection("docs")
    runtime.library.ingest("docs", "pier.txt", GOOD)
    runtime.library.ingest("docs", "museum.txt", b"The museum is closed on Mondays.")
    for script in scripts.values():
        script.tokens = ["Six", " o'clock [1]."]
    with LiveServer(runtime, with_ui=True) as live:
        yield live


def signed_chunk_link(text: str, chunk_id: int) -> str:
    match = re.search(rf"\((/chunks/{chunk_id}\?[^)\s]+)\)", text)
    assert match, f"no signed link to chunk {chunk_id} in the page"
    return html.unescape(match.group(1))


def test_chunk_pages_open_by_a_signed_link_or_a_key_and_for_nobody_else(
    keyed_ui: LiveServer,
) -> None:
    url, runtime = keyed_ui.url, keyed_ui.runtime
    ada = page_client(url, auth=("ada", "rater-password"))
    job = ada.submit("When does the pier open?", "ada", True, "docs", 2, api_name="/arena_send")
    job.result()
    page_text = str(list(job.outputs())[-1])
    chunk_id = turns.list_turns(runtime.store)[0].retrieval["chunks"][0]["chunk_id"]  # type: ignore[index]
    link = signed_chunk_link(page_text, chunk_id)
    assert "by=ada" in link

    shown = httpx.get(url + link)
    assert shown.status_code == 200 and "north pier" in shown.text

    refused = httpx.get(f"{url}/chunks/{chunk_id}")
    assert refused.status_code == 401 and "north pier" not in refused.text
    assert "signed link" in refused.json()["error"]["message"]
    assert refused.json()["error"]["hint"]
    walked = httpx.get(url + link.replace(f"/chunks/{chunk_id}?", f"/chunks/{chunk_id + 1}?"))
    assert walked.status_code == 401 and walked.json()["error"]["code"] == "link_invalid"
    forged = httpx.get(url + re.sub(r"sig=[^&]+", "sig=AAAA", link))
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "link_invalid"
    other = httpx.get(url + link.replace("by=ada", "by=root"))
    assert other.status_code == 401
    longer = re.sub(r"expires=(\d+)", lambda m: f"expires={int(m.group(1)) + 86400}", link)
    assert httpx.get(url + longer).status_code == 401
    expired = runtime.links.sign(f"/chunks/{chunk_id}", "ada", now=time.time() - 7200)
    gone = httpx.get(url + expired)
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "link_expired"
    # A link opens that page and no other: not the API, not another route.
    query = link.split("?", 1)[1]
    assert httpx.get(f"{url}/api/chunks/{chunk_id}?{query}").status_code == 401
    assert httpx.get(f"{url}/api/turns?{query}").status_code == 401

    with_key = httpx.get(f"{url}/chunks/{chunk_id}", headers=AS_ADMIN)
    assert with_key.status_code == 200 and "north pier" in with_key.text
    bad_key = httpx.get(f"{url}/chunks/{chunk_id}", headers={"Authorization": "Bearer arb_nope"})
    assert bad_key.status_code == 401


def test_chunk_pages_need_nothing_for_the_local_admin(live: LiveServer) -> None:
    live.runtime.library.create_collection("docs")
    live.runtime.library.ingest("docs", "pier.txt", GOOD)
    chunk_id = live.runtime.library.retrieve("docs", "pier").chunks[0].chunk_id
    page = httpx.get(f"{live.url}/chunks/{chunk_id}")
    assert page.status_code == 200 and "north pier" in page.text


def frame_links(frame: str) -> tuple[str, str]:
    src = re.search(r'<iframe src="([^"]+)"', frame)
    md = re.search(r'<a href="([^"]+\.md[^"]*)"', frame)
    assert src and md, frame
    return html.unescape(src.group(1)), html.unescape(md.group(1))


def test_report_frames_load_for_the_signed_in_person_in_keys_mode(
    keyed_ui: LiveServer, wait_for: Any
) -> None:
    url = keyed_ui.url
    spec = {"variants": ["alpha", "beta"], "targets": ["error_rate <= 0.5"]}
    assert httpx.put(f"{url}/api/usecases/chat", json=spec, headers=AS_ADMIN).status_code in (
        200,
        201,
    )
    dataset = '{"prompt": "Capital of France?", "reference": "Paris."}\n'
    started = httpx.post(
        f"{url}/api/eval-runs",
        json={"variants": ["alpha", "beta"], "metrics": ["exact_match"], "dataset": dataset},
        headers=AS_ADMIN,
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    wait_for(
        lambda: (
            httpx.get(f"{url}/api/eval-runs/{run_id}", headers=AS_ADMIN).json()["status"] == "done"
        ),
        30,
    )
    ada = page_client(url, auth=("ada", "rater-password"))

    _, _, frame = ada.predict("chat", None, "(its own)", api_name="/usecase_status")
    src, md = frame_links(frame)
    assert src.startswith("/api/usecases/chat/report.html?")
    page = httpx.get(url + src)  # what the iframe asks for: the page's cookie, no key
    assert page.status_code == 200 and "Model selection: chat" in page.text
    assert httpx.get(url + md).status_code == 200
    assert httpx.get(f"{url}/api/usecases/chat/report.html").status_code == 401

    src, md = frame_links(ada.predict(run_id, api_name="/eval_report"))
    page = httpx.get(url + src)
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert httpx.get(url + md).status_code == 200
    assert httpx.get(f"{url}/api/eval-runs/{run_id}/report.html").status_code == 401
    # The link is for this query only: asking the report for a judge (model calls) is refused.
    assert httpx.get(url + src + "&judge=gamma").status_code == 401
