from pathlib import Path

import pytest

from service.errors import ConfigError
from service.models.pricing import PriceTable
from service.models.variants import BedrockModel, Variant, load_variants
from service.schemas import GenerationParams


def test_bundled_defaults_are_local_with_a_rag_off_baseline() -> None:
    variants = load_variants(Path("service/defaults/variants.toml"))
    assert [v.name for v in variants] == [
        "smollm2-concise",
        "smollm2-creative",
        "smollm2-concise-no-docs",
    ]
    assert {v.provider for v in variants} == {"local"}
    assert [v.rag.use_context for v in variants] == [True, True, False]


def test_rag_template_must_have_both_placeholders(tmp_path: Path) -> None:
    path = tmp_path / "v.toml"
    path.write_text(
        '[[variants]]\nname = "x"\n[variants.model]\nprovider = "local"\n'
        '[variants.rag]\ntemplate = "Context: {context}"\n'
    )
    with pytest.raises(ConfigError) as err:
        load_variants(path)
    assert "variants.0.rag.template" in err.value.message
    assert "{question}" in err.value.message


def test_example_file_is_valid() -> None:
    variants = load_variants(Path("examples/variants.toml"))
    assert {v.provider for v in variants} == {"local", "bedrock", "sagemaker", "openai"}


def test_typo_in_params_is_an_error_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "v.toml"
    path.write_text(
        '[[variants]]\nname="a"\n[variants.model]\nprovider="local"\n[variants.params]\ntemprature=0.5\n'
    )
    with pytest.raises(ConfigError) as exc:
        load_variants(path)
    assert "variants.0.params.temprature" in exc.value.message
    assert "Extra inputs are not permitted" in exc.value.message
    assert "examples/variants.toml" in exc.value.hint


def test_malformed_toml_reports_position(tmp_path: Path) -> None:
    path = tmp_path / "v.toml"
    path.write_text("[[variants]\nname=")
    with pytest.raises(ConfigError) as exc:
        load_variants(path)
    assert "is not valid TOML" in exc.value.message
    assert "line 1" in exc.value.message


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_variants(tmp_path / "nope.toml")
    assert "does not exist" in exc.value.message
    assert "ARBITER_VARIANTS_FILE" in exc.value.hint


def test_duplicate_names_and_unknown_provider(tmp_path: Path) -> None:
    path = tmp_path / "v.yaml"
    path.write_text(
        "variants:\n"
        "  - {name: a, model: {provider: local}}\n"
        "  - {name: a, model: {provider: local}}\n"
    )
    with pytest.raises(ConfigError, match="declared twice"):
        load_variants(path)
    path.write_text("variants:\n  - {name: a, model: {provider: azure}}\n")
    with pytest.raises(ConfigError, match="provider"):
        load_variants(path)


def test_params_merge_keeps_base_and_applies_override() -> None:
    base = GenerationParams(temperature=0.2, max_tokens=100)
    merged = base.merged(GenerationParams(temperature=0.9))
    assert merged.temperature == 0.9
    assert merged.max_tokens == 100


def test_price_table_handles_profiles_and_overrides(tmp_path: Path) -> None:
    table = PriceTable.load()
    v = Variant(name="h", model=BedrockModel(model_id="us.anthropic.claude-3-haiku-20240307-v1:0"))
    assert table.cost(v, 1000, 1000) == pytest.approx(0.00025 + 0.00125)
    override = tmp_path / "p.toml"
    override.write_text(
        '[bedrock]\n"anthropic.claude-3-haiku-20240307-v1:0" = { input_per_1k = 1.0, output_per_1k = 2.0 }\n'
    )
    assert PriceTable.load(override).cost(v, 500, 250) == pytest.approx(1.0)
    unknown = Variant(name="u", model=BedrockModel(model_id="acme.unknown-v1"))
    assert table.cost(unknown, 10, 10) is None
