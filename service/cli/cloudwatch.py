"""`arbiter cloudwatch`: the Amazon CloudWatch dashboard and alarms for the configured
variants."""

from __future__ import annotations

from typing import Annotated

import typer

from evals.report import parse_thresholds
from monitoring.cloudwatch import alarm_definitions, dashboard_body, dashboard_json
from service.app import cloudwatch_client
from service.cli.common import console, friendly_errors
from service.config import Settings
from service.errors import ArbiterError, ErrorCode
from service.models import Catalog, KeyEnvs, classify_error, load_variants

cloudwatch_app = typer.Typer(help="Amazon CloudWatch dashboard and alarms.", no_args_is_help=True)


@cloudwatch_app.command("dashboard")
@friendly_errors
def cloudwatch_dashboard(
    name: Annotated[str, typer.Option(help="The dashboard's name.")] = "Arbiter",
    region: Annotated[str | None, typer.Option(help="Default: the AWS chain's region.")] = None,
    max_error_rate: Annotated[
        float | None, typer.Option(help="Alarm when more calls than this share fail.")
    ] = 0.05,
    max_p90_latency: Annotated[
        float | None, typer.Option(help="Alarm when p90 latency (s) goes above this.")
    ] = None,
    min_score: Annotated[
        list[str] | None,
        typer.Option(help="METRIC=FLOOR: alarm when a score's average drops below FLOOR."),
    ] = None,
) -> None:
    """Create or update the CloudWatch dashboard and alarms for the configured variants,
    from one definition (latency p50/p90/p99, TTFT, tokens, cost, error rate, scores, win
    rates)."""
    settings = Settings()
    try:
        floors = parse_thresholds(min_score or [])
    except ValueError as exc:
        raise ArbiterError(
            str(exc), code=ErrorCode.BAD_THRESHOLD, hint="Write --min-score rouge_l=0.3."
        ) from None
    key_envs = KeyEnvs.of(settings)
    catalog = Catalog(
        load_variants(settings.resolved_variants_file, key_envs=key_envs), key_envs=key_envs
    )
    variants = [(v.name, v.provider) for v in catalog.all()]
    client = cloudwatch_client()
    region = region or client.meta.region_name
    metrics = sorted({*settings.online_metric_names, *floors})
    body = dashboard_body(settings.cloudwatch_namespace, region, variants, metrics)
    try:
        result = client.put_dashboard(DashboardName=name, DashboardBody=dashboard_json(body))
        alarms = alarm_definitions(
            settings.cloudwatch_namespace,
            variants,
            max_error_rate=max_error_rate,
            max_p90_latency_s=max_p90_latency,
            min_scores=floors,
        )
        for alarm in alarms:
            client.put_metric_alarm(**alarm)
    except Exception as exc:
        raise classify_error(exc) from None
    for message in result.get("DashboardValidationMessages", []):
        console.print(f"[yellow]{message.get('Message')}[/]")
    console.print(
        f"dashboard [bold]{name}[/] ({len(body['widgets'])} widgets) and {len(alarms)} alarms "
        f"in namespace {settings.cloudwatch_namespace}, region {region}",
        highlight=False,
    )
