"""Models discovered in an AWS account, not typed in: the Bedrock foundation models and
inference profiles it can call, the SageMaker endpoints and inference components in service
(with the container image, from which the payload adapter is inferred), and a variant made
from any of them.

Only boto3's `bedrock` and `sagemaker` clients are used: the `sagemaker` SDK would add some
70 packages for a handful of list and describe calls."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from service.config import Settings
from service.errors import ArbiterError, ErrorCode, InvalidRequest, NotFound
from service.models.providers.aws import aws_client
from service.models.providers.errors import classify_error
from service.models.variants import BedrockModel, SageMakerModel, Variant

AdapterName = Literal["tgi", "messages", "jumpstart"]
TemplateName = Literal["chatml", "llama3", "plain"]
Service = Literal["bedrock", "sagemaker"]
ADAPTERS: tuple[AdapterName, ...] = ("tgi", "messages", "jumpstart")
ADAPTER_UNKNOWN = "adapter unknown: choose one with --adapter"
# What each service's listing needs; said when the account refuses one of them.
PERMISSIONS: dict[Service, str] = {
    "bedrock": "bedrock:ListFoundationModels and bedrock:ListInferenceProfiles",
    "sagemaker": "sagemaker:ListEndpoints, DescribeEndpoint, DescribeEndpointConfig, "
    "DescribeModel, ListInferenceComponents and DescribeInferenceComponent",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiscoveredModel(_Strict):
    id: str = Field(
        description="What `arbiter models add-discovered` and POST /api/discover/add take: "
        "bedrock/<model or profile id>, sagemaker/<endpoint>[/<inference component>]."
    )
    kind: Literal["bedrock-model", "bedrock-profile", "sagemaker-endpoint", "sagemaker-component"]
    name: str = Field(description="The model's, profile's, endpoint's or component's name.")
    provider: str = Field(description="Who made the model (Bedrock), or `sagemaker`.")
    region: str
    status: str
    input_modalities: list[str] = []
    output_modalities: list[str] = []
    streaming: bool | None = Field(default=None, description="None: not known.")
    image: str | None = Field(default=None, description="SageMaker: the container image.")
    adapter: AdapterName | None = Field(
        default=None, description="SageMaker: the payload adapter the image speaks; None: unknown."
    )
    prompt_template: TemplateName | None = None
    note: str = Field(default="", description="How the adapter was chosen, or what to do.")
    suggested_name: str = Field(description="The variant name used when none is given.")


class DiscoveryProblem(_Strict):
    service: Service
    code: str
    message: str
    hint: str = ""


class Discovery(_Strict):
    region: str | None
    models: list[DiscoveredModel]
    problems: list[DiscoveryProblem] = Field(
        default=[],
        description="A service that could not be listed, and why; the other's "
        "models are still listed.",
    )


@dataclass(frozen=True)
class AwsTarget:
    """Where to look, and where the variants made from what is found will call."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None

    @classmethod
    def of(
        cls,
        settings: Settings,
        *,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
    ) -> AwsTarget:
        """The configured target (ARBITER_DISCOVER_*), with what the caller names instead."""
        return cls(
            region=region or settings.discover_region,
            profile=profile or settings.discover_profile,
            endpoint_url=endpoint_url or settings.discover_endpoint_url,
        )

    def client(self, service: str) -> Any:
        return _client(service, self.region, self.profile, self.endpoint_url)


def clear_clients() -> None:
    """Forget the clients kept (tests that change credentials or the environment)."""
    _client.cache_clear()


@lru_cache(maxsize=32)
def _client(service: str, region: str | None, profile: str | None, endpoint_url: str | None) -> Any:
    """One client per service and target, kept: making one reads the service's model
    (SageMaker's is megabytes of JSON), 0.2-2 s, more than the listing takes. boto3 clients
    are thread-safe and refresh expiring credentials themselves."""
    return aws_client(
        service,
        region=region,
        profile=profile,
        endpoint_url=endpoint_url,
        max_attempts=3,
        read_timeout_s=30.0,
    )


# ---- names --------------------------------------------------------------------------------

_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def variant_name(text: str) -> str:
    """A valid variant name from an id: other characters become '-', at most 64."""
    name = _BAD_NAME_CHARS.sub("-", text).strip("-._") or "model"
    return name[:64].rstrip("-._")


