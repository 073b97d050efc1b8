"""Calls to AWS for tuning, through plain boto3 clients: Bedrock model customization and
custom model serving (on-demand deployments, provisioned throughput), SageMaker training jobs,
models and endpoints. The `sagemaker` SDK is not used: it would add 73 packages (mlflow,
databricks-sdk, ...) and pin older protobuf, rich and pyarrow than ours, for calls that are
one boto3 request each. A refusal from AWS becomes an Arbiter error carrying the service's
own message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from service.errors import AccessDenied, ErrorCode, InvalidRequest, ProviderError
from service.models import aws_client

T = TypeVar("T")


def call(what: str, fn: Callable[..., T], **kwargs: Any) -> T:
    """One AWS call; its refusal as an Arbiter error with the service's message."""
    try:
        return fn(**kwargs)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code, message = str(err.get("Code", "")), str(err.get("Message", "")) or str(exc)
        text = f"{what}: {code}: {message}"
        if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
            raise AccessDenied(
                text,
                hint="The caller needs the permission named above (and iam:PassRole on the "
                "role given with --role-arn); the role must trust the service.",
            ) from None
        if code in ("ValidationException", "ValidationError"):
            raise InvalidRequest(text, code=ErrorCode.INVALID_TUNING) from None
        raise ProviderError(text) from None
    except BotoCoreError as exc:
        raise ProviderError(f"{what}: {exc}", code=ErrorCode.PROVIDER_UNREACHABLE) from None


@dataclass
class Clients:
    """boto3 clients, made on first use (endpoints: the AWS chain, e.g.
    AWS_ENDPOINT_URL_BEDROCK)."""

    region: str | None = None
    made: dict[str, Any] = field(default_factory=dict)

    def get(self, service: str) -> Any:
        if service not in self.made:
            self.made[service] = aws_client(
                service, region=self.region, profile=None, endpoint_url=None, max_attempts=3
            )
        return self.made[service]

    @property
    def bedrock(self) -> Any:
        return self.get("bedrock")

    @property
    def s3(self) -> Any:
        return self.get("s3")

    @property
    def sagemaker(self) -> Any:
        return self.get("sagemaker")


@dataclass(frozen=True)
class JobState:
    """A training job as the service reports it."""

    status: str  # the service's word: InProgress, Completed, Failed, Stopping, Stopped, ...
    failure: str | None
    metrics: dict[str, Any]
    model: str | None  # Bedrock: the custom model's ARN; SageMaker: the model artefacts' URI
    done: bool
    ok: bool


