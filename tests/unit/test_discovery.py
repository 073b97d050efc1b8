"""Which payload adapter a SageMaker container image speaks, variant names made from ids, and
a variant added to a variants file (real files: TOML keeps its comments, a refusal leaves the
file as it was)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml

from service.config import DEFAULTS
from service.errors import ArbiterError
from service.models.discovery import (
    ADAPTER_UNKNOWN,
    Container,
    infer_adapter,
    infer_template,
    variant_name,
)
from service.models.providers.sagemaker_adapters import make_adapter
from service.models.variants import (
    BedrockModel,
    OpenAIModel,
    SageMakerModel,
    Variant,
    load_variants,
)
from service.models.variants_file import append_variant, variant_table, writable_file

ECR = "763104351884.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("image", "model_data", "adapter"),
    [
        (
            f"{ECR}/huggingface-pytorch-tgi-inference:2.4.0-tgi2.3.1-gpu-py311-cu124-ubuntu22.04",
            None,
            "tgi",
        ),
        (
            f"{ECR}/huggingface-pytorch-tgi-inference:2.1.2-optimum0.0.27-neuronx-py310-ubuntu22.04",
            None,
            "tgi",
        ),
        ("ghcr.io/huggingface/text-generation-inference:3.0.1", None, "tgi"),
        (f"{ECR}/djl-inference:0.31.0-lmi13.0.0-cu124", None, "messages"),
        (f"{ECR}/djl-inference:0.29.0-tensorrtllm0.11.0-cu124", None, "messages"),
        (f"{ECR}/vllm:0.8.5-gpu-py312-ec2", None, "messages"),
        (f"{ECR}/djl-inference@sha256:0123abcd", None, "messages"),
        (
            f"{ECR}/huggingface-pytorch-inference:1.13.1-transformers4.26.0-gpu-py39-cu117-ubuntu20.04",
            "s3://jumpstart-cache-prod-us-east-1/huggingface-text2text/flan-t5-xl/artifacts.tar.gz",
            "jumpstart",
        ),
        # A JumpStart model served by TGI takes TGI's payload.
        (
            f"{ECR}/huggingface-pytorch-tgi-inference:2.0.1-tgi1.1.0-gpu-py39-cu118-ubuntu20.04",
            "s3://jumpstart-cache-prod-us-east-1/meta-textgeneration/llama-2-7b/model.tar.gz",
            "tgi",
        ),
        # Embeddings (TEI) and images of one's own: not a text generation adapter the
        # project has.
        (f"{ECR}/tei:2.0.1-tei1.2.3-gpu-py310-cu122-ubuntu22.04", None, None),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/our-server:latest", None, None),
        (None, None, None),
    ],
)
def test_adapter_from_image(image: str | None, model_data: str | None, adapter: str | None) -> None:
    chosen, why = infer_adapter(Container(image=image, environment={}, model_data=model_data))
    assert chosen == adapter, why
    if adapter is None:
        assert why.startswith(ADAPTER_UNKNOWN)
    else:
        make_adapter(adapter, "chatml")  # a name the SageMaker provider knows


def test_prompt_template_from_the_model_id() -> None:
    llama = Container(
        image="x", environment={"HF_MODEL_ID": "meta-llama/Meta-Llama-3.1-8B-Instruct"}
    )
    assert infer_template(llama, "tgi") == "llama3"
    assert infer_template(Container(image="x", environment={}), "tgi") == "chatml"
    assert infer_template(llama, "messages") is None  # the container applies its own template


@pytest.mark.parametrize(
    ("ident", "name"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-3-haiku-20240307-v1-0"),
        ("my endpoint/ic 1", "my-endpoint-ic-1"),
        ("-x-", "x"),
        ("a" * 80, "a" * 64),
        ("::", "model"),
    ],
)
def test_variant_names_are_valid(ident: str, name: str) -> None:
    assert variant_name(ident) == name
    Variant(name=variant_name(ident), model=BedrockModel(model_id="m"))


def bedrock_variant(name: str = "haiku") -> Variant:
    return Variant(
        name=name,
        description="discovered",
        model=BedrockModel(model_id="anthropic.claude-3-haiku-20240307-v1:0", region="eu-west-3"),
    )


def test_the_table_written_holds_what_differs_from_the_defaults() -> None:
    table = variant_table(bedrock_variant())
    assert table == {
        "name": "haiku",
        "description": "discovered",
        "model": {
            "provider": "bedrock",
            "model_id": "anthropic.claude-3-haiku-20240307-v1:0",
            "region": "eu-west-3",
        },
    }
    sm = Variant(
        name="s", model=SageMakerModel(endpoint_name="ep", adapter="tgi", inference_component="ic")
    )
    assert variant_table(sm)["model"] == {
        "provider": "sagemaker",
        "endpoint_name": "ep",
        "inference_component": "ic",
        "adapter": "tgi",
    }


def test_toml_keeps_comments_and_the_other_variants(tmp_path: Path) -> None:
    path = tmp_path / "arbiter.toml"
    path.write_text(
        '# our team\'s variants\n\n[[variants]]\nname = "local"  # the bundled model\n'
        '[variants.model]\nprovider = "local"\n'
    )
    append_variant(path, bedrock_variant())
    text = path.read_text()
    assert "# our team's variants" in text and "# the bundled model" in text
    loaded = load_variants(path)
    assert [v.name for v in loaded] == ["local", "haiku"]
    assert loaded[1] == bedrock_variant()


def test_yaml_files_take_a_variant_too(tmp_path: Path) -> None:
    path = tmp_path / "variants.yaml"
    path.write_text("variants:\n  - name: local\n    model: {provider: local}\n")
    append_variant(path, bedrock_variant())
    assert [v["name"] for v in yaml.safe_load(path.read_text())["variants"]] == ["local", "haiku"]
    assert load_variants(path)[1] == bedrock_variant()


def test_refusals_leave_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "arbiter.toml"
    append_variant(path, bedrock_variant())
    before = path.read_bytes()
    with pytest.raises(ArbiterError) as taken:
        append_variant(path, bedrock_variant())
    assert taken.value.code == "conflict" and "--name" in taken.value.hint
    leaky = Variant(
        name="leaky",
        model=OpenAIModel(base_url="http://x/v1", model="m", api_key_env="AWS_SECRET_ACCESS_KEY"),
    )
    with pytest.raises(ArbiterError) as refused:
        append_variant(path, leaky)
    assert refused.value.code == "key_env_not_allowed"
    inline = tmp_path / "inline.toml"
    inline.write_text('variants = [{name = "a", model = {provider = "local"}}]\n')
    with pytest.raises(ArbiterError) as shape:
        append_variant(inline, bedrock_variant())
    assert "[[variants]]" in shape.value.hint
    assert path.read_bytes() == before
    assert inline.read_text() == 'variants = [{name = "a", model = {provider = "local"}}]\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "arbiter.toml",
        "inline.toml",
    ]  # no temp files


def test_a_new_file_starts_from_the_variants_in_use(tmp_path: Path) -> None:
    bundled = DEFAULTS / "variants.toml"
    target = writable_file(bundled)
    assert target == Path("arbiter.toml")  # never the installed package's own file
    assert writable_file(tmp_path / "mine.toml") == tmp_path / "mine.toml"
    path = tmp_path / target
    append_variant(path, bedrock_variant(), seed=bundled)
    names = [v["name"] for v in tomllib.loads(path.read_text())["variants"]]
    assert names == [v.name for v in load_variants(bundled)] + ["haiku"]
