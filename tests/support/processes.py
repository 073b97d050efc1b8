"""Real processes for tests and benchmarks: `arbiter serve` (one, or several replicas),
`arbiter worker`, a fake provider in its own process (so it shares no interpreter lock with
what is measured), and Debian's `redis-server` and `haproxy` on free ports."""

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


def replica_env(database_url: str, variants_file: Path, admin_key: str) -> dict[str, str]:
    """What every `arbiter serve` replica of one test shares: the database, admin-key
    authentication, one link secret, the variants file, and no bundled extras."""
    return {
        "ARBITER_DATABASE_URL": database_url,
        "ARBITER_AUTH": "keys",
        "ARBITER_ADMIN_KEY": admin_key,
        "ARBITER_LINK_SECRET": "s" * 40,
        "ARBITER_VARIANTS_FILE": str(variants_file),
        "ARBITER_RAG_SAMPLE_CORPUS": "false",
        "ARBITER_EXAMPLE_USE_CASE": "false",
    }


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


def start_arbiter(
    home: Path,
    command: str = "serve",
    *,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> ServerProcess:
    """`python -m service serve|worker` in `home`, not waited for (see `wait_healthy`). Its
    output goes to a file, so a chatty process never blocks on a full pipe."""
    port = port or free_port()
    full_env = {
        **os.environ,
        "ARBITER_HOME": str(home),
        "ARBITER_PORT": str(port),
        "ARBITER_LOG_LEVEL": "warning",
        **(env or {}),
    }
    log = home / f"{command}-{port}-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", command],
            cwd=home,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return ServerProcess(f"http://127.0.0.1:{port}", proc, log)


def wait_healthy(server: ServerProcess, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(server.url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"arbiter serve did not start:\n{server.log.read_text()}")
        time.sleep(0.1)


def stop(server: ServerProcess, timeout_s: float = 30) -> None:
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@contextmanager
def arbiter_server(
    home: Path, *, env: dict[str, str] | None = None, timeout_s: float = 60, port: int | None = None
) -> Iterator[ServerProcess]:
    """`python -m service serve` in `home` on a free port (or `port`), once /healthz answers."""
    server = start_arbiter(home, env=env, port=port)
    try:
        wait_healthy(server, timeout_s)
        yield server
    finally:
        stop(server)


@contextmanager
def arbiter_process(
    home: Path, *, env: dict[str, str] | None = None, timeout_s: float = 60
) -> Iterator[str]:
    """`python -m service serve` in `home`; yields its URL once /healthz answers."""
    with arbiter_server(home, env=env, timeout_s=timeout_s) as server:
        yield server.url


@dataclass
class RedisServer:
    url: str
    port: int
    proc: subprocess.Popen[bytes]


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start on port {port}")
        time.sleep(0.05)


@contextmanager
def redis_server(port: int | None = None) -> Iterator[RedisServer]:
    """Debian's `redis-server` on 127.0.0.1 and a free port, keeping nothing on disk."""
    port = port or free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc, "redis-server")
        yield RedisServer(f"redis://127.0.0.1:{port}/0", port, proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def haproxy_config(port: int, backends: list[str]) -> str:
    """The test's HAProxy: the settings of deploy/haproxy.cfg (round robin, sticky cookie,
    health checks on /healthz, re-dispatch) with fixed local backends instead of Docker's DNS."""
    servers = "".join(
        f"    server r{i} {b.removeprefix('http://')} cookie r{i}\n" for i, b in enumerate(backends)
    )
    return (
        "global\n    maxconn 4096\n"
        "defaults\n    mode http\n    option redispatch\n    option forwardfor\n"
        "    retries 2\n    timeout connect 2s\n    timeout client 300s\n"
        "    timeout server 300s\n"
        f"frontend arbiter\n    bind 127.0.0.1:{port}\n    default_backend app\n"
        "backend app\n    balance roundrobin\n"
        "    cookie SERVERID insert indirect nocache httponly\n"
        "    option httpchk GET /healthz\n    http-check expect status 200\n"
        "    http-response set-header X-Served-By %s\n"  # which replica answered
        "    timeout check 5s\n"  # a busy replica is slow, not down
        "    default-server inter 1s fall 3 rise 2 check\n" + servers
    )


@contextmanager
def haproxy(backends: list[str], workdir: Path) -> Iterator[str]:
    """Debian's `haproxy` in front of `backends` (base URLs); yields the proxy's URL."""
    port = free_port()
    config = workdir / f"haproxy-{port}.cfg"
    config.write_text(haproxy_config(port, backends))
    proc = subprocess.Popen(
        ["haproxy", "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_port(port, proc, "haproxy")
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


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
