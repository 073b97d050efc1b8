"""Cost per answer from a checked-in price table (USD per 1k tokens), overridable."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from service.config import DEFAULTS
from service.errors import ConfigError
from service.models.variants import BedrockModel, LocalModel, Price, Variant

_BUNDLED = DEFAULTS / "prices.toml"
# Bedrock batch inference is billed at 50% of the on-demand token price (Amazon Bedrock
# pricing, "Batch"): derived from the on-demand table, unless a [bedrock-batch] table in a
# prices file names the model.
BATCH_PRICE_FACTOR = 0.5
BATCH_TABLE = "bedrock-batch"
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "ca.", "jp.", "au.")


def _load(path: Path) -> dict[str, dict[str, Price]]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return {
            provider: {model: Price.model_validate(p) for model, p in models.items()}
            for provider, models in raw.items()
        }
    except (OSError, tomllib.TOMLDecodeError, ValidationError, AttributeError) as exc:
        raise ConfigError(
            f"price table {path} is invalid: {exc}",
            hint='Each entry is `"model-id" = { input_per_1k = ..., output_per_1k = ... }` '
            "under a [provider] table.",
        ) from None


@dataclass
class PriceTable:
    prices: dict[str, dict[str, Price]] = field(default_factory=dict)

    @classmethod
    def load(cls, override: Path | None = None) -> PriceTable:
        prices = _load(_BUNDLED)
        if override is not None:
            for provider, models in _load(override).items():
                prices.setdefault(provider, {}).update(models)
        return cls(prices)

    def price_for(self, variant: Variant) -> Price | None:
        if variant.price is not None:
            return variant.price
        table = self.prices.get(variant.provider, {})
        model = variant.model
        if isinstance(model, BedrockModel):
            model_id = model.model_id
            for prefix in _PROFILE_PREFIXES:
                if model_id.startswith(prefix):
                    model_id = model_id[len(prefix) :]
                    break
            return table.get(model.model_id) or table.get(model_id)
        if isinstance(model, LocalModel):
            return table.get(model.path or "") or table.get("*")
        return table.get(variant.model_label) or table.get("*")

    def cost(self, variant: Variant, tokens_in: int | None, tokens_out: int | None) -> float | None:
        return _cost(self.price_for(variant), tokens_in, tokens_out)

    def batch_price_for(self, variant: Variant) -> Price | None:
        """The Bedrock batch inference price: a [bedrock-batch] entry for the model, else
        BATCH_PRICE_FACTOR x the on-demand price (the variant's own, or the table's)."""
        model = variant.model
        if isinstance(model, BedrockModel) and variant.price is None:
            listed = self.prices.get(BATCH_TABLE, {})
            base_id = model.model_id
            for prefix in _PROFILE_PREFIXES:
                base_id = base_id.removeprefix(prefix)
            found = listed.get(model.model_id) or listed.get(base_id)
            if found is not None:
                return found
        price = self.price_for(variant)
        if price is None:
            return None
        return Price(
            input_per_1k=price.input_per_1k * BATCH_PRICE_FACTOR,
            output_per_1k=price.output_per_1k * BATCH_PRICE_FACTOR,
        )

    def batch_cost(
        self, variant: Variant, tokens_in: int | None, tokens_out: int | None
    ) -> float | None:
        return _cost(self.batch_price_for(variant), tokens_in, tokens_out)


def _cost(price: Price | None, tokens_in: int | None, tokens_out: int | None) -> float | None:
    if price is None or tokens_in is None or tokens_out is None:
        return None
    return round(
        tokens_in / 1000 * price.input_per_1k + tokens_out / 1000 * price.output_per_1k, 10
    )
