"""`arbiter key`: API keys for ARBITER_AUTH=keys, each creation and revocation audited."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from service.access import KeyLimits, Keys, audit
from service.cli.common import Table, console, friendly_errors, open_store
from service.config import Settings

key_app = typer.Typer(help="API keys (ARBITER_AUTH=keys).", no_args_is_help=True)


@key_app.command("create")
@friendly_errors
def key_create(
    name: Annotated[str, typer.Argument(help="Whose key, or what it is for.")],
    scope: Annotated[
        list[str], typer.Option("--scope", "-s", help="compare, vote, review, export, admin.")
    ],
    rate_per_min: Annotated[int | None, typer.Option(min=1)] = None,
    max_concurrency: Annotated[int | None, typer.Option(min=1)] = None,
    daily_tokens: Annotated[int | None, typer.Option(min=1)] = None,
) -> None:
    """Create an API key and print its secret (shown once; only its hash is stored)."""
    with open_store(Settings()) as store:
        info, secret = Keys(store).create(
            name, scope, KeyLimits(rate_per_min, max_concurrency, daily_tokens)
        )
        audit.record(
            store,
            None,
            "key.create",
            info.id,
            {"name": name, "scopes": info.scopes},
            actor=_cli_actor(),
        )
    console.print(f"key {info.id} ({', '.join(info.scopes)}); the secret, shown once:")
    print(secret)


@key_app.command("list")
@friendly_errors
def key_list() -> None:
    """Keys with their scopes and limits (never their secrets)."""
    with open_store(Settings()) as store:
        keys = Keys(store).list()
    table = Table("id", "name", "handle", "scopes", "limits", "revoked")
    for k in keys:
        limits = ", ".join(
            f"{label} {v}"
            for label, v in (
                ("per min", k.rate_per_min),
                ("in flight", k.max_concurrency),
                ("tokens/day", k.daily_tokens),
            )
            if v
        )
        revoked = k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else ""
        table.add_row(k.id, k.name, k.prefix, ", ".join(k.scopes), limits, revoked)
    console.print(table)


@key_app.command("revoke")
@friendly_errors
def key_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (`arbiter key list`).")],
) -> None:
    """Revoke a key: refused within seconds by every server on this store."""
    with open_store(Settings()) as store:
        info = Keys(store).revoke(key_id)
        audit.record(store, None, "key.revoke", key_id, {"name": info.name}, actor=_cli_actor())
    console.print(f"revoked {key_id} ({info.name})")


def _cli_actor() -> str:
    return f"cli:{getpass.getuser()}"
