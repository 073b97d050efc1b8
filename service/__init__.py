"""Arbiter core: configuration, providers, store, compare engine, HTTP API and CLI. Owns the wiring."""
