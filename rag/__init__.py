"""Retrieval-augmented generation: ingest, chunk, embed, index, retrieve. Imports nothing from the other top-level packages."""
