"""Adding a variant to a variants file, the file's other contents kept. Anything that makes
variants for the file (discovered models, tuned models) goes through `append_variant`.

TOML is edited with tomlkit, which keeps comments and layout; YAML is read and written
again (PyYAML keeps no comments: the file says so in the command's output). The new file is
checked as `load_variants` would read it (duplicate names, unknown keys, key variables)
before it replaces the old one, in one rename: a refused variant leaves the file as it was."""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomlkit
import yaml

from service.config import DEFAULTS
from service.errors import ConfigError, Conflict, ErrorCode
from service.models.variants import KeyEnvs, Variant, load_variants, parse_variants


def variant_table(variant: Variant) -> dict[str, Any]:
    """The variant as the file declares it: only what differs from the defaults, and the
    model's `provider` (which selects the model's kind)."""
    data = variant.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    data["model"] = {"provider": variant.model.provider, **data.get("model", {})}
    return data


def writable_file(configured: Path) -> Path:
    """Where a new variant goes: the configured variants file, or ./arbiter.toml when the
    configured one is the bundled default (which is part of the installed package)."""
    if configured.resolve().parent == DEFAULTS.resolve():
        return Path("arbiter.toml")
    return configured


def append_variant(
    path: Path, variant: Variant, *, key_envs: KeyEnvs | None = None, seed: Path | None = None
) -> Path:
    """Add `variant` to the variants file at `path` and return the path. A file that does
    not exist yet starts as a copy of `seed` (the variants in use until now, so that
    creating ./arbiter.toml does not drop them), else empty. `Conflict` when the name is
    taken; `ConfigError` when the file cannot be read or the result would not load."""
    source = path if path.exists() else seed
    names = {v.name for v in load_variants(source, key_envs=key_envs)} if source else set()
    if variant.name in names:
        raise Conflict(
            f"a variant named {variant.name!r} already exists in {source}",
            hint="Pick another name (--name).",
        )
    text = source.read_text(encoding="utf-8") if source else ""
    table = variant_table(variant)
    if path.suffix in {".yaml", ".yml"}:
        data = yaml.safe_load(text) or {} if text else {}
        data.setdefault("variants", []).append(table)
        new_text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        parsed: Any = data
    else:
        document = tomlkit.parse(text)
        variants = document.get("variants")
        if variants is None:
            variants = tomlkit.aot()
            document.append("variants", variants)
        elif not isinstance(variants, tomlkit.items.AoT):
            raise ConfigError(
                f"{source}: `variants` is not an array of tables ([[variants]])",
                hint="Write each variant as a [[variants]] table, as examples/variants.toml does.",
                code=ErrorCode.INVALID_CONFIG,
            )
        variants.append(tomlkit.item(table))
        new_text = tomlkit.dumps(document)
        parsed = tomllib.loads(new_text)
    parse_variants(parsed, source=str(path), key_envs=key_envs)
    _replace(path, new_text)
    return path


def _replace(path: Path, text: str) -> None:
    """Write the whole file under another name in the same folder, then rename it over the
    old one: a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