# ---- Bedrock ------------------------------------------------------------------------------


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item of a listing, through its paginator."""
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key) or []


def _foundation_id(arn: str) -> str:
    return arn.split("foundation-model/", 1)[-1]


def discover_bedrock(client: Any) -> list[DiscoveredModel]:
    """Foundation models with text output the account may call on demand (ACTIVE, not
    LEGACY), then the inference profiles (system-defined cross-region ones and the
    account's own) whose models produce text."""
    region = client.meta.region_name
    summaries = client.list_foundation_models(byOutputModality="TEXT").get("modelSummaries") or []
    text_models = {
        s["modelId"]: s for s in summaries if "TEXT" in (s.get("outputModalities") or [])
    }
    found = []
    for s in summaries:
        lifecycle = (s.get("modelLifecycle") or {}).get("status", "ACTIVE")
        if (
            s["modelId"] not in text_models
            or "ON_DEMAND" not in (s.get("inferenceTypesSupported") or [])
            or lifecycle != "ACTIVE"
        ):
            continue
        found.append(
            DiscoveredModel(
                id=f"bedrock/{s['modelId']}",
                kind="bedrock-model",
                name=s.get("modelName") or s["modelId"],
                provider=s.get("providerName") or "",
                region=region,
                status=lifecycle,
                input_modalities=list(s.get("inputModalities") or []),
                output_modalities=list(s.get("outputModalities") or []),
                streaming=s.get("responseStreamingSupported"),
                suggested_name=variant_name(s["modelId"]),
            )
        )
    profiles = [
        p
        for kind in ("SYSTEM_DEFINED", "APPLICATION")
        for p in _pages(
            client, "list_inference_profiles", "inferenceProfileSummaries", typeEquals=kind
        )
    ]
    for p in profiles:
        if p.get("status", "ACTIVE") != "ACTIVE":
            continue
        # An application profile (the account's own) is called by its ARN.
        ref = (
            p["inferenceProfileArn"] if p.get("type") == "APPLICATION" else p["inferenceProfileId"]
        )
        models = [
            text_models.get(_foundation_id(m.get("modelArn", ""))) for m in p.get("models") or []
        ]
        known = [m for m in models if m is not None]
        if not known:
            continue  # an embedding or image model's profile, or one this account cannot see
        first = known[0]
        found.append(
            DiscoveredModel(
                id=f"bedrock/{ref}",
                kind="bedrock-profile",
                name=p.get("inferenceProfileName") or p["inferenceProfileId"],
                provider=first.get("providerName") or "",
                region=region,
                status=p.get("status", "ACTIVE"),
                input_modalities=list(first.get("inputModalities") or []),
                output_modalities=list(first.get("outputModalities") or []),
                streaming=all(m.get("responseStreamingSupported") is True for m in known),
                note=f"{p.get('type', 'SYSTEM_DEFINED').lower().replace('_', '-')} inference "
                f"profile over {len(p.get('models') or [])} region(s)",
                suggested_name=variant_name(
                    p["inferenceProfileName"] if ref != p["inferenceProfileId"] else ref
                ),
            )
        )
    return found


# ---- SageMaker: which adapter an image speaks ---------------------------------------------


@dataclass(frozen=True)
class Container:
    image: str | None
    environment: dict[str, str]
    model_data: str | None = None


def infer_adapter(container: Container) -> tuple[AdapterName | None, str]:
    """The payload adapter a container image speaks (service/models/providers/
    sagemaker_adapters.py), and why; None with what to do when the image is not one the
    adapters know. Decided by the image's repository name and tag:
    - Hugging Face TGI (`huggingface-pytorch-tgi-inference`, `text-generation-inference`): tgi;
    - LMI (`djl-inference`, `*-lmi*`) and vLLM images: the messages API;
    - a JumpStart model served by the Hugging Face inference toolkit (its artifacts in a
      JumpStart bucket): jumpstart."""
    image = container.image or ""
    repository = image.rsplit("/", 1)[-1].split("@", 1)[0]
    name, _, tag = repository.partition(":")
    name, tag = name.lower(), tag.lower()
    if "tgi" in name or "text-generation-inference" in name or re.search(r"(^|-)tgi", tag):
        return "tgi", f"TGI image {repository}"
    if "djl" in name or "lmi" in name or re.search(r"(^|-)lmi", tag) or "vllm" in name + tag:
        return "messages", f"LMI/vLLM image {repository} (messages API)"
    data = (container.model_data or "") + " " + container.environment.get("MODEL_CACHE_ROOT", "")
    if "jumpstart" in data.lower():
        return "jumpstart", f"JumpStart model on {repository}"
    shown = repository or "no image"
    return None, f"{ADAPTER_UNKNOWN} ({shown})"


def infer_template(container: Container, adapter: AdapterName | None) -> TemplateName | None:
    """The prompt template for text-in containers (tgi, jumpstart), from the model id in
    the container's environment; chatml when it does not say."""
    if adapter not in ("tgi", "jumpstart"):
        return None
    model_id = (
        container.environment.get("HF_MODEL_ID") or container.environment.get("MODEL_ID") or ""
    ).lower()
    if re.search(r"llama-?3", model_id):
        return "llama3"
    return "chatml"


def _model_container(client: Any, model_name: str) -> Container:
    model = client.describe_model(ModelName=model_name)
    primary = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    return Container(
        image=primary.get("Image"),
        environment=dict(primary.get("Environment") or {}),
        model_data=primary.get("ModelDataUrl")
        or ((primary.get("ModelDataSource") or {}).get("S3DataSource") or {}).get("S3Uri"),
    )


def _endpoint_container(client: Any, endpoint: dict[str, Any]) -> Container:
    config = client.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    for variant in config.get("ProductionVariants") or []:
        if variant.get("ModelName"):
            return _model_container(client, variant["ModelName"])
    images = [
        image.get("SpecifiedImage")
        for variant in endpoint.get("ProductionVariants") or []
        for image in variant.get("DeployedImages") or []
    ]
    return Container(image=next((i for i in images if i), None), environment={})


def _component_container(client: Any, name: str) -> Container:
    component = client.describe_inference_component(InferenceComponentName=name)
    spec = component.get("Specification") or {}
    own = spec.get("Container") or {}
    if spec.get("ModelName"):
        base = _model_container(client, spec["ModelName"])
    else:
        base = Container(image=None, environment={})
    image = own.get("Image") or (own.get("DeployedImage") or {}).get("SpecifiedImage")
    return Container(
        image=image or base.image,
        environment={**base.environment, **(own.get("Environment") or {})},
        model_data=own.get("ArtifactUrl") or base.model_data,
    )


def _container_or_why(describe: Callable[[], Container]) -> tuple[Container, str]:
    """The container, or none and why: a model deleted after its endpoint was made, or a
    describe call refused, leaves the endpoint listed with its adapter unknown."""
    try:
        return describe(), ""
    except ClientError as exc:
        err = classify_error(exc)
        return Container(image=None, environment={}), f"image not read ({err.message})"


def _sagemaker_item(
    kind: Literal["sagemaker-endpoint", "sagemaker-component"],
    ident: str,
    name: str,
    status: str,
    region: str,
    described: tuple[Container, str],
) -> DiscoveredModel:
    container, why = described
    adapter, note = infer_adapter(container)
    if why:
        note = f"{note}; {why}"
    return DiscoveredModel(
        id=f"sagemaker/{ident}",
        kind=kind,
        name=name,
        provider="sagemaker",
        region=region,
        status=status,
        input_modalities=["TEXT"],
        output_modalities=["TEXT"],
        streaming=None if adapter is None else adapter != "jumpstart",
        image=container.image,
        adapter=adapter,
        prompt_template=infer_template(container, adapter),
        note=note,
        suggested_name=variant_name(ident.replace("/", "-")),
    )


def _endpoint_items(client: Any, name: str, region: str) -> list[DiscoveredModel]:
    components = [
        c
        for c in _pages(
            client, "list_inference_components", "InferenceComponents", EndpointNameEquals=name
        )
        if c.get("EndpointName", name) == name
    ]
    if components:  # such an endpoint is called through one of its components
        return [
            _sagemaker_item(
                "sagemaker-component",
                f"{name}/{c['InferenceComponentName']}",
                c["InferenceComponentName"],
                "InService",
                region,
                _container_or_why(
                    partial(_component_container, client, c["InferenceComponentName"])
                ),
            )
            for c in components
            if c.get("InferenceComponentStatus") == "InService"
        ]
    endpoint = client.describe_endpoint(EndpointName=name)
    return [
        _sagemaker_item(
            "sagemaker-endpoint",
            name,
            name,
            endpoint.get("EndpointStatus", "InService"),
            region,
            _container_or_why(partial(_endpoint_container, client, endpoint)),
        )
    ]


def discover_sagemaker(client: Any, *, threads: int = 8) -> list[DiscoveredModel]:
    """Endpoints InService: one item each, or, for an endpoint hosting inference
    components, one per component InService. Each endpoint takes three or four describe
    calls: endpoints are described `threads` at a time (boto3 clients are thread-safe)."""
    region = client.meta.region_name
    names = [
        e["EndpointName"]
        for e in _pages(client, "list_endpoints", "Endpoints", StatusEquals="InService")
    ]
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(names)))) as pool:
        per_endpoint = list(pool.map(lambda n: _endpoint_items(client, n, region), names))
    return [item for items in per_endpoint for item in items]


