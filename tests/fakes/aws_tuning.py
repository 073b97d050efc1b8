"""The fake AWS server's Bedrock model-customization control plane (kept apart from
`aws_server.py`, which routes to it): what moto lacks for closing the loop — jobs that move
on (statusDetails of data processing / training, losses, completion or failure with a
reason), on-demand custom model deployments and provisioned throughput.

Wire-true to botocore's `bedrock` service model (REST-JSON, the same paths, status codes,
required members and enums): CreateModelCustomizationJob (POST /model-customization-jobs,
201), GetModelCustomizationJob, StopModelCustomizationJob, CreateCustomModelDeployment
(POST /model-customization/custom-model-deployments, 202), GetCustomModelDeployment,
CreateProvisionedModelThroughput (POST /provisioned-model-throughput, 201),
GetProvisionedModelThroughput. The test decides how a job ends (`finish`), or lets it end
by itself after `polls_to_finish` reads."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

ACCOUNT = "123456789012"
REGION = "us-east-1"


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Customization:
    """The fake's state, shared by its request threads."""

    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    throughputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    denied_roles: set[str] = field(default_factory=set)
    polls_to_finish: int | None = None  # None: a job ends only when the test says
    polls_to_serve: int = 1  # reads of a deployment / throughput before it is ready
    losses: tuple[float, float] = (0.42, 0.51)  # training, validation
    on_ready: Any = None  # called with (serving ARN) when a deployment becomes ready
    serving_failure: str | None = None  # deployments / throughput end Failed with this
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finish(self, name: str, status: str = "Completed", failure: str | None = None) -> None:
        with self.lock:
            job = self.jobs[name]
            job["status"] = status
            job["endTime"] = _now()
            if failure:
                job["failureMessage"] = failure
            stage = "Completed" if status == "Completed" else status
            job["statusDetails"]["trainingDetails"]["status"] = stage


def route(handler: Any, method: str, parts: list[str], body: dict[str, Any]) -> bool:
    """Serve the request if it is one of this control plane's; False: not ours."""
    state: Customization = handler.fake.customization
    parts = [unquote(p) for p in parts]
    if parts[:1] == ["model-customization-jobs"]:
        if method == "POST" and len(parts) == 1:
            _create_job(handler, state, body)
        elif method == "GET" and len(parts) == 2:
            _get_job(handler, state, parts[1])
        elif method == "POST" and len(parts) == 3 and parts[2] == "stop":
            _stop_job(handler, state, parts[1])
        else:
            return False
        return True
    if parts[:2] == ["model-customization", "custom-model-deployments"]:
        if method == "POST" and len(parts) == 2:
            _create_serving(handler, state, body, deployment=True)
        elif method == "GET" and len(parts) == 3:
            _get_serving(handler, state, parts[2], deployment=True)
        else:
            return False
        return True
    if parts[:1] == ["provisioned-model-throughput"]:
        if method == "POST" and len(parts) == 1:
            _create_serving(handler, state, body, deployment=False)
        elif method == "GET" and len(parts) == 2:
            _get_serving(handler, state, parts[1], deployment=False)
        else:
            return False
        return True
    return False


def _job_key(state: Customization, identifier: str) -> str | None:
    if identifier in state.jobs:
        return identifier
    return next((n for n, j in state.jobs.items() if j["jobArn"] == identifier), None)


def _create_job(handler: Any, state: Customization, body: dict[str, Any]) -> None:
    for key in (
        "jobName",
        "customModelName",
        "roleArn",
        "baseModelIdentifier",
        "trainingDataConfig",
        "outputDataConfig",
    ):
        if key not in body:
            handler.aws_error(
                400, "ValidationException", f"1 validation error detected: {key} is required"
            )
            return
    role = body["roleArn"]
    if role in state.denied_roles:
        handler.aws_error(
            403,
            "AccessDeniedException",
            f"User: arn:aws:sts::{ACCOUNT}:assumed-role/caller is not authorized to perform: "
            f"iam:PassRole on resource: {role}",
        )
        return
    name = body["jobName"]
    with state.lock:
        if name in state.jobs:
            handler.aws_error(409, "ResourceInUseException", f"Job name {name} already exists")
            return
        now = _now()
        stage = {"status": "InProgress", "creationTime": now, "lastModifiedTime": now}
        base = body["baseModelIdentifier"]
        state.jobs[name] = {
            "jobArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/{base}/{name}",
            "jobName": name,
            "outputModelName": body["customModelName"],
            "outputModelArn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/{base}/{name}",
            "roleArn": role,
            "status": "InProgress",
            "statusDetails": {
                "dataProcessingDetails": stage,
                "trainingDetails": {**stage, "status": "NotStarted"},
                "validationDetails": {**stage, "status": "NotStarted"},
            },
            "creationTime": now,
            "lastModifiedTime": now,
            "baseModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{base}",
            "hyperParameters": body.get("hyperParameters", {}),
            "trainingDataConfig": body["trainingDataConfig"],
            "validationDataConfig": body.get("validationDataConfig", {"validators": []}),
            "outputDataConfig": body["outputDataConfig"],
            "customizationType": body.get("customizationType", "FINE_TUNING"),
            "polls": 0,
            "tags": body.get("jobTags", []),
        }
        arn = state.jobs[name]["jobArn"]
    handler.send_json(201, {"jobArn": arn})


