"""Who is using the page, and whether they may do something. With ARBITER_AUTH=none the
page is the local admin's; otherwise the signed-in person (keys mode: the page's sign-in;
header mode: the proxy's user and groups, read by the API's own `Authenticator`) with the
scopes of their role.

The page passes the API's checks, decided in one place each:
- who: `principal` (the names a rater's labels carry come from it: `rater_name`);
- limits: every event that calls models is registered through `metered`, which admits it
  with `runtime.limiter` as the API's middleware admits a request (rate, requests in flight,
  the day's tokens) and counts the tokens it used (`spend`); a refusal is a warning that says
  which limit and when to try again. tests/security/test_page_access.py fails for a page
  event that reaches a model without it;
- whose turns: `readable_by` (History lists and opens one's own turns only);
- links the page hands the browser for requests of its own (cited chunks, report frames):
  `links_for`, signed for that person."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, cast

import gradio as gr

from service.access import LOCAL_ADMIN, Principal, check_scope, person
from service.app import Runtime
from service.errors import ArbiterError, TooManyRequests, Unauthenticated
from service.schemas import AnswerOut

Handler = TypeVar("Handler", bound=Callable[..., Any])
METERED_ATTRIBUTE = "__arbiter_metered__"


class _HttpRequest(Protocol):
    @property
    def headers(self) -> Any: ...

    @property
    def client(self) -> Any: ...


def authenticated(runtime: Runtime, request: _HttpRequest) -> Principal:
    """The API's authentication of an HTTP request (header mode: the proxy's user and
    groups, from a trusted proxy only); `ArbiterError` when it has none."""
    client = request.client.host if request.client else None
    headers = {k.lower().encode(): v.encode() for k, v in request.headers.items()}
    return runtime.auth.authenticate(headers, client)


def principal(runtime: Runtime, request: gr.Request | None) -> Principal:
    mode = runtime.settings.auth
    if mode == "none":
        return LOCAL_ADMIN
    if request is None:
        raise Unauthenticated("sign in first")
    if mode == "header":  # the same answer the API gives, roles from the groups header
        return authenticated(runtime, request)
    name = getattr(request, "username", None)
    if not name:
        raise Unauthenticated("sign in first")
    return person(runtime.store, name)


def require(runtime: Runtime, request: gr.Request | None, scope: str, what: str) -> Principal:
    """The person, if they have the scope; else `Forbidden` (shown as a warning)."""
    who = principal(runtime, request)
    check_scope(who, scope, what)
    return who


def rater_name(
    runtime: Runtime, request: gr.Request | None, typed: str | None, default: str = "anonymous"
) -> str:
    """Whose turn, vote, rating or comment this is. Signed in (keys or header mode): the
    signed-in person, whatever the name box says (a caller of the Gradio API can send any
    value for it). Otherwise the name typed in the box."""
    if runtime.settings.auth != "none":
        return principal(runtime, request).name
    return (typed or "").strip() or default


def sees_every_turn(who: Principal) -> bool:
    """Reviewers and admins read everyone's turns (they judge the labels); raters their own."""
    return who.allows("review")


def readable_by(runtime: Runtime, request: gr.Request | None) -> Callable[[str | None], bool]:
    """Whether the caller may read what is `owner`'s (a turn, through its conversation; a
    comment or an ideal answer): their own, or anyone's for reviewers and admins. Without
    sign-in (ARBITER_AUTH=none) the page is one local user's: everything."""
    if runtime.settings.auth == "none":
        return lambda owner: True
    try:
        who = principal(runtime, request)
    except ArbiterError:
        return lambda owner: False
    return lambda owner: owner == who.name or sees_every_turn(who)


# ---- limits -------------------------------------------------------------------------------


def refusal(exc: TooManyRequests) -> str:
    """What the page says instead of running: the limit, and when to try again."""
    text = f"Limit reached: {exc.message}. Try again in {_duration(exc.retry_after_s)}."
    return f"{text} {exc.hint}" if exc.hint and not exc.hint.startswith("Retry in") else text


def _duration(seconds: float) -> str:
    s = max(1, round(seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s / 3600:.1f} h"


def metered(runtime: Runtime, what: str, scope: str = "compare") -> Callable[[Handler], Handler]:
    """Register a page event that calls models through this (an async function or an async
    generator that takes a `gr.Request`): the signed-in person needs `scope`, and is admitted
    by `runtime.limiter` for as long as the event runs, exactly as an API request is. Over a
    limit, the event does not run: a warning says which limit and when to try again."""

    def decorate(fn: Handler) -> Handler:
        if not any(
            p.annotation in (gr.Request, "gr.Request")
            for p in inspect.signature(fn).parameters.values()
        ):
            raise TypeError(f"{fn.__qualname__} must take a gr.Request to be metered")

        def admit(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[], None] | None:
            request = next(
                (a for a in (*args, *kwargs.values()) if isinstance(a, gr.Request)), None
            )
            try:
                who = principal(runtime, request)
                check_scope(who, scope, what)
                return runtime.limiter.admit(who)
            except TooManyRequests as exc:
                gr.Warning(refusal(exc))
            except ArbiterError as exc:
                gr.Warning(f"{exc.message} {exc.hint}".strip())
            return None

        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def stream(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                release = admit(args, kwargs)
                if release is None:
                    return
                try:
                    async for item in fn(*args, **kwargs):
                        yield item
                finally:
                    release()

            wrapped: Callable[..., Any] = stream
        elif inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def call(*args: Any, **kwargs: Any) -> Any:
                release = admit(args, kwargs)
                if release is None:
                    return gr.skip()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    release()

            wrapped = call
        else:
            raise TypeError(f"{fn.__qualname__}: only async events can be metered")
        setattr(wrapped, METERED_ATTRIBUTE, what)
        return cast(Handler, wrapped)

    return decorate


def is_metered(fn: Callable[..., Any]) -> bool:
    return hasattr(fn, METERED_ATTRIBUTE)


class _Turns(Protocol):
    turn_id: str | None
    answers: list[AnswerOut]


def spend(runtime: Runtime, request: gr.Request | None, answers: list[AnswerOut]) -> None:
    """Count the tokens of the answers an event got toward the caller's daily budget."""
    tokens = sum((a.tokens_in or 0) + (a.tokens_out or 0) for a in answers)
    if tokens > 0:
        runtime.limiter.spend(principal(runtime, request), tokens)


@contextmanager
def spending(runtime: Runtime, request: gr.Request | None, session: _Turns) -> Iterator[None]:
    """Around a turn on a board: when it ends (or the page goes away), the tokens of the
    answers it got count toward the caller's budget, as the API counts a comparison's."""
    before = session.turn_id
    try:
        yield
    finally:
        if session.turn_id != before:
            spend(runtime, request, session.answers)


Link = Callable[[str], str]  # a page's path (and query) -> a URL this browser may open


def links_for(runtime: Runtime, request: gr.Request | None) -> Link:
    """How the page writes a chunk or report URL for the signed-in person's browser, which
    holds no API key: signed for them, short-lived (service/access/links.py)."""
    name = principal(runtime, request).name
    return lambda url: runtime.links.sign(url, name)
