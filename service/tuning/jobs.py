"""Closing the loop: from stored labels to a tuned model compared with its base.

`create` exports the labels (checked against the base model's documented limits before
anything is written), uploads them to S3 and submits the training job; `refresh` moves a
job on from what the cloud says — training, then serving (an on-demand deployment where the
base model supports it, else provisioned throughput bought only once its price is
accepted), then the tuned variant (the base variant's prompt and parameters, named after the
job), then the comparison (a blind campaign on the held-out prompts of the export's test
split, base vs tuned, and an eval run per dataset of the use case). Every step is stored as
it happens, so `refresh` after a restart picks up where it was."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field

from evals.datasets import EXAMPLE_DATASET, Dataset, load_dataset
from evals.errors import DatasetError
from service.errors import (
    AccessDenied,
    ArbiterError,
    Conflict,
    ErrorCode,
    InvalidRequest,
    NotFound,
)
from service.evaluation import EvalRunner, usecases
from service.labels import ExportOptions, campaigns
from service.models import BedrockModel, Catalog, SageMakerModel, Variant
from service.serving import CompareEngine
from service.store import Filters, Store, tunings, variants
from service.tuning import cloud, limits
from service.tuning.dataset import build

log = structlog.get_logger(__name__)
TERMINAL = ("done", "failed", "stopped")


class TuneRequest(BaseModel):
    """A tuning job to start: which labels (the export's filters), which base variant, how."""

    model_config = ConfigDict(extra="forbid")

    base: str = Field(min_length=1, description="The base variant (its model is tuned).")
    method: Literal["sft", "dpo"] = "sft"
    target: Literal["bedrock", "sagemaker"] = "bedrock"
    role_arn: str = Field(min_length=20, description="The IAM role the service assumes.")
    s3_prefix: str = Field(pattern=r"^s3://[^/]+(/.*)?$", description="Data and output go here.")
    name: str | None = Field(default=None, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$", max_length=63)
    hyperparameters: dict[str, str] = Field(default_factory=dict)
    # the export's filters, as `arbiter export` takes them
    use_case: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    mode: Literal["arena", "named"] | None = None
    rater: str | None = None
    campaign: str | None = None
    tag: str | None = None
    min_agreement: float | None = Field(default=None, ge=0, le=1)
    test_fraction: float = Field(default=0.2, ge=0, le=0.9)
    exclude_own_answers: bool = Field(
        default=True, description="Leave out labels on answers of tuned variants."
    )
    redact: bool = True
    # the comparison
    raters_per_item: int = Field(default=3, ge=1, le=50)
    # serving: provisioned throughput is bought only with the price accepted
    accept_price: bool = False
    model_units: int = Field(default=1, ge=1, le=100)
    # SageMaker only
    training_image: str | None = None
    instance_type: str = "ml.g5.2xlarge"
    serving_image: str | None = None
    serving_instance_type: str = "ml.g5.xlarge"


def _aware(d: datetime | None) -> datetime | None:
    return d if d is None or d.tzinfo else d.replace(tzinfo=UTC)


def _job_name(req: TuneRequest) -> str:
    if req.name:
        return req.name
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    base = re.sub(r"[^a-zA-Z0-9]+", "-", req.base).strip("-")[
        : 63 - len(stamp) - len(req.method) - 3
    ]
    return f"{base}-{req.method}-{stamp}"


def _export_options(store: Store, req: TuneRequest, fmt: str) -> ExportOptions:
    excluded: tuple[str, ...] = ()
    if req.exclude_own_answers:
        excluded = tuple(
            t["variant_name"] for t in tunings.list_tunings(store) if t["variant_name"]
        )
    return ExportOptions(
        format=fmt,
        filters=Filters(
            since=_aware(req.since),
            until=_aware(req.until),
            mode=req.mode,
            rater=req.rater,
            campaign=req.campaign,
            tag=req.tag,
            use_case=req.use_case,
        ),
        exclude_variants=excluded,
        min_agreement=req.min_agreement,
        redact=req.redact,
        test_fraction=req.test_fraction,
    )


def _options_json(options: ExportOptions) -> dict[str, Any]:
    f = options.filters
    return {
        "format": options.format,
        "filters": {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in vars(f).items()
            if v is not None
        },
        "exclude_variants": list(options.exclude_variants),
        "min_agreement": options.min_agreement,
        "redact": options.redact,
        "test_fraction": options.test_fraction,
    }


def create(
    store: Store, catalog: Catalog, clients: cloud.Clients, req: TuneRequest
) -> dict[str, Any]:
    """Check everything, export to S3, submit the job, store it. A dataset that breaks a rule
    of the base model is refused with every broken rule named, and nothing is written."""
    base = catalog.get(req.base)
    if req.target == "bedrock":
        if not isinstance(base.model, BedrockModel):
            raise InvalidRequest(
                f"variant {req.base!r} is not a Bedrock model",
                code=ErrorCode.INVALID_TUNING,
                hint="Tune a Bedrock variant with --target bedrock, or use --target sagemaker.",
            )
        table = limits.limits_for(base.model.model_id)
        spec = limits.method_spec(table, req.method)
        hps = limits.hyperparameters(table, req.hyperparameters)
        base_model, fmt = table.model_id, spec.format
    else:
        if not req.training_image or not req.serving_image:
            raise InvalidRequest(
                "a SageMaker tuning needs a training image and a serving image",
                code=ErrorCode.INVALID_TUNING,
                hint="Give --training-image (a Hugging Face/TRL training image URI) and "
                "--serving-image (e.g. a TGI image URI).",
            )
        sm = limits.sagemaker_limits()
        fmt = limits.sagemaker_format(sm, req.method)
        hps = limits.sagemaker_hyperparameters(sm, req.method, req.hyperparameters)
        base_model = base.model_label
    options = _export_options(store, req, fmt)
    data = build(store, options)
    if req.target == "bedrock":
        problems = limits.dataset_problems(table, data.train, [])
        where = f"{table.label}'s customization"
    else:
        problems = limits.sagemaker_dataset_problems(sm, fmt, data.train)
        where = "a SageMaker tuning"
    if problems:
        raise InvalidRequest(
            f"the dataset breaks {len(problems)} rule(s) of {where}: " + "; ".join(problems),
            code=ErrorCode.TUNING_LIMIT,
            hint="Nothing was written to S3 or submitted. Change the export's filters "
            "(arbiter export --dry-run shows the counts) and try again.",
        )
    name = _job_name(req)
    try:
        tunings.get_tuning(store, name)
    except NotFound:
        pass  # the name is free
    else:
        raise Conflict(f"a tuning job named {name!r} already exists", hint="Give another --name.")
    prefix = f"{req.s3_prefix.rstrip('/')}/{name}"
    uris = data.upload(clients.s3, f"{prefix}/data")
    output = f"{prefix}/output/"
    sha = data.sha256
    tags = {"arbiter:tuning": name, "arbiter:dataset-sha256": sha, "arbiter:base-variant": req.base}
    if req.target == "bedrock":
        arn = cloud.bedrock_submit(
            clients.bedrock,
            job_name=name,
            base_model=base_model,
            customization_type=spec.customization_type,
            role_arn=req.role_arn,
            train_uri=uris["train"],
            output_uri=output,
            hyperparameters=hps,
            tags=tags,
        )
        serving: dict[str, Any] = {"model_units": req.model_units}
    else:
        plan = cloud.SageMakerPlan(
            training_image=req.training_image or "",
            instance_type=req.instance_type,
            serving_image=req.serving_image or "",
            serving_instance_type=req.serving_instance_type,
        )
        arn = cloud.sagemaker_submit(
            clients.sagemaker,
            job_name=name,
            plan=plan,
            role_arn=req.role_arn,
            train_uri=uris["train"],
            output_uri=output,
            hyperparameters=hps,
            tags=tags,
        )
        serving = {"plan": vars(plan)}
    tuning_id = tunings.add_tuning(
        store,
        name=name,
        target=req.target,
        method=req.method,
        base_variant=req.base,
        base_model=base_model,
        state="training",
        cloud_status="Submitted",
        job_arn=arn,
        role_arn=req.role_arn,
        output_uri=output,
        data_uris=uris,
        export_options=_options_json(options),
        dataset_sha256=sha,
        manifest=data.manifest() | {"records": {"train": len(data.train), "test": len(data.test)}},
        held_out_prompts=data.held_out_prompts(),
        hyperparameters=hps,
        metrics={},
        serving=serving,
        use_case=req.use_case,
        raters_per_item=req.raters_per_item,
        eval_run_ids=[],
    )
    log.info("tuning.submitted", tuning=name, job=arn, records=len(data.train))
    return tunings.get_tuning(store, tuning_id)


def stop(store: Store, clients: cloud.Clients, key: str) -> dict[str, Any]:
    row = tunings.get_tuning(store, key)
    if row["state"] != "training":
        raise InvalidRequest(
            f"tuning {row['name']} is {row['state']}: only a job in training can be stopped",
            code=ErrorCode.INVALID_TUNING,
        )
    if row["target"] == "bedrock":
        cloud.bedrock_stop(clients.bedrock, row["name"])
    else:
        cloud.sagemaker_stop(clients.sagemaker, row["name"])
    return refresh(store, None, clients, key)


def _tuned_variant(base: Variant, row: dict[str, Any]) -> Variant:
    spec = base.model_dump(mode="json")
    spec["name"] = row["name"][:64]
    spec["description"] = f"{base.name} tuned ({row['method']}) by job {row['name']}"
    if row["target"] == "bedrock":
        spec["model"]["base_model_id"] = (
            spec["model"].get("base_model_id") or spec["model"]["model_id"]
        )
        spec["model"]["model_id"] = row["serving_arn"]
    else:
        spec["model"] = SageMakerModel(
            endpoint_name=row["serving_arn"],
            region=getattr(base.model, "region", None),
        ).model_dump(mode="json")
    return Variant.model_validate(spec)


def _start_serving(
    clients: cloud.Clients, row: dict[str, Any], serving: dict[str, Any], accept_price: bool
) -> str | None:
    """Create what serves the model (filling `serving` in); None: waiting for the price."""
    tags = {"arbiter:tuning": row["name"], "arbiter:dataset-sha256": row["dataset_sha256"]}
    if row["target"] == "sagemaker":
        serving["kind"] = "endpoint"
        return cloud.sagemaker_deploy(
            clients.sagemaker,
            name=row["name"],
            plan=cloud.SageMakerPlan(**serving["plan"]),
            role_arn=row["role_arn"],
            model_data=row["custom_model_arn"],
            tags=tags,
        )
    table = limits.limits_for(row["base_model"])
    if table.on_demand:
        serving["kind"] = "on-demand"
        return cloud.bedrock_deploy_on_demand(
            clients.bedrock, name=row["name"], model_arn=row["custom_model_arn"], tags=tags
        )
    units = int(serving.get("model_units", 1))
    price = (table.provisioned_price_per_unit_hour_usd or 0.0) * units
    serving |= {"kind": "provisioned", "usd_per_hour": price}
    if not (accept_price or serving.get("price_accepted")):
        return None
    serving["price_accepted"] = True
    return cloud.bedrock_buy_throughput(
        clients.bedrock,
        name=row["name"],
        model_arn=row["custom_model_arn"],
        model_units=units,
        tags=tags,
    )


def _serve(
    store: Store, clients: cloud.Clients, row: dict[str, Any], accept_price: bool
) -> dict[str, Any]:
    """Make the trained model callable; returns the row (state `comparing` once it is). A
    refusal (validation, access) fails the job with the service's reason; an outage is
    raised, and the next refresh tries again."""
    serving = dict(row["serving"])
    if row["serving_arn"] is None:
        try:
            arn = _start_serving(clients, row, serving, accept_price)
        except (InvalidRequest, AccessDenied) as exc:
            return tunings.update_tuning(
                store,
                row["id"],
                state="failed",
                cloud_status="serving refused",
                failure=exc.message,
            )
        if arn is None:
            return tunings.update_tuning(
                store, row["id"], serving=serving, cloud_status="awaiting price"
            )
        row = tunings.update_tuning(store, row["id"], serving_arn=arn, serving=serving)
    kind = row["serving"].get("kind")
    if kind == "endpoint":
        status, failure = cloud.sagemaker_endpoint(clients.sagemaker, row["serving_arn"])
        ready = status == "InService"
    elif kind == "on-demand":
        status, failure = cloud.bedrock_deployment(clients.bedrock, row["serving_arn"])
        ready = status == "Active"
    else:
        status, failure = cloud.bedrock_throughput(clients.bedrock, row["serving_arn"])
        ready = status == "InService"
    if status == "Failed":
        return tunings.update_tuning(
            store, row["id"], state="failed", cloud_status=f"serving {status}", failure=failure
        )
    if not ready:
        return tunings.update_tuning(store, row["id"], cloud_status=f"serving {status}")
    return tunings.update_tuning(
        store, row["id"], state="comparing", cloud_status=f"serving {status}"
    )


def _add_variant(store: Store, catalog: Catalog, row: dict[str, Any]) -> dict[str, Any]:
    if row["variant_name"]:
        return row
    variant = _tuned_variant(catalog.get(row["base_variant"]), row)
    if variant.name not in catalog.names():
        if variant.name not in {v.name for v in variants.api_variants(store)}:
            variants.add_variant(store, variant)
        catalog.add(variant)
    return tunings.update_tuning(store, row["id"], variant_name=variant.name)


def _dataset(path: str) -> Dataset:
    try:
        return load_dataset(EXAMPLE_DATASET if path == "example" else Path(path))
    except DatasetError as exc:
        raise InvalidRequest(str(exc), code=ErrorCode.INVALID_DATASET) from None


def _compare(
    store: Store, catalog: Catalog, runner: EvalRunner | None, row: dict[str, Any]
) -> dict[str, Any]:
    """The campaign on the held-out prompts and the eval runs (created, not yet answered)."""
    pair = [row["base_variant"], row["variant_name"]]
    if row["campaign_name"] is None and row["held_out_prompts"]:
        name = f"{row['name']}-vs-base"[:128]
        campaigns.create(
            store,
            catalog,
            campaigns.CampaignSpec(
                name=name,
                variants=pair,
                prompts=list(row["held_out_prompts"]),
                raters_per_item=row["raters_per_item"],
                description=f"Blind: {row['base_variant']} against its tuned model "
                f"{row['variant_name']}, on prompts the tuning never saw.",
            ),
        )
        row = tunings.update_tuning(store, row["id"], campaign_name=name)
    if runner is not None and not row["eval_run_ids"] and row["use_case"]:
        spec = usecases.get(store, row["use_case"])
        ids = [
            runner.create_run(
                _dataset(path),
                pair,
                spec.run_metrics(),
                name=f"{row['name']}: {path}",
                use_case=spec.name,
            )
            for path in spec.datasets
        ]
        row = tunings.update_tuning(store, row["id"], eval_run_ids=ids)
    if runner is None and row["use_case"]:
        return row  # the eval runs wait for a caller with a runner
    return tunings.update_tuning(store, row["id"], state="done")


def refresh(
    store: Store,
    catalog: Catalog | None,
    clients: cloud.Clients,
    key: str,
    *,
    runner: EvalRunner | None = None,
    accept_price: bool = False,
) -> dict[str, Any]:
    """Move a job on as far as the cloud allows now, storing each step."""
    row = tunings.get_tuning(store, key)
    if row["state"] == "training":
        if row["target"] == "bedrock":
            job = cloud.bedrock_job(clients.bedrock, row["name"])
        else:
            job = cloud.sagemaker_job(clients.sagemaker, row["name"])
        fields: dict[str, Any] = {
            "cloud_status": job.status,
            "metrics": row["metrics"] | job.metrics,
        }
        if job.ok:
            fields |= {"state": "deploying", "custom_model_arn": job.model}
        elif job.done:
            fields |= {
                "state": "failed" if job.status == "Failed" else "stopped",
                "failure": job.failure,
            }
        row = tunings.update_tuning(store, row["id"], **fields)
    if row["state"] == "deploying":
        row = _serve(store, clients, row, accept_price)
    if row["state"] == "comparing" and catalog is not None:
        row = _add_variant(store, catalog, row)
        row = _compare(store, catalog, runner, row)
    return row


def refresh_all(
    store: Store,
    catalog: Catalog | None,
    clients: cloud.Clients,
    *,
    runner: EvalRunner | None = None,
) -> list[dict[str, Any]]:
    """Every job not yet finished, moved on (what a restart resumes)."""
    out = []
    for row in tunings.list_tunings(store, active_only=True):
        out.append(refresh(store, catalog, clients, row["id"], runner=runner))
    return out


def poll(
    store: Store,
    catalog: Catalog,
    clients: cloud.Clients,
    *,
    runner: EvalRunner | None = None,
) -> list[dict[str, Any]]:
    """One turn of the background poller: every unfinished job moved on. A job the cloud
    cannot be asked about now (an outage, a refusal) is logged and tried next turn; the
    others still move. Returns the jobs that finished in this turn (state `done`: their
    comparison is created and waits to be answered)."""
    finished = []
    for row in tunings.list_tunings(store, active_only=True):
        try:
            moved = refresh(store, catalog, clients, row["id"], runner=runner)
        except ArbiterError as exc:
            log.warning("tuning.poll_failed", tuning=row["name"], error=exc.message)
            continue
        if moved["state"] == "done":
            finished.append(moved)
        if moved["state"] != row["state"]:
            log.info("tuning.moved", tuning=row["name"], state=moved["state"])
    return finished


async def answer_comparison(
    store: Store, engine: CompareEngine, runner: EvalRunner, key: str
) -> dict[str, Any]:
    """Generate the campaign's answers and run the eval runs the comparison created (each
    resumable: what is stored is not redone)."""
    row = await asyncio.to_thread(tunings.get_tuning, store, key)
    if row["campaign_name"]:
        await campaigns.generate(store, engine, row["campaign_name"])
    if row["eval_run_ids"] and row["use_case"]:
        spec = await asyncio.to_thread(usecases.get, store, row["use_case"])
        pair = [row["base_variant"], row["variant_name"]]
        for path, run_id in zip(spec.datasets, row["eval_run_ids"], strict=False):
            data = await asyncio.to_thread(_dataset, path)
            await runner.run(
                data,
                pair,
                spec.run_metrics(),
                run_id=run_id,
                use_case=spec.name,
                language=spec.language,
            )
    return row