def _get_job(handler: Any, state: Customization, identifier: str) -> None:
    with state.lock:
        key = _job_key(state, identifier)
        if key is None:
            handler.aws_error(404, "ResourceNotFoundException", f"Job {identifier} not found")
            return
        job = state.jobs[key]
        job["polls"] += 1
        details = job["statusDetails"]
        if job["status"] == "InProgress":
            details["dataProcessingDetails"]["status"] = "Completed"
            details["trainingDetails"]["status"] = "InProgress"
            job["trainingMetrics"] = {"trainingLoss": state.losses[0] + 1.0 / job["polls"]}
            if state.polls_to_finish is not None and job["polls"] >= state.polls_to_finish:
                job["status"] = "Completed"
                details["trainingDetails"]["status"] = "Completed"
        if job["status"] == "Completed":
            job["trainingMetrics"] = {"trainingLoss": state.losses[0]}
        if job["status"] == "Stopping":
            job["status"] = "Stopped"
            details["trainingDetails"]["status"] = "Stopped"
        reply = {k: v for k, v in job.items() if k not in ("polls", "tags")}
    if reply["status"] != "Completed":
        reply.pop("outputModelArn")
    handler.send_json(200, reply)


def _stop_job(handler: Any, state: Customization, identifier: str) -> None:
    with state.lock:
        key = _job_key(state, identifier)
        if key is None:
            handler.aws_error(404, "ResourceNotFoundException", f"Job {identifier} not found")
            return
        job = state.jobs[key]
        if job["status"] != "InProgress":
            handler.aws_error(
                400,
                "ValidationException",
                f"Job {identifier} is {job['status']} and cannot be stopped",
            )
            return
        job["status"] = "Stopping"
    handler.send_json(200, {})


def _create_serving(
    handler: Any, state: Customization, body: dict[str, Any], *, deployment: bool
) -> None:
    if deployment:
        name, model = body.get("modelDeploymentName"), body.get("modelArn")
    else:
        name, model = body.get("provisionedModelName"), body.get("modelId")
    if not name or not model:
        handler.aws_error(
            400,
            "ValidationException",
            "1 validation error detected: a name and a model are required",
        )
        return
    known = {j["outputModelArn"] for j in state.jobs.values() if j["status"] == "Completed"}
    if model not in known:
        handler.aws_error(404, "ResourceNotFoundException", f"Model {model} not found")
        return
    kind = "custom-model-deployment" if deployment else "provisioned-model"
    arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:{kind}/{name}"
    now = _now()
    row = {
        "name": name,
        "model": model,
        "status": "Creating",
        "polls": 0,
        "created": now,
        "units": body.get("modelUnits", 0),
    }
    with state.lock:
        (state.deployments if deployment else state.throughputs)[arn] = row
    if deployment:
        handler.send_json(202, {"customModelDeploymentArn": arn})
    else:
        handler.send_json(201, {"provisionedModelArn": arn})


def _get_serving(handler: Any, state: Customization, arn: str, *, deployment: bool) -> None:
    table = state.deployments if deployment else state.throughputs
    ready_word = "Active" if deployment else "InService"
    with state.lock:
        row = table.get(arn)
        if row is None:
            handler.aws_error(404, "ResourceNotFoundException", f"{arn} not found")
            return
        row["polls"] += 1
        became_ready = row["status"] == "Creating" and row["polls"] >= state.polls_to_serve
        if became_ready and state.serving_failure:
            row["status"], row["failure"], became_ready = "Failed", state.serving_failure, False
        elif became_ready:
            row["status"] = ready_word
    if became_ready and state.on_ready is not None:
        state.on_ready(arn)
    if deployment:
        reply = {
            "customModelDeploymentArn": arn,
            "modelDeploymentName": row["name"],
            "modelArn": row["model"],
            "createdAt": row["created"],
            "status": row["status"],
        }
        if row.get("failure"):
            reply["failureMessage"] = row["failure"]
    else:
        reply = {
            "modelUnits": row["units"],
            "desiredModelUnits": row["units"],
            "provisionedModelName": row["name"],
            "provisionedModelArn": arn,
            "modelArn": row["model"],
            "desiredModelArn": row["model"],
            "foundationModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/base",
            "status": row["status"],
            "creationTime": row["created"],
            "lastModifiedTime": row["created"],
        }
        if row.get("failure"):
            reply["failureMessage"] = row["failure"]
    handler.send_json(200, reply)
