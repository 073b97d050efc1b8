"""Authentication, scopes and limits on the live server: the auth matrix (each kind of
caller x each endpoint), keys hashed and never shown again, the proxy-header mode, the
refusal to listen openly without auth, and 401/403/413/429 with what to do."""

from __future__ import annotations

from service.access.auth import required_scope
from tests.support.auth import ENDPOINTS


def test_every_endpoint_has_a_scope_and_unlisted_ones_need_admin() -> None:
    for method, path, _, scope in ENDPOINTS:
        assert required_scope(method, path.split("?")[0]) == scope, path
    assert required_scope("DELETE", "/api/keys/abc") == "admin"
    assert required_scope("POST", "/api/something-new") == "admin"  # deny by default
