"""The reference deployment, checked without a Docker engine: the compose file against the
compose specification, the Prometheus, collector and Grafana configs parsed and cross-
checked with the metrics the service really exposes, and `arbiter worker` doing the jobs
of a web process that runs none."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fakes.openai_server import FakeOpenAI
from tests.support.processes import arbiter_process


def test_a_separate_worker_runs_the_jobs(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    (tmp_path / "arbiter.toml").write_text(
        "".join(
            f'[[variants]]\nname = "{n}"\n[variants.model]\nprovider = "openai"\n'
            f'base_url = "{fake_openai.base_url}"\nmodel = "echo"\n'
            for n in ("a", "b")
        )
    )
    env = {"ARBITER_WORKER": "false", "ARBITER_RAG_SAMPLE_CORPUS": "false"}
    with arbiter_process(tmp_path, env=env) as url:
        r = httpx.post(
            f"{url}/api/compare", json={"prompt": "hello there", "variants": ["a", "b"]}, timeout=30
        )
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 10
        while httpx.get(f"{url}/api/jobs").json() != {"queued": 1} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert httpx.get(f"{url}/api/jobs").json() == {"queued": 1}  # nobody runs it here
        worker = subprocess.Popen(
            [sys.executable, "-m", "service", "worker"],
            cwd=tmp_path,
            env={**os.environ, "ARBITER_HOME": str(tmp_path), **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while httpx.get(f"{url}/api/jobs").json() != {"done": 1}:
                assert time.monotonic() < deadline, "the worker did not run the job"
                assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
                time.sleep(0.2)
            scores = httpx.get(f"{url}/api/turns/{r.json()['id']}").json()["answers"][0]["scores"]
            assert {s["metric"] for s in scores} == {
                "answer_relevancy_embedding"
            }  # no context: no faithfulness_overlap
        finally:
            worker.terminate()  # SIGTERM, as docker stop sends
            assert worker.wait(timeout=30) == 0
