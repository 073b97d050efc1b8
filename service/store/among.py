"""Conditions over a bounded set of values that one request names (a batch's turns, keys,
raters): on PostgreSQL each set is one array parameter, not one parameter per value. psycopg
parses a statement longer than its cache's limit anew on every execution, so a statement
with a placeholder per value (`IN (%(id_1)s, ...)`) costs more the more values it names;
SQLite takes the IN list as it is."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import String, any_, literal
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement


def array_of(values: list[str]) -> Any:
    """PostgreSQL: the values as one bound array, which the planner sees (a text cast to an
    array it does not, and its estimates then chose a sequential scan over an index)."""
    return literal(values, ARRAY(String))


def among(s: Session, column: Any, values: Collection[str]) -> ColumnElement[bool]:
    """`column IN values`."""
    if s.get_bind().dialect.name == "postgresql":
        return column == any_(array_of(list(values)))
    return column.in_(values)
