"""`arbiter db`: database maintenance."""

from __future__ import annotations

import typer

from service.cli.common import console, friendly_errors, open_store, progress_bar
from service.config import Settings
from service.store import Store, leaderboard, rollup_rebuild

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("upgrade")
@friendly_errors
def db_upgrade() -> None:
    """Apply database migrations up to the latest revision."""
    settings = Settings()
    if settings.resolved_database_url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.resolved_database_url)
    try:
        store.upgrade()
    finally:
        store.dispose()
    console.print(
        f"[green]database is up to date[/] ({store.engine.url.render_as_string(hide_password=True)})"
    )


@db_app.command("rebuild-rollups")
@friendly_errors
def db_rebuild_rollups() -> None:
    """Recompute the dashboard's per-minute rollups from the stored answers, scores and
    votes (they are kept up to date as rows arrive; this is for rows written around the
    service, e.g. by raw SQL)."""
    settings = Settings()
    store = Store(settings.resolved_database_url)
    try:
        store.upgrade()
        with console.status("rebuilding the dashboard rollups…"):
            rollup_rebuild.rebuild_store(store)
    finally:
        store.dispose()
    console.print("[green]dashboard rollups rebuilt[/]")


@db_app.command("rebuild-counts")
@friendly_errors
def db_rebuild_counts() -> None:
    """Recount the leaderboard's cells from the stored votes (after a bulk import, or to
    check them). Safe to repeat and to run while votes arrive: they wait until it is done."""
    with open_store(Settings()) as store, progress_bar("recounting votes") as bar:
        task = bar.add_task("", total=None)

        def step(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        votes, cells = leaderboard.rebuild_counts(store, step)
    console.print(f"[green]leaderboard counts rebuilt[/]: {votes:,} votes in {cells:,} cells")
