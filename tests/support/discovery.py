"""A Bedrock catalogue on the fake AWS server and SageMaker endpoints on moto's server, for
the discovery tests (tests/integration/test_discovery.py, tests/e2e/test_discover.py)."""

from __future__ import annotations

import uuid

import boto3

from tests.fakes.aws_server import FakeAws, foundation_model, inference_component, inference_profile

REGION = "eu-west-3"  # moto's server is shared by the session: a region of our own
TGI = "763104351884.dkr.ecr.eu-west-3.amazonaws.com/huggingface-pytorch-tgi-inference:2.4.0-tgi2.3.1-gpu-py311-cu124-ubuntu22.04"
LMI = "763104351884.dkr.ecr.eu-west-3.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124"
CUSTOM = "123456789012.dkr.ecr.eu-west-3.amazonaws.com/our-own-server:1.0"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"


def bedrock_catalog(fake: FakeAws, region: str = REGION) -> None:
    d = fake.discovery
    d.foundation_models += [
        foundation_model(CLAUDE, "Anthropic", region=region, inputs=("TEXT", "IMAGE")),
        foundation_model("meta.llama3-8b-instruct-v1:0", "Meta", region=region, streaming=False),
        # left out: embeddings, images, a legacy model, one callable only through a profile
        foundation_model(
            "amazon.titan-embed-text-v2:0", "Amazon", region=region, outputs=("EMBEDDING",)
        ),
        foundation_model(
            "stability.sd3-large-v1:0", "Stability AI", region=region, outputs=("IMAGE",)
        ),
        foundation_model("anthropic.claude-v2:1", "Anthropic", region=region, lifecycle="LEGACY"),
        foundation_model(
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
            "Anthropic",
            region=region,
            inference=("INFERENCE_PROFILE",),
        ),
    ]
    d.inference_profiles += [
        inference_profile(
            "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
            (region, "eu-central-1"),
        ),
        inference_profile(f"eu.{CLAUDE}", CLAUDE, (region, "eu-west-1")),
        inference_profile("team-haiku", CLAUDE, (region,), kind="APPLICATION"),
        inference_profile(
            "eu.amazon.titan-embed-text-v2:0", "amazon.titan-embed-text-v2:0", (region,)
        ),
    ]
    d.page_size = 2  # the profiles come in two pages


def sagemaker_endpoints(moto_server: str, fake: FakeAws, region: str = REGION) -> str:
    """Three endpoints on moto (TGI model, unknown image, one hosting inference components)
    and two components on the fake. Returns a suffix making the names unique."""
    tag = uuid.uuid4().hex[:6]
    sm = boto3.client("sagemaker", region_name=region, endpoint_url=moto_server)
    role = "arn:aws:iam::123456789012:role/sagemaker"
    sm.create_model(
        ModelName=f"tgi-{tag}",
        ExecutionRoleArn=role,
        PrimaryContainer={
            "Image": TGI,
            "Environment": {"HF_MODEL_ID": "meta-llama/Meta-Llama-3-8B-Instruct"},
        },
    )
    sm.create_model(
        ModelName=f"own-{tag}", ExecutionRoleArn=role, PrimaryContainer={"Image": CUSTOM}
    )
    sm.create_model(ModelName=f"lmi-{tag}", ExecutionRoleArn=role, PrimaryContainer={"Image": LMI})
    for name, model in (
        (f"tgi-{tag}", f"tgi-{tag}"),
        (f"own-{tag}", f"own-{tag}"),
        (f"shared-{tag}", f"lmi-{tag}"),
    ):
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": model,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.g4dn.xlarge",
                }
            ],
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    fake.discovery.inference_components += [
        inference_component(f"chat-{tag}", f"shared-{tag}", region=region, model_name=f"lmi-{tag}"),
        inference_component(
            f"code-{tag}",
            f"shared-{tag}",
            region=region,
            image=TGI,
            environment={"HF_MODEL_ID": "Qwen/Qwen2.5-Coder-7B-Instruct"},
        ),
        inference_component(
            f"warming-{tag}", f"shared-{tag}", region=region, image=TGI, status="Creating"
        ),
    ]
    return tag
