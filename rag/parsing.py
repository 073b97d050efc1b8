"""Reading untrusted files in worker processes that can be stopped.

A file is parsed by the loaders (`rag.loaders`, which keep to the size and element limits)
in a worker process; the caller waits at most `timeout_s`, then, or when `stop` is called
(the server is shutting down), the worker is killed. Whatever goes wrong in there — a
parser's bug, a crash, memory — costs that worker, never the server, and the file is
`NotIngestible` with the reason.

Workers come from a fork server started once with the parsers imported, and are reused: a
new process imports the program's main module again (the `arbiter` console script's
imports, seconds), which is paid once per worker, not per file."""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
import weakref
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from rag.errors import NotIngestible
from rag.loaders import ParseLimits, Section, load

# Imported once by the fork server, so each worker starts with them loaded.
_PRELOAD = ["rag.parsing", "docx", "lxml.etree", "pypdf", "bs4", "charset_normalizer"]
_POLL_S = 0.1
STARTUP_S = 120.0  # at most, for a new worker to be ready
IDLE_WORKERS = 2  # kept for the next files; more are stopped when done
USES = 100  # files a worker reads before it is replaced (what it holds is given back)
IDLE_S = 120.0  # an idle worker ends after this; the parser stops using it at half of it


def _context() -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def _serve(conn: Connection) -> None:
    """A worker: says it is ready, then reads one file per request until the pipe closes
    or it has been idle for `IDLE_S`."""
    conn.send(("ready",))
    while True:
        try:
            if not conn.poll(IDLE_S):
                return
            name, data, text_column, limits = conn.recv()
        except EOFError:
            return
        conn.send(_read(name, data, text_column, limits))


def _read(name: str, data: bytes, text_column: str | None, limits: ParseLimits) -> tuple[Any, ...]:
    try:
        return ("ok", load(name, data, text_column=text_column, limits=limits))
    except NotIngestible as exc:
        return ("refused", exc.message, exc.hint, exc.status, exc.code)
    except Exception as exc:  # a parser's bug on a strange file: that file's reason
        message = f"{name} could not be read: {type(exc).__name__}: {exc}"[:500]
        return ("refused", message, "Check that the file opens; save it again.", 422, "")


class _Worker:
    def __init__(self, context: Any) -> None:
        self.conn, theirs = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_serve, args=(theirs,), name="arbiter-parser", daemon=True
        )
        self.process.start()
        theirs.close()
        self.uses = 0
        self.ready = False
        self.idle_since = time.monotonic()

    @property
    def fresh(self) -> bool:
        """Idle for a short enough time that it will not end by itself while used."""
        return time.monotonic() - self.idle_since < IDLE_S / 2

    def kill(self) -> None:
        with contextlib.suppress(ValueError, AttributeError, OSError):  # already closed
            self.process.kill()

    def close(self) -> None:
        self.kill()
        with contextlib.suppress(ValueError, AttributeError, OSError):
            self.process.join(5)
            self.conn.close()


class Parser:
    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self._context = _context()
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()
        self._stopped = False
        # A library dropped without `stop` (tests, scripts) leaves no worker behind.
        weakref.finalize(self, _kill_all, self._busy, self._idle)

    def warm_up(self) -> None:
        """Start the fork server and a worker now, not with the first upload."""
        if self._context.get_start_method() == "forkserver":
            forkserver.ensure_running()
        worker = _Worker(self._context)
        self._release(worker, broken=False)

    def parse(self, name: str, data: bytes, *, text_column: str | None) -> list[Section]:
        """The file's sections, read in a worker within the limits, or `NotIngestible`."""
        worker = self._acquire(name)
        try:
            if not worker.ready:
                self._answer(worker, name, STARTUP_S, "could not start a reader")
                worker.ready = True
            worker.conn.send((name, data, text_column, self.limits))
            worker.uses += 1
            result = self._answer(worker, name, self.limits.timeout_s, "")
        except BaseException:
            self._release(worker, broken=True)
            raise
        self._release(worker, broken=False)
        if result[0] == "ok":
            sections: list[Section] = result[1]
            return sections
        _, message, hint, status, code = result
        raise NotIngestible(message, hint=hint, status=status, code=code or "not_ingestible")

    def _acquire(self, name: str) -> _Worker:
        with self._lock:
            if self._stopped:
                raise self._stopping(name)
            stale = [w for w in self._idle if not w.fresh]
            self._idle[:] = [w for w in self._idle if w.fresh]  # the same list: see finalize
            worker = self._idle.pop() if self._idle else None
        for ended in stale:
            ended.close()
        if worker is None:
            worker = _Worker(self._context)  # outside the lock: it waits for the fork server
        with self._lock:
            self._busy.add(worker)
        if self._stopped:  # stopped while it started
            self._release(worker, broken=True)
            raise self._stopping(name)
        return worker

    def _release(self, worker: _Worker, *, broken: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            keep = not (broken or self._stopped or worker.uses >= USES)
            if keep and len(self._idle) < IDLE_WORKERS:
                worker.idle_since = time.monotonic()
                self._idle.append(worker)
                return
        worker.close()

    def _answer(self, worker: _Worker, name: str, timeout_s: float, starting: str) -> Any:
        """The worker's next message, within `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self._stopped:
                raise self._stopping(name)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if starting:
                    raise NotIngestible(f"{name} was not read: {starting}", status=503)
                raise NotIngestible(
                    f"{name} took longer than {self.limits.timeout_s:g} s to read",
                    hint="Split it into smaller files, or raise ARBITER_RAG_PARSE_TIMEOUT_S.",
                    status=413,
                    code="parse_timeout",
                )
            try:
                if worker.conn.poll(min(_POLL_S, remaining)):
                    return worker.conn.recv()
            except (EOFError, OSError):
                if self._stopped:
                    raise self._stopping(name) from None
                raise NotIngestible(
                    f"{name} could not be read: the reader stopped "
                    f"(exit code {worker.process.exitcode})",
                    hint="It may need more memory than a reader may use; split it.",
                ) from None

    @staticmethod
    def _stopping(name: str) -> NotIngestible:
        return NotIngestible(
            f"{name} was not read: the server is stopping",
            hint="Upload it again once the server is back.",
            status=503,
        )

    def stop(self) -> None:
        """Kill the workers, busy or idle, and refuse new files (the server is shutting
        down). Safe in a signal handler: it takes no lock."""
        self._stopped = True
        _kill_all(self._busy, self._idle)


def _kill_all(busy: set[_Worker], idle: list[_Worker]) -> None:
    for worker in [*busy, *idle]:
        worker.kill()