# ---- both ---------------------------------------------------------------------------------


def _problem(service: Service, exc: BaseException) -> DiscoveryProblem:
    err = exc if isinstance(exc, ArbiterError) else classify_error(exc)
    hint = err.hint
    if err.code == ErrorCode.ACCESS_DENIED:
        hint = f"Grant {PERMISSIONS[service]} to the role Arbiter runs as."
    elif err.code == ErrorCode.INVALID_CONFIG:  # no region
        hint = "Set AWS_REGION or ARBITER_DISCOVER_REGION, or name one (--region, ?region=)."
    return DiscoveryProblem(service=service, code=str(err.code), message=err.message, hint=hint)


def discover(target: AwsTarget, *, bedrock: bool = True, sagemaker: bool = True) -> Discovery:
    """What the account offers in the target's region. A service that fails (no
    credentials, access denied, unreachable) is a problem in the answer, not an error: the
    other service's models are still listed."""
    models: list[DiscoveredModel] = []
    problems: list[DiscoveryProblem] = []
    region = target.region
    for service, wanted, listing in (
        ("bedrock", bedrock, discover_bedrock),
        ("sagemaker", sagemaker, discover_sagemaker),
    ):
        if not wanted:
            continue
        try:
            client = target.client(service)
            region = region or client.meta.region_name
            models.extend(listing(client))
        except Exception as exc:  # every failure becomes the service's problem, said
            problems.append(_problem(service, exc))  # type: ignore[arg-type]
    return Discovery(region=region, models=models, problems=problems)


