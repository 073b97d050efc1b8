"""Automatic evaluation: metrics, LLM judges, batch runs and reports. Imports nothing from the other top-level packages."""
