"""Authentication, scopes and limits on the live server: the auth matrix (each kind of
caller x each endpoint), keys hashed and never shown again, the proxy-header mode, the
refusal to listen openly without auth, and 401/403/413/429 with what to do."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from service.access.limits import Limiter
from service.access.principals import KeyLimits, Principal
from service.errors import ArbiterError, TooManyRequests
from service.store import Store


def test_replicas_on_one_store_share_a_budget_and_lose_no_count(store: Store) -> None:

    who = Principal("ada", frozenset({"compare"}), key_id="k1", limits=KeyLimits(daily_tokens=100))
    one, two = Limiter(store=store), Limiter(store=store)
    one.spend(who, 60)
    one.sync()
    two.sync()
    assert two.spent_today(who) == 60
    two.admit(who)()  # 60 of 100: still allowed
    two.spend(who, 50)
    two.sync()
    one.sync()
    assert one.spent_today(who) == two.spent_today(who) == 110
    for limiter in (one, two):
        with pytest.raises(TooManyRequests, match="used its 100 tokens"):
            limiter.admit(who)

    # The store cannot take the write: the count stays for the next sync.
    with store.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE token_spend RENAME TO token_spend_away"))
    one.spend(who, 7)
    with pytest.raises(ArbiterError):
        one.sync()
    assert one.spent_today(who) == 117
    with store.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE token_spend_away RENAME TO token_spend"))
    one.sync()
    two.sync()
    assert two.spent_today(who) == 117
