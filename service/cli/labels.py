"""Human labels from the command line: `arbiter leaderboard` and `export`, labelling
campaigns (`arbiter campaign`) and the people who label (`arbiter rater`)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from evals.datasets import DatasetError, load_dataset
from service.access import set_password
from service.app import build_runtime, configure_logging
from service.cli.common import Table, console, friendly_errors, open_store, progress_bar
from service.config import Settings
from service.documents import s3_client
from service.errors import ArbiterError, ErrorCode
from service.labels import (
    EloReplays,
    ExportOptions,
    campaigns,
    compute_leaderboard,
    detailed_dry_run,
    dry_run,
    export,
    rubric_quality,
    set_rater,
)
from service.store import Filters, tunings

campaign_app = typer.Typer(help="Labelling campaigns.", no_args_is_help=True)
rater_app = typer.Typer(help="Raters and their roles.", no_args_is_help=True)


def _label_filters(
    mode: str | None,
    rag: bool | None,
    since: datetime | None,
    until: datetime | None,
    rater: str | None,
    campaign: str | None,
    tag: str | None,
    use_case: str | None = None,
) -> Filters:
    """The leaderboard's and exports' filters from command-line options (dates in UTC)."""
    if mode not in (None, "arena", "named"):
        raise ArbiterError(
            f"unknown mode {mode!r}", code=ErrorCode.INVALID_OPTION, hint="Use arena or named."
        )
    return Filters(
        since=since and since.replace(tzinfo=since.tzinfo or UTC),
        until=until and until.replace(tzinfo=until.tzinfo or UTC),
        mode=mode,  # type: ignore[arg-type]
        rag=rag,
        rater=rater,
        campaign=campaign,
        tag=tag,
        use_case=use_case,
    )


@friendly_errors
def leaderboard_cmd(
    mode: Annotated[
        str | None, typer.Option(help="arena (blind votes) or named; default both.")
    ] = None,
    rag: Annotated[
        bool | None, typer.Option("--rag/--no-rag", help="Only turns with / without RAG.")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Votes from this date (UTC), e.g. 2026-11-01.")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="Votes before this date (UTC).")] = None,
    rater: Annotated[str | None, typer.Option(help="One rater's votes only.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only turns with this tag (category).")] = None,
    use_case: Annotated[
        str | None, typer.Option(help="Only conversations of this use case.")
    ] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's votes.")] = None,
    elo: Annotated[
        bool, typer.Option("--elo", help="Also online Elo (replays every live vote in order).")
    ] = False,
) -> None:
    """Variants ranked by human preference (Bradley-Terry with 95% CIs; online Elo with
    --elo), then their rubric scores (absolute quality)."""
    filters = _label_filters(mode, rag, since, until, rater, campaign, tag, use_case)
    with open_store(Settings()) as store:
        board = compute_leaderboard(store, filters, elo=EloReplays(store) if elo else None)
        quality = rubric_quality(store, filters)
    if not board.rows:
        console.print("No votes yet (with these filters). Vote in the page, then try again.")
        return
    table = Table(
        "rank",
        "variant",
        "rating",
        "95% CI",
        "battles",
        "win rate",
        *(["Elo"] if elo else []),
        title=f"Preference: {board.battles} battles",
    )
    for r in board.rows:
        table.add_row(
            str(r.rank),
            r.model,
            f"{r.rating:.0f}",
            f"{r.low:.0f} to {r.high:.0f}",
            str(r.battles),
            "—" if r.win_rate is None else f"{r.win_rate:.0%}",
            *(["—" if r.elo is None else f"{r.elo:.0f}"] if elo else []),
        )
    console.print(table)
    if quality:
        rubric = Table(
            "variant",
            "ratings",
            "helpfulness",
            "honesty",
            "harmlessness",
            title="Rubric (1-5, mean [95% CI])",
        )
        for q in quality:
            rubric.add_row(
                q.variant,
                str(q.ratings),
                *(q.criteria[c].fmt(2) for c in ("helpfulness", "honesty", "harmlessness")),
            )
        console.print(rubric)


@friendly_errors
def export_cmd(
    format: Annotated[
        str,
        typer.Argument(
            help="trl-preference, trl-kto, reward-pairs, hh-rlhf, bedrock-dpo, bedrock-sft or trl-sft."
        ),
    ],
    out: Annotated[
        str, typer.Option(help="A .jsonl or .parquet path, or s3://bucket/key.jsonl.")
    ] = "",
    mode: Annotated[str | None, typer.Option(help="arena or named; default both.")] = None,
    rag: Annotated[
        bool | None, typer.Option("--rag/--no-rag", help="Turns with / without RAG.")
    ] = None,
    since: Annotated[datetime | None, typer.Option(help="Labels from this date (UTC).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Labels before this date (UTC).")] = None,
    rater: Annotated[str | None, typer.Option(help="One rater's labels only.")] = None,
    variant: Annotated[
        list[str] | None, typer.Option("--variant", "-v", help="Only answers of these variants.")
    ] = None,
    test_fraction: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of prompts in a test split (0: none).")
    ] = 0.0,
    exclude_ties: Annotated[bool, typer.Option(help="KTO: leave out ties and both-bad.")] = False,
    min_agreement: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Leave out turns whose raters agree less (0-1)."),
    ] = None,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's labels.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only turns with this tag (category).")] = None,
    use_case: Annotated[
        str | None, typer.Option(help="Only conversations of this use case.")
    ] = None,
    redact: Annotated[
        bool, typer.Option("--redact/--no-redact", help="Replace emails, phones, keys...")
    ] = True,
    exclude_own_answers: Annotated[
        bool,
        typer.Option(
            "--exclude-own-answers",
            help="Leave out labels on answers of tuned variants (`arbiter tune`), so a "
            "model's next training set does not learn from its own answers.",
        ),
    ] = False,
    dry_run_: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Count from aggregates (seconds, at any size); write nothing."
        ),
    ] = False,
    detail: Annotated[
        bool,
        typer.Option(help="With --dry-run: also count duplicates and redactions (reads all)."),
    ] = False,
) -> None:
    """Votes, ratings and ideal answers as a training dataset, with provenance."""
    filters = _label_filters(mode, rag, since, until, rater, campaign, tag, use_case)
    if not out and not dry_run_:
        raise ArbiterError(
            "where to?", code=ErrorCode.INVALID_OPTION, hint="Give --out PATH, or --dry-run."
        )
    options = ExportOptions(
        format=format,
        filters=filters,
        variants=tuple(variant or ()),
        exclude_ties=exclude_ties,
        min_agreement=min_agreement,
        redact=redact,
        test_fraction=test_fraction,
    )
    with open_store(Settings()) as store:
        if exclude_own_answers:
            tuned = tuple(
                t["variant_name"] for t in tunings.list_tunings(store) if t["variant_name"]
            )
            options = dataclasses.replace(options, exclude_variants=tuned)
        if dry_run_ and not detail:
            summary = dry_run(store, options)
        else:
            options.check()
            with progress_bar("exporting" if not dry_run_ else "counting") as bar:
                task = bar.add_task("labels read", total=None)

                def advance(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                if dry_run_:
                    summary = detailed_dry_run(store, options, advance)
                else:
                    s3 = s3_client() if out.startswith("s3://") else None
                    summary = export(store, options, out, s3=s3, progress=advance)
    title = f"{format}{' (dry run: nothing written)' if dry_run_ else ''}"
    table = Table("", "", title=title)
    later = "counted when the records are written (or with --detail)"
    repeats = " (exact repeats not yet dropped)" if "duplicates" in summary.not_counted else ""
    table.add_row("records", f"{summary.records}{repeats}")
    for name, key, value in (
        ("splits", "splits", summary.splits),
        ("balance", "balance", summary.balance),
        ("skipped", "skipped", summary.skipped),
        ("redacted", "redactions", summary.redactions),
    ):
        shown = ", ".join(f"{k}: {v}" for k, v in value.items()) or "—"
        table.add_row(name, later if key in summary.not_counted else shown)
    duplicates = later if "duplicates" in summary.not_counted else str(summary.duplicates)
    table.add_row("duplicates dropped", duplicates)
    for path in summary.files:
        table.add_row("wrote", path)
    console.print(table)


@campaign_app.command("create")
@friendly_errors
def campaign_create(
    name: Annotated[str, typer.Argument(help="A unique name.")],
    variant: Annotated[
        list[str] | None, typer.Option("--variant", "-v", help="2 to 4 variants.")
    ] = None,
    from_gateway: Annotated[
        int | None,
        typer.Option(
            help="Or: review production traffic, the latest N gateway turns with a shadow's "
            "answer beside the live one (judged as they are)."
        ),
    ] = None,
    deployment: Annotated[
        str | None, typer.Option(help="With --from-gateway: only this deployment.")
    ] = None,
    prompts: Annotated[
        Path | None, typer.Option(help="A .jsonl or .csv dataset; its prompts are the items.")
    ] = None,
    from_traffic: Annotated[
        int | None, typer.Option(help="Or: the latest N distinct prompts people asked.")
    ] = None,
    raters_per_item: Annotated[int, typer.Option("--raters-per-item", "-k", min=1)] = 3,
    rater: Annotated[
        list[str] | None, typer.Option("--rater", help="Who may take part (default: anyone).")
    ] = None,
    description: Annotated[str, typer.Option(help="What the raters should look for.")] = "",
) -> None:
    """Create a campaign and generate the answers of its items (progress bar)."""
    settings = Settings()
    configure_logging("warning", json=settings.log_json)
    runtime = build_runtime(settings)
    if from_gateway:
        try:
            n = campaigns.create_from_gateway(
                runtime.store,
                name,
                from_gateway,
                deployment=deployment,
                raters_per_item=raters_per_item,
                raters=rater or None,
                description=description,
            )
        finally:
            runtime.close()
        console.print(f"campaign [bold]{name}[/]: {n} production turns to review", highlight=False)
        return
    try:
        if from_traffic:
            items = campaigns.prompts_from_traffic(runtime.store, from_traffic)
        elif prompts is not None:
            try:
                items = [e.prompt for e in load_dataset(prompts).examples]
            except DatasetError as exc:
                raise ArbiterError(str(exc), code=ErrorCode.INVALID_DATASET) from None
        else:
            raise ArbiterError(
                "no prompts",
                code=ErrorCode.INVALID_OPTION,
                hint="Give --prompts FILE or --from-traffic N.",
            )
        campaigns.create(
            runtime.store,
            runtime.catalog,
            campaigns.CampaignSpec(
                name=name,
                variants=variant or [],
                prompts=items,
                raters_per_item=raters_per_item,
                raters=rater or None,
                description=description,
            ),
        )
        with progress_bar("answering") as bar:
            task = bar.add_task("", total=len(items))

            async def answer() -> int:
                done = 0
                for _ in items:  # one item per call, so the bar moves
                    step = await campaigns.generate(runtime.store, runtime.engine, name, limit=1)
                    if step == 0:
                        break
                    done += step
                    bar.advance(task)
                return done

            answered = asyncio.run(answer())
    finally:
        runtime.close()
    console.print(
        f"campaign [bold]{name}[/]: {len(items)} items, {answered} answered, "
        f"{raters_per_item} raters each",
        highlight=False,
    )


@campaign_app.command("status")
@friendly_errors
def campaign_status(name: Annotated[str, typer.Argument(help="The campaign.")]) -> None:
    """Progress and agreement of a campaign."""
    with open_store(Settings()) as store:
        st = campaigns.status(store, name)
    console.print(
        f"[bold]{st['name']}[/]: {st['completed']}/{st['items']} items complete "
        f"({st['progress']:.0%} of the labels), {st['answered']} answered",
        highlight=False,
    )
    table = Table(
        "labels", "items", "raters", "Fleiss' kappa", "Krippendorff's alpha", title="Agreement"
    )
    for kind, a in st["agreement"].items():
        table.add_row(
            kind,
            str(a.items),
            str(a.raters),
            "—" if a.fleiss_kappa is None else f"{a.fleiss_kappa:.3f}",
            "—" if a.alpha is None else f"{a.alpha:.3f}",
        )
    console.print(table)
    raters = Table(
        "rater", "votes", "agrees with majority", "Cohen's kappa", "flag", title="Raters (votes)"
    )
    for r in st["agreement"]["votes"].per_rater:
        raters.add_row(
            r.rater,
            str(st["votes_per_rater"].get(r.rater, 0)),
            "—" if r.agreement is None else f"{r.agreement:.0%}",
            "—" if r.kappa is None else f"{r.kappa:.3f}",
            "[red]far below the others[/red]" if r.flagged else "",
        )
    console.print(raters)


@rater_app.command("set")
@friendly_errors
def rater_set(
    name: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help="rater, reviewer or admin.")] = "rater",
    password: Annotated[
        bool,
        typer.Option(
            "--password",
            help="Ask for a password (to sign in to the page when ARBITER_AUTH=keys); or "
            "set ARBITER_NEW_PASSWORD.",
        ),
    ] = False,
) -> None:
    """Create a person or change their role (reviewers may accept or reject labels; admins
    may do anything) and, with --password, their password."""
    secret = None
    if password:
        secret = os.environ.get("ARBITER_NEW_PASSWORD") or typer.prompt(
            "Password", hide_input=True, confirmation_prompt=True
        )
    with open_store(Settings()) as store:
        set_rater(store, name, role)  # type: ignore[arg-type]
        if secret is not None:
            set_password(store, name, secret)
    console.print(f"{name}: {role}" + (", password set" if secret else ""))
