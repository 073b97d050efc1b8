"""Models discovered, as users reach them: `GET /api/discover` and `POST /api/discover/add`
(admins only) on a live server, the Models page's events, and `arbiter models discover` /
`add-discovered` in a subprocess — against the project's fake AWS server in front of moto's."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.access.people import set_password
from service.app.bootstrap import build_runtime
from service.config import DEFAULTS, Settings
from service.labels.reviews import set_rater
from service.models import discovery
from service.store import Store
from tests.fakes.aws_server import FakeAws
from tests.fakes.script import Script
from tests.support.auth import ADMIN, new_key
from tests.support.cli import run
from tests.support.discovery import CLAUDE, REGION, bedrock_catalog, sagemaker_endpoints
from tests.support.fixtures import LiveServer
from tests.support.gradio import page_client
from tests.support.page_api import PageSession

AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def aws(fake_aws: FakeAws, moto_server: str) -> Iterator[FakeAws]:
    fake_aws.discovery.sagemaker_upstream = moto_server
    discovery.clear_clients()  # each test's own credentials and environment
    bedrock_catalog(fake_aws)
    fake_aws.models[CLAUDE] = Script(tokens=["Bon", "jour"])
    yield fake_aws


def server(
    store: Store, variants_file: Path, tmp_path: Path, aws: FakeAws, **settings: object
) -> LiveServer:
    """A live server on real providers (no scripted models): a discovered variant calls AWS,
    here the fake."""
    runtime = build_runtime(
        Settings(
            home=tmp_path,
            variants_file=variants_file,
            online_metrics="",
            example_use_case=False,
            discover_region=REGION,
            discover_endpoint_url=aws.url,
            **settings,  # type: ignore[arg-type]
        ),
        store=store,
    )
    return LiveServer(runtime, with_ui=True)


def test_api_lists_and_adds_for_admins_only(
    store: Store, variants_file: Path, tmp_path: Path, aws: FakeAws
) -> None:
    with server(store, variants_file, tmp_path, aws, auth="keys", admin_key=ADMIN) as live:
        rater = {"Authorization": f"Bearer {new_key(live.url, 'ada', ['compare', 'vote'])}"}
        refused = httpx.get(f"{live.url}/api/discover", headers=rater)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        refused = httpx.post(f"{live.url}/api/discover/add", json={"id": CLAUDE}, headers=rater)
        assert refused.status_code == 403

        listed = httpx.get(f"{live.url}/api/discover?sagemaker=false", headers=AS_ADMIN, timeout=30)
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert body["region"] == REGION and body["problems"] == []
        assert f"bedrock/{CLAUDE}" in {m["id"] for m in body["models"]}

        added = httpx.post(
            f"{live.url}/api/discover/add",
            json={"id": f"bedrock/{CLAUDE}", "name": "haiku"},
            headers=AS_ADMIN,
            timeout=30,
        )
        assert added.status_code == 201, added.text
        assert added.json()["model"] == CLAUDE and added.json()["source"] == "api"
        names = [v["name"] for v in httpx.get(f"{live.url}/api/variants", headers=rater).json()]
        assert "haiku" in names
        # It answers at once, through the gateway, from the fake Bedrock runtime.
        answer = httpx.post(
            f"{live.url}/v1/chat/completions",
            json={"model": "haiku", "messages": [{"role": "user", "content": "Hi"}]},
            headers=rater,
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"] == "Bonjour"
        again = httpx.post(
            f"{live.url}/api/discover/add",
            json={"id": CLAUDE, "name": "haiku"},
            headers=AS_ADMIN,
            timeout=30,
        )
        assert again.status_code == 409
        audit = httpx.get(f"{live.url}/api/audit", headers=AS_ADMIN).json()
        events = audit if isinstance(audit, list) else audit.get("events", audit)
        assert "discovered" in json.dumps(events) and "haiku" in json.dumps(events)

    # Stored: a restarted service still has it.
    with server(store, variants_file, tmp_path, aws, auth="keys", admin_key=ADMIN) as live:
        names = [v["name"] for v in httpx.get(f"{live.url}/api/variants", headers=AS_ADMIN).json()]
        assert "haiku" in names


def test_api_says_which_service_failed_and_what_an_unknown_image_needs(
    store: Store, variants_file: Path, tmp_path: Path, aws: FakeAws, moto_server: str
) -> None:
    tag = sagemaker_endpoints(moto_server, aws)
    aws.discovery.denied.add("ListInferenceProfiles")
    with server(store, variants_file, tmp_path, aws, auth="keys", admin_key=ADMIN) as live:
        body = httpx.get(f"{live.url}/api/discover", headers=AS_ADMIN, timeout=30).json()
        assert [(p["service"], p["code"]) for p in body["problems"]] == [
            ("bedrock", "access_denied")
        ]
        assert "bedrock:ListInferenceProfiles" in body["problems"][0]["hint"]
        assert f"sagemaker/own-{tag}" in {m["id"] for m in body["models"]}
        unknown = httpx.post(
            f"{live.url}/api/discover/add",
            json={"id": f"sagemaker/own-{tag}"},
            headers=AS_ADMIN,
            timeout=30,
        )
        assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "adapter_unknown"
        chosen = httpx.post(
            f"{live.url}/api/discover/add",
            json={"id": f"sagemaker/own-{tag}", "adapter": "messages", "name": "own"},
            headers=AS_ADMIN,
            timeout=30,
        )
        assert chosen.status_code == 201, chosen.text
        assert chosen.json()["provider"] == "sagemaker"


def test_models_page_discovers_and_adds_to_the_pickers(
    store: Store, variants_file: Path, tmp_path: Path, aws: FakeAws
) -> None:
    with server(store, variants_file, tmp_path, aws) as live:
        client = page_client(live.url)
        summary, table, picker = client.predict(["bedrock"], "", api_name="/discover")
        assert "**5** models found in eu-west-3" in summary
        assert picker["value"] == f"bedrock/{CLAUDE}"  # the first one found, ready to add
        assert len(picker["choices"]) == 5
        assert table["headers"][:2] == ["id", "provider"]
        assert f"bedrock/{CLAUDE}" in [row[0] for row in table["data"]]
        message = client.predict(f"bedrock/{CLAUDE}", "", "auto", "", api_name="/discover_add")
        assert message.startswith("Added variant **anthropic.claude-3-haiku-20240307-v1-0**")
        assert "anthropic.claude-3-haiku-20240307-v1-0" in live.runtime.catalog.names()
        message = client.predict(f"bedrock/{CLAUDE}", "", "auto", "", api_name="/discover_add")
        assert message.startswith("**Not added.**") and "already exists" in message


def test_models_page_refuses_raters(
    store: Store, variants_file: Path, tmp_path: Path, aws: FakeAws
) -> None:
    set_rater(store, "ada", "rater")
    set_password(store, "ada", "ada-password")
    with (
        server(store, variants_file, tmp_path, aws, auth="keys", admin_key=ADMIN) as live,
        PageSession(live.url, sign_in=("ada", "ada-password")) as ada,
    ):
        listed = ada.call(ada.dependency(api_name="discover"), [["bedrock"], ""])
        assert any("discover models" in w for w in listed.warnings), listed.text()
        assert CLAUDE not in listed.text()
        added = ada.call(ada.dependency(api_name="discover_add"), [CLAUDE, "x", "auto", ""])
        # Refused: by the admin check, or before it by Gradio (no id was ever offered to ada).
        assert added.error is not None or "add variants" in added.text(), added.text()
        assert "x" not in live.runtime.catalog.names()
    assert not any("/foundation-models" in r["path"] for r in aws.requests)  # AWS not asked


def _cells(table: str, column: int) -> list[str]:
    """The text of one column of a rich table drawn with lines between rows: each row's
    pieces (a long id folds over several lines) put back together."""
    rows, current = [], ""
    for line in table.splitlines():
        if line.startswith(("├", "└")):
            rows.append(current)
            current = ""
        elif line.startswith("│"):
            current += line.split("│")[column + 1].strip()
    return rows


def test_cli_discover_and_add(tmp_path: Path, aws: FakeAws, moto_server: str) -> None:
    tag = sagemaker_endpoints(moto_server, aws)
    env = {"ARBITER_DISCOVER_REGION": REGION, "ARBITER_DISCOVER_ENDPOINT_URL": aws.url}
    listed = run(
        ["models", "discover", "--bedrock", "--sagemaker"], tmp_path, {**env, "COLUMNS": "80"}
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    lines = listed.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in listed.stdout  # wrapped, not cut
    ids = _cells(listed.stdout, 0)
    assert f"bedrock/{CLAUDE}" in ids and f"sagemaker/shared-{tag}/code-{tag}" in ids
    notes = [re.sub(r"\s", "", cell) for cell in _cells(listed.stdout, 4)]
    assert any("adapterunknown:chooseonewith--adapter" in cell for cell in notes), listed.stdout

    as_json = json.loads(run(["models", "discover", "--json", "--bedrock"], tmp_path, env).stdout)
    assert {m["kind"] for m in as_json["models"]} == {"bedrock-model", "bedrock-profile"}

    # No ./arbiter.toml yet: it is created, holding the bundled variants and the new one.
    added = run(["models", "add-discovered", CLAUDE, "--name", "haiku"], tmp_path, env)
    assert added.returncode == 0, added.stdout + added.stderr
    assert "Added variant haiku" in added.stdout
    written = tomllib.loads((tmp_path / "arbiter.toml").read_text())
    bundled = tomllib.loads((DEFAULTS / "variants.toml").read_text())
    assert [v["name"] for v in written["variants"]] == [
        *[v["name"] for v in bundled["variants"]],
        "haiku",
    ]
    assert written["variants"][-1]["model"] == {
        "provider": "bedrock",
        "model_id": CLAUDE,
        "region": REGION,
        "endpoint_url": aws.url,
    }
    before = (tmp_path / "arbiter.toml").read_text()
    again = run(["models", "add-discovered", CLAUDE, "--name", "haiku"], tmp_path, env)
    assert again.returncode == 1 and "already exists" in again.stderr
    unknown = run(["models", "add-discovered", f"sagemaker/own-{tag}"], tmp_path, env)
    assert unknown.returncode == 1 and "--adapter" in unknown.stderr
    assert (tmp_path / "arbiter.toml").read_text() == before  # refusals change nothing
    component = run(
        ["models", "add-discovered", f"sagemaker/shared-{tag}/chat-{tag}"], tmp_path, env
    )
    assert component.returncode == 0, component.stderr
    # `arbiter models` reads the file: the Bedrock variant's model is reachable on the fake.
    probed = run(["models"], tmp_path, env)
    assert "haiku" in probed.stdout and f"shared-{tag}-chat-{tag}" in probed.stdout


def test_cli_reports_a_refused_service_and_a_region_with_nothing(
    tmp_path: Path, aws: FakeAws
) -> None:
    aws.discovery.denied.add("ListEndpoints")
    env = {"ARBITER_DISCOVER_REGION": REGION, "ARBITER_DISCOVER_ENDPOINT_URL": aws.url}
    partial = run(["models", "discover"], tmp_path, env)
    assert partial.returncode == 2
    assert f"bedrock/{CLAUDE}" in partial.stdout.replace("\n", "")
    assert "sagemaker not listed" in partial.stderr and "sagemaker:ListEndpoints" in partial.stderr
    aws.discovery.denied.clear()
    empty = run(["models", "discover"], tmp_path, {**env, "ARBITER_DISCOVER_REGION": "sa-east-1"})
    assert empty.returncode == 0 and "No models found in sa-east-1." in empty.stdout
