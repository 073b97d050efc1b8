"""`arbiter tune`: fine-tune a variant's model from the stored labels, follow the job, and
see a tuned variant's lineage."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Annotated, Any

import typer

from evals.selection import TunedComparison
from service.app import build_runtime, configure_logging
from service.cli.common import Table, console, friendly_errors, open_store
from service.config import Settings
from service.errors import ArbiterError, ErrorCode
from service.evaluation import usecases
from service.store import tunings
from service.tuning import (
    Clients,
    TuneRequest,
    answer_comparison,
    create,
    refresh,
    refresh_all,
    stop,
)

tune_app = typer.Typer(
    help="Fine-tuning from the labels: create, status, stop, show.", no_args_is_help=True
)


def _hyperparameters(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ArbiterError(
                f"cannot read hyperparameter {item!r}",
                code=ErrorCode.INVALID_OPTION,
                hint="Write NAME=VALUE, e.g. --hp epochCount=3.",
            )
        out[key.strip()] = value.strip()
    return out


def _elapsed(row: dict[str, Any]) -> str:
    seconds = int((row["updated_at"] - row["created_at"]).total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _status_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(
        "id",
        "job",
        "target",
        "base",
        "state",
        "service says",
        "loss",
        "elapsed",
        "tuned variant",
        title="Tuning jobs",
    )
    for r in rows:
        m = r["metrics"]
        loss = ", ".join(
            f"{k.replace('_loss', '')} {m[k]:.4g}"
            for k in ("training_loss", "validation_loss")
            if k in m
        )
        said = r["cloud_status"] or ""
        if r["failure"]:
            said += f": {r['failure']}"
        if r["serving"].get("kind") == "provisioned" and not r["serving"].get("price_accepted"):
            said += (
                f" — provisioned throughput costs ${r['serving']['usd_per_hour']:.2f}/hour: "
                f"`arbiter tune deploy {r['name']} --accept-price`"
            )
        table.add_row(
            r["id"],
            r["name"],
            r["target"],
            r["base_variant"],
            r["state"],
            said,
            loss or "—",
            _elapsed(r),
            r["variant_name"] or "—",
        )
    return table


def _lineage(row: dict[str, Any], compared: TunedComparison | None) -> Table:
    table = Table(
        "", "", title=f"Lineage of {row['variant_name'] or row['name']}", show_header=False
    )
    manifest = row["manifest"]
    for label, value in (
        ("tuned variant", row["variant_name"] or "— (not yet)"),
        ("base variant", row["base_variant"]),
        ("base model", row["base_model"]),
        ("method / target", f"{row['method']} on {row['target']}"),
        ("state", row["state"] + (f" ({row['failure']})" if row["failure"] else "")),
        ("job ARN", row["job_arn"] or "—"),
        ("custom model", row["custom_model_arn"] or "—"),
        ("served by", f"{row['serving'].get('kind', '—')}: {row['serving_arn'] or '—'}"),
        ("hyperparameters", json.dumps(row["hyperparameters"], sort_keys=True)),
        ("metrics", json.dumps(row["metrics"], sort_keys=True) if row["metrics"] else "—"),
        ("export options", json.dumps(row["export_options"], sort_keys=True)),
        ("dataset sha256", row["dataset_sha256"]),
        ("data", ", ".join(f"{k}: {v}" for k, v in row["data_uris"].items())),
        ("records", ", ".join(f"{k}: {v}" for k, v in manifest.get("records", {}).items())),
        (
            "built from",
            f"{len(manifest.get('votes', []))} votes, "
            f"{len(manifest.get('ideal_answers', []))} ideal answers (ids stored: "
            "`arbiter tune show --manifest`)",
        ),
        ("held-out prompts", str(len(row["held_out_prompts"]))),
        ("campaign", row["campaign_name"] or "—"),
        ("eval runs", ", ".join(row["eval_run_ids"]) or "—"),
    ):
        table.add_row(label, value)
    if compared is not None:  # the comparison's results so far, as the use-case report has them
        w = compared.win
        table.add_row("blind votes", f"{w.wins} wins, {w.losses} losses, {w.ties} ties ({w.fmt()})")
        for d in compared.metrics:
            table.add_row(d.metric, f"{compared.base} {d.a.fmt()} → {compared.tuned} {d.b.fmt()}")
        if compared.note:
            table.add_row("eval metrics", compared.note)
        table.add_row("recommendation", compared.recommendation)
    return table


@tune_app.command("create")
@friendly_errors
def tune_create(
    base: Annotated[str, typer.Option(help="The base variant: its model is tuned.")],
    role_arn: Annotated[str, typer.Option(help="IAM role the service assumes (reads/writes S3).")],
    s3_prefix: Annotated[str, typer.Option(help="s3://bucket/prefix for the data and the output.")],
    method: Annotated[
        str, typer.Option(help="sft (ideal answers) or dpo (preference pairs).")
    ] = "sft",
    target: Annotated[str, typer.Option(help="bedrock or sagemaker.")] = "bedrock",
    name: Annotated[
        str | None, typer.Option(help="The job's name (default: from the base).")
    ] = None,
    hp: Annotated[
        list[str] | None, typer.Option("--hp", help="A hyperparameter NAME=VALUE (repeat).")
    ] = None,
    use_case: Annotated[
        str | None, typer.Option(help="Only this use case's labels; its datasets are evaluated.")
    ] = None,
    since: Annotated[datetime | None, typer.Option(help="Labels from this date (UTC).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Labels before this date (UTC).")] = None,
    mode: Annotated[str | None, typer.Option(help="arena or named; default both.")] = None,
    rater: Annotated[str | None, typer.Option(help="One rater's labels only.")] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's labels.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only turns with this tag.")] = None,
    min_agreement: Annotated[float | None, typer.Option(min=0.0, max=1.0)] = None,
    test_fraction: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Prompts held out for the comparison.")
    ] = 0.2,
    exclude_own_answers: Annotated[
        bool,
        typer.Option(
            "--exclude-own-answers/--include-own-answers",
            help="Leave out labels on tuned variants' answers.",
        ),
    ] = True,
    raters_per_item: Annotated[int, typer.Option("--raters-per-item", "-k", min=1)] = 3,
    accept_price: Annotated[
        bool, typer.Option(help="Buy provisioned throughput when the model needs it (price shown).")
    ] = False,
    model_units: Annotated[
        int, typer.Option(min=1, help="Provisioned throughput model units.")
    ] = 1,
    training_image: Annotated[
        str | None, typer.Option(help="SageMaker: TRL training image URI.")
    ] = None,
    instance_type: Annotated[
        str, typer.Option(help="SageMaker: training instance.")
    ] = "ml.g5.2xlarge",
    serving_image: Annotated[str | None, typer.Option(help="SageMaker: serving image URI.")] = None,
    serving_instance_type: Annotated[
        str, typer.Option(help="SageMaker: endpoint instance.")
    ] = "ml.g5.xlarge",
) -> None:
    """Export the labels, check them against the base model's limits, upload them and start
    the training job."""
    request = TuneRequest.model_validate(
        {
            "base": base,
            "method": method,
            "target": target,
            "role_arn": role_arn,
            "s3_prefix": s3_prefix,
            "name": name,
            "hyperparameters": _hyperparameters(hp),
            "use_case": use_case,
            "since": since,
            "until": until,
            "mode": mode,
            "rater": rater,
            "campaign": campaign,
            "tag": tag,
            "min_agreement": min_agreement,
            "test_fraction": test_fraction,
            "exclude_own_answers": exclude_own_answers,
            "raters_per_item": raters_per_item,
            "accept_price": accept_price,
            "model_units": model_units,
            "training_image": training_image,
            "instance_type": instance_type,
            "serving_image": serving_image,
            "serving_instance_type": serving_instance_type,
        }
    )
    settings = Settings()
    configure_logging("warning", json=settings.log_json)
    runtime = build_runtime(settings)
    try:
        row = create(runtime.store, runtime.catalog, Clients(), request)
    finally:
        runtime.close()
    console.print(_status_table([row]))
    console.print(f"Follow it with `arbiter tune status {row['name']}`.", highlight=False)


def _advance(key: str | None, *, accept_price: bool = False) -> list[dict[str, Any]]:
    """Move one job (or every unfinished one) on, then answer the comparisons that were
    just created; returns the job (or all jobs)."""
    settings = Settings()
    configure_logging("warning", json=settings.log_json)
    runtime = build_runtime(settings)
    clients = Clients()
    try:
        store = runtime.store
        if key is None:
            moved = refresh_all(store, runtime.catalog, clients, runner=runtime.evals)
        elif tunings.get_tuning(store, key)["state"] in ("done", "failed", "stopped"):
            moved = []
        else:
            moved = [
                refresh(
                    store,
                    runtime.catalog,
                    clients,
                    key,
                    runner=runtime.evals,
                    accept_price=accept_price,
                )
            ]
        for row in moved:
            if row["state"] == "done":
                asyncio.run(answer_comparison(store, runtime.engine, runtime.evals, row["id"]))
        return tunings.list_tunings(store) if key is None else [tunings.get_tuning(store, key)]
    finally:
        runtime.close()


@tune_app.command("status")
@friendly_errors
def tune_status(
    key: Annotated[str | None, typer.Argument(help="A job's id or name; default: all.")] = None,
) -> None:
    """Ask the service where each unfinished job is and move it on (serving, the tuned
    variant, the comparison): safe to run again at any time, after a restart too."""
    rows = _advance(key)
    if not rows:
        console.print("No tuning jobs yet: `arbiter tune create --help`.")
        return
    console.print(_status_table(rows))


@tune_app.command("deploy")
@friendly_errors
def tune_deploy(
    key: Annotated[str, typer.Argument(help="A job's id or name.")],
    accept_price: Annotated[
        bool, typer.Option(help="Accept the price shown by `tune status`.")
    ] = False,
) -> None:
    """Buy the provisioned throughput a tuned model needs (once its price is accepted)."""
    if not accept_price:
        raise ArbiterError(
            "nothing bought",
            code=ErrorCode.PRICE_NOT_ACCEPTED,
            hint="Read the price in `arbiter tune status`, then add --accept-price.",
        )
    console.print(_status_table(_advance(key, accept_price=True)))


@tune_app.command("stop")
@friendly_errors
def tune_stop(key: Annotated[str, typer.Argument(help="A job's id or name.")]) -> None:
    """Stop a job in training."""
    with open_store(Settings()) as store:
        row = stop(store, Clients(), key)
    console.print(_status_table([row]))


@tune_app.command("show")
@friendly_errors
def tune_show(
    key: Annotated[str, typer.Argument(help="A tuned variant, or a job's id or name.")],
    manifest: Annotated[bool, typer.Option(help="Print the label ids as JSON.")] = False,
) -> None:
    """The lineage of a tuned variant: its data, its job, its comparison (one query)."""
    with open_store(Settings()) as store:
        row = tunings.get_tuning(store, key)
        if manifest:
            console.print_json(json.dumps(row["manifest"]))
            return
        compared = usecases.tuned_comparison(store, row) if row["variant_name"] else None
    console.print(_lineage(row, compared))