def find_discovered(discovery: Discovery, ident: str) -> DiscoveredModel:
    """The discovered model with this id (`bedrock/` or `sagemaker/` may be left out)."""
    for model in discovery.models:
        if ident in (model.id, model.id.split("/", 1)[1]):
            return model
    service = service_of(ident)
    for problem in discovery.problems:
        if service in (None, problem.service):
            raise NotFound(
                f"{ident!r} was not found: {problem.service} could not be listed "
                f"({problem.code}: {problem.message})",
                hint=problem.hint,
            )
    known = ", ".join(m.id for m in discovery.models[:10]) or "none"
    raise NotFound(
        f"no discovered model {ident!r} in {discovery.region or 'the default region'}",
        hint=f"Run `arbiter models discover` to list them (first ones: {known}).",
    )


def service_of(ident: str) -> Service | None:
    """Which service an id names by its prefix, or None when it has none."""
    prefix = ident.split("/", 1)[0]
    return prefix if prefix in ("bedrock", "sagemaker") else None  # type: ignore[return-value]


def variant_from_discovered(
    model: DiscoveredModel,
    target: AwsTarget,
    *,
    name: str | None = None,
    adapter: AdapterName | None = None,
    prompt_template: TemplateName | None = None,
) -> Variant:
    """A variant calling the discovered model where it was found (region, profile and
    endpoint URL of the discovery). A SageMaker model whose adapter is unknown needs one."""
    description = f"{model.name} ({model.provider}, {model.region}), discovered"
    if model.kind.startswith("bedrock"):
        spec: BedrockModel | SageMakerModel = BedrockModel(
            model_id=model.id.split("/", 1)[1],
            region=model.region,
            profile=target.profile,
            endpoint_url=target.endpoint_url,
            streaming=model.streaming is not False,
        )
    else:
        chosen = adapter or model.adapter
        if chosen is None:
            raise InvalidRequest(
                f"{model.id}: {ADAPTER_UNKNOWN} (image {model.image or 'unknown'})",
                hint=f"Name the payload the container takes: one of {', '.join(ADAPTERS)} "
                "(`--adapter`, or `adapter` in the request).",
                code=ErrorCode.ADAPTER_UNKNOWN,
            )
        endpoint, _, component = model.id.split("/", 1)[1].partition("/")
        spec = SageMakerModel(
            endpoint_name=endpoint,
            inference_component=component or None,
            adapter=chosen,
            streaming=chosen != "jumpstart",
            prompt_template=prompt_template or model.prompt_template or "chatml",
            region=model.region,
            profile=target.profile,
            endpoint_url=target.endpoint_url,
        )
    try:
        return Variant(name=name or model.suggested_name, description=description, model=spec)
    except ValueError as exc:  # pydantic: the name given is not a valid variant name
        raise InvalidRequest(
            f"{name!r} is not a valid variant name",
            hint="Use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        ) from exc


def discovered_variant(
    target: AwsTarget,
    ident: str,
    *,
    name: str | None = None,
    adapter: AdapterName | None = None,
    prompt_template: TemplateName | None = None,
) -> Variant:
    """Look for the model `ident` names (in its service only) and make its variant."""
    service = service_of(ident)
    discovery = discover(
        target, bedrock=service in (None, "bedrock"), sagemaker=service in (None, "sagemaker")
    )
    return variant_from_discovered(
        find_discovered(discovery, ident),
        target,
        name=name,
        adapter=adapter,
        prompt_template=prompt_template,
    )
