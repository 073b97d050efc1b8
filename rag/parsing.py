"""Reading untrusted files in a worker process that can be stopped.

A file is parsed by the loaders (`rag.loaders`, which keep to the size and element limits)
in a process of its own, forked from a server process started once with the parsers
imported. The caller waits at most `timeout_s`; then, or when `stop` is called (the server
is shutting down), the worker is killed. Whatever goes wrong in there — a parser bug, a
crash, memory — costs that worker, never the server, and the file is `NotIngestible` with
the reason."""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from rag.errors import NotIngestible
from rag.loaders import ParseLimits, Section, load

# Imported once by the fork server, so each worker starts with them loaded.
_PRELOAD = ["rag.parsing", "docx", "lxml.etree", "pypdf", "bs4", "charset_normalizer"]
_POLL_S = 0.1


def _context() -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def _work(
    out: Connection, name: str, data: bytes, text_column: str | None, limits: ParseLimits
) -> None:
    """In the worker: the sections, or the reason there are none."""
    try:
        out.send(("ok", load(name, data, text_column=text_column, limits=limits)))
    except NotIngestible as exc:
        out.send(("refused", exc.message, exc.hint, exc.status, exc.code))
    except Exception as exc:  # a parser's bug on a strange file: that file's reason
        message = f"{name} could not be read: {type(exc).__name__}: {exc}"[:500]
        out.send(("refused", message, "Check that the file opens; save it again.", 422, ""))
    finally:
        out.close()


class Parser:
    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self._context = _context()
        self._workers: set[BaseProcess] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def warm_up(self) -> None:
        """Start the fork server now, not with the first upload."""
        if self._context.get_start_method() == "forkserver":
            forkserver.ensure_running()

    def parse(self, name: str, data: bytes, *, text_column: str | None) -> list[Section]:
        """The file's sections, read in a worker within the limits, or `NotIngestible`."""
        receive, send = self._context.Pipe(duplex=False)
        worker = self._context.Process(
            target=_work,
            args=(send, name, data, text_column, self.limits),
            name=f"arbiter-parse {name}"[:64],
            daemon=True,
        )
        with self._lock:
            if self._stopped:
                raise self._stopping(name)
            worker.start()
            self._workers.add(worker)
        send.close()
        try:
            result = self._wait(worker, receive, name)
        finally:
            if worker.is_alive():
                worker.kill()
            worker.join()
            worker.close()
            receive.close()
            with self._lock:
                self._workers.discard(worker)
        if result[0] == "ok":
            sections: list[Section] = result[1]
            return sections
        _, message, hint, status, code = result
        raise NotIngestible(message, hint=hint, status=status, code=code or "not_ingestible")

    def _wait(self, worker: BaseProcess, receive: Connection, name: str) -> Any:
        deadline = time.monotonic() + self.limits.timeout_s
        while True:
            if self._stopped:
                raise self._stopping(name)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotIngestible(
                    f"{name} took longer than {self.limits.timeout_s:g} s to read",
                    hint="Split it into smaller files, or raise ARBITER_RAG_PARSE_TIMEOUT_S.",
                    status=413,
                    code="parse_timeout",
                )
            if receive.poll(min(_POLL_S, remaining)):
                try:
                    return receive.recv()
                except (EOFError, OSError):
                    if self._stopped:
                        raise self._stopping(name) from None
                    raise NotIngestible(
                        f"{name} could not be read: the reader stopped "
                        f"(exit code {worker.exitcode})",
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
        """Kill the workers under way and refuse new ones (the server is shutting down).
        Safe in a signal handler: it takes no lock."""
        self._stopped = True
        for worker in list(self._workers):
            with contextlib.suppress(ValueError, AttributeError):  # already closed
                worker.kill()
