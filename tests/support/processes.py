"""Real processes for tests and benchmarks: `arbiter serve`, and a fake provider in its own
process (so it shares no interpreter lock with what is measured)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def openai_variants_toml(
    base_url: str, names: tuple[str, ...] = ("a", "b"), model: str = "m"
) -> str:
    return "".join(
        f'[[variants]]\nname = "{n}"\n[variants.model]\nprovider = "openai"\n'
        f'base_url = "{base_url}"\nmodel = "{model}"\n'
        for n in names
    )


@contextmanager
def fake_openai_process(tokens: int = 20, first_token_delay_s: float = 0.0) -> Iterator[str]:
    """A fake OpenAI-compatible server in its own process; yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes", "openai", str(tokens), str(first_token_delay_s)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class ServerProcess:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path  # its output


@contextmanager
def arbiter_server(
    home: Path, *, env: dict[str, str] | None = None, timeout_s: float = 60, port: int | None = None
) -> Iterator[ServerProcess]:
    """`python -m service serve` in `home` on a free port (or `port`), once /healthz answers.
    Its output goes to a file, so a chatty server never blocks on a full pipe."""
    port = port or free_port()
    full_env = {
        **os.environ,
        "ARBITER_HOME": str(home),
        "ARBITER_PORT": str(port),
        "ARBITER_LOG_LEVEL": "warning",
        **(env or {}),
    }
    log = home / f"serve-{port}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            cwd=home,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"arbiter serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield ServerProcess(url, proc, log)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


@contextmanager
def arbiter_process(
    home: Path, *, env: dict[str, str] | None = None, timeout_s: float = 60
) -> Iterator[str]:
    """`python -m service serve` in `home`; yields its URL once /healthz answers."""
    with arbiter_server(home, env=env, timeout_s=timeout_s) as server:
        yield server.url


@contextmanager
def fake_bedrock_batch_process(job_seconds: float) -> Iterator[tuple[str, str]]:
    """The fake Bedrock (batch inference jobs of `job_seconds`) and moto's S3 in their own
    process; yields (fake URL, moto URL)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.bedrock_batch_server", str(job_seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # moto's request log
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        while line and not line.startswith("http://"):  # moto's own start-up words
            line = proc.stdout.readline()
        fake_url, moto_url = line.split()
        yield fake_url, moto_url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
