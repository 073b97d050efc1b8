"""Short-lived signed links.

The page knows who is signed in; the browser it serves holds no API key, only the page's
sign-in cookie, which the API does not take. So the URLs the page hands that browser for a
request of its own — a chunk cited in an answer (`/chunks/{id}`), a report in an iframe
(`/api/eval-runs/{id}/report.html`, `/api/usecases/{name}/report.html`, and their Markdown)
— carry an expiry, the signer's name and an HMAC-SHA256 over both and the URL (path and
query). Such a URL, unaltered and unexpired, is that person's request for that one page;
every other request needs a credential as usual (an API key, or the proxy's user). `sign`
is the one place links are made, `authenticate` the one place they are checked. With
ARBITER_AUTH=none (the local admin, loopback only) nothing is signed or needed.

The key is ARBITER_LINK_SECRET (random per process by default: replicas need a shared one)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from service.access.principals import Principal
from service.errors import ErrorCode, Unauthenticated

# The pages a signed link may open: read-only, each needing no more than `compare`.
LINKABLE = re.compile(r"^(/chunks/\d+|/api/(eval-runs|usecases)/[^/]+/report\.(html|md))$")
LINK_SCOPES = frozenset({"compare"})
EXPIRES, BY, SIG = "expires", "by", "sig"
_PARAMS = (EXPIRES, BY, SIG)
HINT = (
    "Open it again from the page (its links are signed for the person signed in there and "
    "expire), or send an API key with the `compare` scope."
)


def linkable(path: str) -> bool:
    return LINKABLE.match(path) is not None


class Links:
    def __init__(self, secret: str, ttl_s: int, *, enabled: bool = True) -> None:
        self._key = secret.encode()
        self.ttl_s = ttl_s
        self.enabled = enabled  # off with ARBITER_AUTH=none

    def _mac(self, path: str, query: list[tuple[str, str]], expires: int, name: str) -> str:
        message = json.dumps([path, sorted(query), expires, name], ensure_ascii=True)
        digest = hmac.new(self._key, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, url: str, name: str, *, now: float | None = None) -> str:
        """`url` (a path, with a query or not) as a link `name`'s browser may open until it
        expires; unchanged when links are off."""
        if not self.enabled:
            return url
        parts = urlsplit(url)
        path = unquote(parts.path)
        if not linkable(path):
            raise ValueError(f"{path} is not a page a signed link may open")
        query = [
            (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in _PARAMS
        ]
        expires = int((time.time() if now is None else now) + self.ttl_s)
        sig = self._mac(path, query, expires, name)
        return f"{parts.path}?{urlencode([*query, (EXPIRES, expires), (BY, name), (SIG, sig)])}"

    def verify(
        self, method: str, path: str, query_string: str, *, now: float | None = None
    ) -> Principal | None:
        """The signer, allowed this one page, if the URL is a link signed here; None if it
        carries no signature. A signature that does not match (another path, query, name or
        expiry; another key) or has expired: `Unauthenticated`."""
        if not self.enabled:
            return None
        pairs = parse_qsl(query_string, keep_blank_values=True)
        given = {k: v for k, v in pairs if k in _PARAMS}
        if SIG not in given:
            return None
        if method not in ("GET", "HEAD") or not linkable(path):
            raise Unauthenticated(
                "this address cannot be opened with a signed link",
                code=ErrorCode.LINK_INVALID,
                hint="Signed links open cited chunks and reports only; send an API key.",
            )
        name = given.get(BY, "")
        try:
            expires = int(given.get(EXPIRES, ""))
        except ValueError:
            expires = 0
        query = [(k, v) for k, v in pairs if k not in _PARAMS]
        expected = self._mac(path, query, expires, name)
        if not name or not hmac.compare_digest(expected.encode(), given[SIG].encode()):
            raise Unauthenticated(
                "the link's signature is not valid", code=ErrorCode.LINK_INVALID, hint=HINT
            )
        if expires <= (time.time() if now is None else now):
            raise Unauthenticated("the link has expired", code=ErrorCode.LINK_EXPIRED, hint=HINT)
        return Principal(name, LINK_SCOPES)

    def authenticate(
        self, method: str, path: str, query_string: str, credentials: Callable[[], Principal]
    ) -> Principal:
        """Who a request comes from: the signer of a link signed here, else whoever its
        `credentials` name (an API key, the proxy's user). On a page a link may open, a
        refusal says both ways in."""
        signer = self.verify(method, path, query_string)
        if signer is not None:
            return signer
        try:
            return credentials()
        except Unauthenticated as exc:
            if not linkable(path):
                raise
            raise Unauthenticated(
                f"{exc.message}: this page needs a signed link or an API key", hint=HINT
            ) from exc
