"""The `arbiter` command line: the root app, assembled from one module per command group,
and `main()`, the console script."""

from __future__ import annotations

import os

import typer

from service.cli import (
    cloudwatch,
    db,
    documents,
    evals,
    keys,
    labels,
    models,
    serve,
    tuning,
    usecases,
)

__all__ = ["main"]

app = typer.Typer(
    help="Arbiter: compare generative models side by side.",
    no_args_is_help=True,
    add_completion=False,
)
# Registration order is the order of `arbiter --help`: commands first, then groups.
app.command()(serve.serve)
app.command()(serve.worker)
app.command()(serve.compare)
app.command()(documents.ingest)
app.command()(documents.collections)
app.command("leaderboard")(labels.leaderboard_cmd)
app.command("export")(labels.export_cmd)
app.add_typer(models.models_app, name="models")
app.add_typer(db.db_app, name="db")
app.add_typer(evals.eval_app, name="eval")
app.add_typer(labels.campaign_app, name="campaign")
app.add_typer(usecases.usecase_app, name="usecase")
app.add_typer(labels.rater_app, name="rater")
app.add_typer(tuning.tune_app, name="tune")
app.add_typer(keys.key_app, name="key")
app.add_typer(cloudwatch.cloudwatch_app, name="cloudwatch")


def main() -> None:  # pragma: no cover - console script entry
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    app()