def _tags(tags: dict[str, str], key: str = "key", value: str = "value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in tags.items()]


# ---- Bedrock -------------------------------------------------------------------------------


def bedrock_submit(
    client: Any,
    *,
    job_name: str,
    base_model: str,
    customization_type: str,
    role_arn: str,
    train_uri: str,
    output_uri: str,
    hyperparameters: dict[str, str],
    tags: dict[str, str],
) -> str:
    reply = call(
        "CreateModelCustomizationJob",
        client.create_model_customization_job,
        jobName=job_name,
        customModelName=job_name,
        roleArn=role_arn,
        baseModelIdentifier=base_model,
        customizationType=customization_type,
        trainingDataConfig={"s3Uri": train_uri},
        outputDataConfig={"s3Uri": output_uri},
        hyperParameters=hyperparameters,
        jobTags=_tags(tags),
        customModelTags=_tags(tags),
    )
    return str(reply["jobArn"])


def bedrock_job(client: Any, job_name: str) -> JobState:
    reply = call(
        "GetModelCustomizationJob", client.get_model_customization_job, jobIdentifier=job_name
    )
    status = str(reply["status"])
    metrics: dict[str, Any] = {}
    if "trainingLoss" in reply.get("trainingMetrics", {}):
        metrics["training_loss"] = reply["trainingMetrics"]["trainingLoss"]
    losses = [
        m["validationLoss"] for m in reply.get("validationMetrics", []) if "validationLoss" in m
    ]
    if losses and reply.get("validationDataConfig"):
        metrics["validation_loss"] = losses[-1]
    return JobState(
        status=status,
        failure=reply.get("failureMessage") if status == "Failed" else None,
        metrics=metrics,
        model=reply.get("outputModelArn"),
        done=status in ("Completed", "Failed", "Stopped"),
        ok=status == "Completed",
    )


def bedrock_stop(client: Any, job_name: str) -> None:
    call("StopModelCustomizationJob", client.stop_model_customization_job, jobIdentifier=job_name)


def bedrock_deploy_on_demand(
    client: Any, *, name: str, model_arn: str, tags: dict[str, str]
) -> str:
    reply = call(
        "CreateCustomModelDeployment",
        client.create_custom_model_deployment,
        modelDeploymentName=name,
        modelArn=model_arn,
        description="Arbiter: tuned model, on demand",
        tags=_tags(tags),
    )
    return str(reply["customModelDeploymentArn"])


def bedrock_deployment(client: Any, arn: str) -> tuple[str, str | None]:
    """(status: Creating | Active | Failed, failure message)."""
    reply = call(
        "GetCustomModelDeployment",
        client.get_custom_model_deployment,
        customModelDeploymentIdentifier=arn,
    )
    return str(reply["status"]), reply.get("failureMessage")


def bedrock_buy_throughput(
    client: Any, *, name: str, model_arn: str, model_units: int, tags: dict[str, str]
) -> str:
    reply = call(
        "CreateProvisionedModelThroughput",
        client.create_provisioned_model_throughput,
        modelUnits=model_units,
        provisionedModelName=name,
        modelId=model_arn,
        tags=_tags(tags),
    )
    return str(reply["provisionedModelArn"])


def bedrock_throughput(client: Any, arn: str) -> tuple[str, str | None]:
    """(status: Creating | InService | Updating | Failed, failure message)."""
    reply = call(
        "GetProvisionedModelThroughput",
        client.get_provisioned_model_throughput,
        provisionedModelId=arn,
    )
    return str(reply["status"]), reply.get("failureMessage")


# ---- SageMaker -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SageMakerPlan:
    """What a SageMaker tuning needs besides the data: a TRL/Hugging Face training image,
    the instance, and the image and instance that serve the result."""

    training_image: str
    instance_type: str = "ml.g5.2xlarge"
    serving_image: str = ""
    serving_instance_type: str = "ml.g5.xlarge"


def sagemaker_submit(
    client: Any,
    *,
    job_name: str,
    plan: SageMakerPlan,
    role_arn: str,
    train_uri: str,
    output_uri: str,
    hyperparameters: dict[str, str],
    tags: dict[str, str],
) -> str:
    reply = call(
        "CreateTrainingJob",
        client.create_training_job,
        TrainingJobName=job_name,
        AlgorithmSpecification={"TrainingImage": plan.training_image, "TrainingInputMode": "File"},
        RoleArn=role_arn,
        HyperParameters=hyperparameters,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": train_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "application/jsonlines",
            }
        ],
        OutputDataConfig={"S3OutputPath": output_uri},
        ResourceConfig={
            "InstanceType": plan.instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": 100,
        },
        StoppingCondition={"MaxRuntimeInSeconds": 86400},
        Tags=_tags(tags, "Key", "Value"),
    )
    return str(reply["TrainingJobArn"])


def sagemaker_job(client: Any, job_name: str) -> JobState:
    reply = call("DescribeTrainingJob", client.describe_training_job, TrainingJobName=job_name)
    status = str(reply["TrainingJobStatus"])
    metrics = {
        m["MetricName"]: m["Value"]
        for m in reply.get("FinalMetricDataList", [])
        if "MetricName" in m
    }
    if reply.get("SecondaryStatus"):
        metrics["secondary_status"] = reply["SecondaryStatus"]
    return JobState(
        status=status,
        failure=reply.get("FailureReason") if status == "Failed" else None,
        metrics=metrics,
        model=reply.get("ModelArtifacts", {}).get("S3ModelArtifacts"),
        done=status in ("Completed", "Failed", "Stopped"),
        ok=status == "Completed",
    )


def sagemaker_stop(client: Any, job_name: str) -> None:
    call("StopTrainingJob", client.stop_training_job, TrainingJobName=job_name)


def sagemaker_deploy(
    client: Any,
    *,
    name: str,
    plan: SageMakerPlan,
    role_arn: str,
    model_data: str,
    tags: dict[str, str],
) -> str:
    """Model, endpoint configuration and endpoint, all named `name`; returns the endpoint's
    name (what a SageMaker variant calls)."""
    tag_list = _tags(tags, "Key", "Value")
    call(
        "CreateModel",
        client.create_model,
        ModelName=name,
        PrimaryContainer={"Image": plan.serving_image, "ModelDataUrl": model_data},
        ExecutionRoleArn=role_arn,
        Tags=tag_list,
    )
    call(
        "CreateEndpointConfig",
        client.create_endpoint_config,
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": plan.serving_instance_type,
                "InitialInstanceCount": 1,
            }
        ],
        Tags=tag_list,
    )
    call(
        "CreateEndpoint",
        client.create_endpoint,
        EndpointName=name,
        EndpointConfigName=name,
        Tags=tag_list,
    )
    return name


def sagemaker_endpoint(client: Any, name: str) -> tuple[str, str | None]:
    """(status: Creating | InService | Failed | ..., failure reason)."""
    reply = call("DescribeEndpoint", client.describe_endpoint, EndpointName=name)
    return str(reply["EndpointStatus"]), reply.get("FailureReason")
