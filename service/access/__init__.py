"""Who may do what: authentication (keys, people, a trusted proxy, signed links), sign-in
with a password (and its lockouts), the scope each endpoint needs, per-key limits, and the
audit log."""

from service.access import audit
from service.access.auth import Authenticator, check_bind, check_scope, guarded, required_scope
from service.access.keys import Keys
from service.access.limits import Limiter
from service.access.links import Links
from service.access.people import person, set_password
from service.access.principals import LOCAL_ADMIN, SCOPES, KeyLimits, Principal, rater_for
from service.access.shared_limits import RedisCounts
from service.access.signin import SignIn

__all__ = [
    "LOCAL_ADMIN",
    "SCOPES",
    "Authenticator",
    "KeyLimits",
    "Keys",
    "Limiter",
    "Links",
    "Principal",
    "RedisCounts",
    "SignIn",
    "audit",
    "check_bind",
    "check_scope",
    "guarded",
    "person",
    "rater_for",
    "required_scope",
    "set_password",
]
