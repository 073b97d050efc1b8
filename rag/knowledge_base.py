"""Amazon Bedrock Knowledge Bases as a collection's retriever: the `Retrieve` API through
langchain-aws' `AmazonKnowledgeBasesRetriever`, on a client the caller builds."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class KnowledgeBaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    knowledge_base_id: str = Field(pattern=r"^[0-9A-Za-z]{10}$", description="e.g. ABCDE12345")
    region: str | None = None
    endpoint_url: str | None = None
    search_type: str | None = Field(
        default=None, description="HYBRID or SEMANTIC; default: the knowledge base's own."
    )
    retrieval_filter: dict[str, Any] | None = Field(
        default=None, description="A Knowledge Bases metadata filter, passed through as is."
    )


def kb_ref(knowledge_base_id: str, location: str, text: str) -> str:
    digest = hashlib.sha256(f"{location}\n{text}".encode()).hexdigest()[:16]
    return f"kb:{knowledge_base_id}:{digest}"


def retrieve_from_knowledge_base(
    spec: KnowledgeBaseSpec, client: Any, query: str, top_k: int
) -> list[dict[str, Any]]:
    """The top results as plain dicts: text, location, score, metadata."""
    # lazy: langchain-aws is slow to import and only Knowledge Base collections need it
    from langchain_aws.retrievers import AmazonKnowledgeBasesRetriever

    vector_config: dict[str, Any] = {"numberOfResults": top_k}
    if spec.search_type:
        vector_config["overrideSearchType"] = spec.search_type
    if spec.retrieval_filter:
        vector_config["filter"] = spec.retrieval_filter
    retriever = AmazonKnowledgeBasesRetriever(
        knowledge_base_id=spec.knowledge_base_id,
        retrieval_config={"vectorSearchConfiguration": vector_config},
        client=client,
        min_score_confidence=None,
    )
    results = []
    for doc in retriever.invoke(query):
        meta = dict(doc.metadata)
        location = meta.get("location") or {}
        uri = ""
        if isinstance(location, dict):
            for value in location.values():
                if isinstance(value, dict):
                    uri = str(value.get("uri") or value.get("url") or uri)
        results.append(
            {
                "text": doc.page_content,
                "source": uri or meta.get("source") or spec.knowledge_base_id,
                "score": float(meta.get("score") or 0.0),
                "metadata": meta.get("source_metadata") or {},
            }
        )
    return results
