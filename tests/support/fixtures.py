"""The fixtures of integration and end-to-end tests: a real store (SQLite file and
PostgreSQL schema), a runtime on scripted models, live servers with and without the page,
the fake AWS and OpenAI-compatible servers, moto's server, and Debian's Chromium. Unit tests
never import this module."""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn
from moto.server import ThreadedMotoServer
from playwright.sync_api import Browser, Page, expect, sync_playwright

from service.app.bootstrap import build_runtime
from service.app.runtime import Runtime
from service.config import Settings
from service.store import Store, migrate
from service.web import build_web_app, server_options
from tests.fakes.aws_server import FakeAws
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.script import Script
from tests.fakes.scripted import ScriptedFactory
from tests.support.processes import free_port

__all__ = [
    "LiveServer",
    "browser",
    "fake_aws",
    "fake_openai",
    "live",
    "live_ui",
    "moto_server",
    "page",
    "runtime",
    "scripts",
    "store",
    "variants_file",
]
PG_URL = os.environ.get("ARBITER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def _scratch_schema() -> Iterator[str]:
    """A new, empty PostgreSQL schema's name; dropped with what it holds afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _schema_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@contextmanager
def pg_schema() -> Iterator[tuple[str, sa.Engine]]:
    """An empty PostgreSQL schema for processes started by a test (they migrate it): the
    database URL that selects it, and an engine on it; dropped afterwards."""
    with _scratch_schema() as schema:
        url = _schema_url(schema)
        db = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            yield url, db
        finally:
            db.dispose()


@contextmanager
def served_database(kind: str, home: Path) -> Iterator[tuple[str, Callable[[], Store]]]:
    """An empty database for an `arbiter serve` process to migrate: its URL (a SQLite file
    in `home`, or an isolated PostgreSQL schema dropped afterwards), and how to open it as a
    store once the process is done."""
    if kind == "sqlite":
        url = f"sqlite:///{home / 'arbiter.db'}"
        yield url, lambda: Store(url)
        return
    with _scratch_schema() as schema:
        yield _schema_url(schema), lambda: Store(PG_URL, schema=schema)


@contextmanager
def scratch_store(kind: str, tmp_path: Path, *, revision: str | None = None) -> Iterator[Store]:
    """A store migrated to `revision` (None: the latest): a SQLite file, or an isolated
    PostgreSQL schema dropped afterwards."""

    def migrated(s: Store) -> None:
        if revision is None:
            s.upgrade()
        else:
            migrate.upgrade(s.engine, revision)

    if kind == "sqlite":
        s = Store(f"sqlite:///{tmp_path / 'arbiter.db'}")
        migrated(s)
        yield s
        s.dispose()
        return
    with _scratch_schema() as schema:
        s = Store(PG_URL, schema=schema)
        try:
            migrated(s)
            yield s
        finally:
            s.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store: a SQLite file, or an isolated PostgreSQL schema."""
    with scratch_store(request.param, tmp_path) as s:
        yield s


VARIANTS_TOML = """
[[variants]]
name = "alpha"
system_prompt = "You are alpha."
[variants.model]
provider = "openai"
base_url = "http://127.0.0.1:9/v1"
model = "alpha"
[variants.params]
temperature = 0.1
max_tokens = 64

[[variants]]
name = "beta"
[variants.model]
provider = "openai"
base_url = "http://127.0.0.1:9/v1"
model = "beta"

[[variants]]
name = "gamma"
[variants.model]
provider = "openai"
base_url = "http://127.0.0.1:9/v1"
model = "gamma"
"""


@pytest.fixture
def variants_file(tmp_path: Path) -> Path:
    path = tmp_path / "variants.toml"
    path.write_text(VARIANTS_TOML)
    return path


@pytest.fixture
def scripts() -> dict[str, Script]:
    return {
        "alpha": Script(tokens=["Paris", " is", " the", " capital", "."]),
        "beta": Script(tokens=["It", " is", " Paris", "."]),
        "gamma": Script(tokens=["Bonjour", "!"]),
    }


@pytest.fixture
def runtime(
    store: Store, variants_file: Path, scripts: dict[str, Script], tmp_path: Path
) -> Iterator[Runtime]:
    """A runtime on the real store with scripted models (fast; no network)."""
    settings = Settings(
        home=tmp_path,
        variants_file=variants_file,
        max_prompt_chars=1000,
        online_metrics="faithfulness_overlap",  # cheap; tests that need more set their own
    )
    rt = build_runtime(settings, model_factory=ScriptedFactory(scripts), store=store)
    yield rt


class LiveServer:
    def __init__(self, runtime: Runtime, *, with_ui: bool = False) -> None:
        self.port = free_port()
        self.runtime = runtime
        options = {**server_options(runtime.settings), "timeout_graceful_shutdown": 1}
        config = uvicorn.Config(
            build_web_app(runtime, with_ui=with_ui),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            **options,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live(runtime: Runtime) -> Iterator[LiveServer]:
    with LiveServer(runtime) as server:
        yield server


@pytest.fixture
def live_ui(runtime: Runtime) -> Iterator[LiveServer]:
    """The API with the Gradio page mounted, on scripted models."""
    with LiveServer(runtime, with_ui=True) as server:
        yield server


@pytest.fixture
def fake_aws() -> Iterator[FakeAws]:
    with FakeAws() as server:
        yield server  # type: ignore[misc]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server  # type: ignore[misc]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server on 127.0.0.1: CloudWatch, S3, sagemaker-runtime invoke_endpoint, ..."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


# Playwright's `expect` waits 5 s by default; a page that is right but slow to draw on a
# loaded two-core CI machine (Gradio builds every component in the browser) failed with
# that. A wrong page still fails, only later.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (Playwright's own browser download is not available here). Module
    scope, so Playwright's event loop is gone before other test modules run."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise RuntimeError(
            "chromium is not installed: `apt-get install -y chromium` (.ci/run does it)"
        )
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page()
    yield page
    page.close()
