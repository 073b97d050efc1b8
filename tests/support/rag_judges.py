"""Helpers shared by the rag_judges tests of several kinds."""

from __future__ import annotations

CONTEXT = ("Lumen Bikes accepts returns of unused bicycles within 45 days of delivery.",)
