"""Signing in with a name and password (the page in ARBITER_AUTH=keys): the one policy for
every way in. An unknown name takes as long as a known one; failures are counted per name
and per client address, and past a limit that name or address is refused for a while (the
correct password too), each lockout in a row twice as long as the last. Failures and
lockouts go to the audit log, never the password.

The counts live in this process: each replica counts its own, and a restart forgets them."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from service.access import audit
from service.access.people import check_password
from service.errors import ErrorCode, TooManyRequests
from service.store import Store, raters

log = structlog.get_logger(__name__)

MAX_LOCKOUT_S = 86_400.0
# Beyond this many names and addresses remembered, those with nothing to remember are dropped.
_PRUNE_AT = 50_000


@dataclass
class _Record:
    """Failed sign-ins of one name or one address."""

    failures: deque[float] = field(default_factory=deque)
    checking: int = 0  # attempts whose password is being checked right now
    locked_until: float = 0.0
    lockouts: int = 0  # in a row: each doubles the next


@dataclass(frozen=True)
class _Subject:
    kind: str  # "name" or "address"
    value: str
    limit: int


class SignIn:
    """Checks names and passwords under the lockout policy (see the module's docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        max_failures: int = 5,
        max_failures_per_address: int = 20,
        window_s: float = 900.0,
        lockout_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.max_failures = max_failures
        self.max_failures_per_address = max_failures_per_address
        self.window_s = window_s
        self.lockout_s = lockout_s
        self._clock = clock
        self._records: dict[tuple[str, str], _Record] = {}
        self._lock = threading.Lock()

    def attempt(self, name: str, password: str, address: str | None) -> bool:
        """Whether `name` signed in with `password` from `address`. Raises `TooManyRequests`
        (code `sign_in_locked`, with when to retry) while that name or address is locked out,
        without looking at the password."""
        subjects = (
            _Subject("name", name, self.max_failures),
            _Subject("address", address or "unknown", self.max_failures_per_address),
        )
        self._reserve(subjects)
        ok = False
        try:
            ok = check_password(self.store, name, password)
        finally:
            locked = self._settle(subjects, ok)
        if not ok:
            self._record_failure(name, address, locked)
        return ok

    def _reserve(self, subjects: tuple[_Subject, ...]) -> None:
        """Refuse a locked-out name or address; otherwise count this attempt as being
        checked, so that attempts sent all at once cannot get more guesses than the limit."""
        now = self._clock()
        with self._lock:
            if len(self._records) > _PRUNE_AT:
                self._prune(now)
            records = [self._records.setdefault((s.kind, s.value), _Record()) for s in subjects]
            for subject, record in zip(subjects, records, strict=True):
                self._forget_old(record, now)
                if record.locked_until > now:
                    raise _locked(subject, record.locked_until - now)
                if len(record.failures) + record.checking >= subject.limit:
                    # Not locked yet: earlier attempts are still being checked.
                    raise _locked(subject, 1.0, busy=True)
            for record in records:
                record.checking += 1

    def _settle(self, subjects: tuple[_Subject, ...], ok: bool) -> list[tuple[_Subject, float]]:
        """Count the outcome; the subjects this failure locked out, with for how long."""
        now = self._clock()
        locked: list[tuple[_Subject, float]] = []
        with self._lock:
            for subject in subjects:
                record = self._records.setdefault((subject.kind, subject.value), _Record())
                record.checking = max(0, record.checking - 1)
                if ok:
                    if subject.kind == "name":  # an address's failures stand: one good
                        record.failures.clear()  # account must not reset them
                        record.lockouts = 0
                    continue
                record.failures.append(now)
                if len(record.failures) >= subject.limit:
                    seconds = min(self.lockout_s * 2**record.lockouts, MAX_LOCKOUT_S)
                    record.locked_until = now + seconds
                    record.lockouts += 1
                    record.failures.clear()
                    locked.append((subject, seconds))
        return locked

    def _record_failure(
        self, name: str, address: str | None, locked: list[tuple[_Subject, float]]
    ) -> None:
        # Someone's password typed into the name box must not land in the audit log: a name
        # is recorded only when it is a person's.
        target = name if raters.role_of(self.store, name) is not None else "(unknown name)"
        actor = f"client:{address or 'unknown'}"
        audit.record(self.store, None, "signin.failed", target, {"address": address}, actor=actor)
        for subject, seconds in locked:
            detail = {"address": address, "locked": subject.kind, "seconds": round(seconds)}
            audit.record(self.store, None, "signin.locked", target, detail, actor=actor)
            log.warning("signin.locked", by=subject.kind, seconds=round(seconds), address=address)

    def _forget_old(self, record: _Record, now: float) -> None:
        while record.failures and now - record.failures[0] > self.window_s:
            record.failures.popleft()
        if record.lockouts and now - record.locked_until > self.window_s:
            record.lockouts = 0  # quiet for a whole window: the next lockout is short again

    def _prune(self, now: float) -> None:
        for key, record in list(self._records.items()):
            self._forget_old(record, now)
            idle = not (record.failures or record.checking or record.lockouts)
            if idle and record.locked_until <= now:
                del self._records[key]


def _locked(subject: _Subject, seconds: float, *, busy: bool = False) -> TooManyRequests:
    retry = max(1, round(seconds + 0.5))
    until = (datetime.now(UTC) + timedelta(seconds=retry)).strftime("%H:%M:%S UTC")
    who = "under this name" if subject.kind == "name" else "from this address"
    if busy:
        message = f"sign-ins {who} are still being checked"
    else:
        message = f"too many failed sign-ins {who}: sign-in is refused until {until}"
    return TooManyRequests(
        message,
        retry_after_s=retry,
        code=ErrorCode.SIGN_IN_LOCKED,
        hint=f"Try again in {retry} s. If the password is lost, an admin can set a new one "
        "(`arbiter rater set NAME --password`).",
    )
