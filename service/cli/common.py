"""What the `arbiter` commands share: the consoles, tables, Arbiter errors printed as a
message and a hint, the configured store, and the progress bar of long commands."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from rich import table as rich_table
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from service.config import Settings
from service.errors import ArbiterError
from service.store import Store

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


class Table(rich_table.Table):
    """rich's table, whose cells fold onto more lines when the terminal is narrow instead of
    being cut to `…`: at 80 columns `smollm2-concise-no-docs` must stay readable whole."""

    def add_column(self, *args: Any, overflow: Any = "fold", **kwargs: Any) -> None:
        super().add_column(*args, overflow=overflow, **kwargs)


def friendly_errors(func: F) -> F:
    """Print Arbiter errors (and settings that fail validation) as a message and a hint,
    not a traceback, and exit 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ArbiterError as exc:
            err_console.print(
                f"[bold red]error[/] [dim]({exc.code})[/]: {exc.message}", highlight=False
            )
            if exc.hint:
                err_console.print(f"[yellow]how to fix[/]: {exc.hint}", highlight=False)
            raise typer.Exit(1) from None
        except ValidationError as exc:
            if exc.title != Settings.__name__:
                raise
            for error in exc.errors(include_url=False, include_input=False):
                field = "ARBITER_" + "_".join(str(p) for p in error["loc"]).upper()
                message = str(error["msg"]).removeprefix("Value error, ")
                err_console.print(
                    f"[bold red]error[/] [dim](invalid_config)[/]: {field}: {message}",
                    highlight=False,
                    soft_wrap=True,
                )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def open_store(settings: Settings) -> Iterator[Store]:
    """The configured store, migrated when ARBITER_AUTO_MIGRATE is on, disposed after."""
    if settings.resolved_database_url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.resolved_database_url)
    try:
        if settings.auto_migrate:
            store.upgrade()
        yield store
    finally:
        store.dispose()


def progress_bar(label: str) -> Progress:
    """A progress bar for long commands: done / total, time left, and a note."""
    return Progress(
        TextColumn(f"[bold]{label}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.description}"),
        console=console,
    )
