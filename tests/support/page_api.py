"""The page's events through Gradio's own HTTP API, as a browser (or an attacker) calls them:
sign in at `/login`, POST `/gradio_api/queue/join` with an event's `fn_index`, read its
messages from `/gradio_api/queue/data` (Server-Sent Events). Private events
(`api_visibility="private"`) are callable this way too, which is the point."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class EventResult:
    """What one event sent back: its warnings and infos, and its output frames."""

    logs: list[tuple[str, str]] = field(default_factory=list)  # (level, message)
    frames: list[list[Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def warnings(self) -> list[str]:
        return [m for level, m in self.logs if level == "warning"]

    @property
    def output(self) -> list[Any]:
        return self.frames[-1] if self.frames else []

    def text(self) -> str:
        return json.dumps([self.logs, self.frames, self.error], default=str)


class PageSession:
    """One browser session on the page: its cookies, its session hash."""

    def __init__(
        self,
        url: str,
        *,
        sign_in: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.http = httpx.Client(base_url=url, timeout=60, headers=headers or {})
        if sign_in is not None:
            name, password = sign_in
            r = self.http.post("/login", data={"username": name, "password": password})
            r.raise_for_status()
        config = self.http.get("/config")
        config.raise_for_status()
        self.config: dict[str, Any] = config.json()
        self.session_hash = secrets.token_hex(8)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PageSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- finding events ------------------------------------------------------------------

    def component(self, elem_id: str) -> dict[str, Any]:
        return next(
            c for c in self.config["components"] if c.get("props", {}).get("elem_id") == elem_id
        )

    def dependency(self, *, api_name: str | None = None, **match: Any) -> dict[str, Any]:
        """An event by its API name, or by other fields of its config entry."""
        for dep in self.config["dependencies"]:
            if api_name is not None and dep.get("api_name") != api_name:
                continue
            if all(dep.get(k) == v for k, v in match.items()):
                return dep
        raise LookupError(f"no event with {api_name=} {match}")

    def triggered_by(self, elem_id: str, event: str) -> dict[str, Any]:
        """The event a component's trigger (`click`, `select`, ...) runs."""
        target = self.component(elem_id)["id"]
        for dep in self.config["dependencies"]:
            if [target, event] in [list(t) for t in dep["targets"]]:
                return dep
        raise LookupError(f"no {event} event on #{elem_id}")

    # -- calling one ---------------------------------------------------------------------

    def call(self, dep: dict[str, Any], data: list[Any], *, event_data: Any = None) -> EventResult:
        """Run an event to its end: `data` holds one value per input of the event (states
        included: the server keeps their values and ignores what is sent)."""
        assert len(data) == len(dep["inputs"]), (len(data), len(dep["inputs"]))
        joined = self.http.post(
            "/gradio_api/queue/join",
            json={
                "data": data,
                "event_data": event_data,
                "fn_index": dep["id"],
                "trigger_id": dep["targets"][0][0] if dep["targets"] else None,
                "session_hash": self.session_hash,
            },
        )
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        result = EventResult()
        with self.http.stream(
            "GET", "/gradio_api/queue/data", params={"session_hash": self.session_hash}
        ) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") not in (None, event_id):
                    continue
                kind = message.get("msg")
                if kind == "log":
                    result.logs.append((message.get("level", "info"), message.get("log", "")))
                elif kind in ("process_generating", "process_completed"):
                    output = message.get("output") or {}
                    if output.get("data") is not None:
                        result.frames.append(output["data"])
                    if kind == "process_completed":
                        if not message.get("success", True):
                            result.error = str(output.get("error"))
                        break
                elif kind == "close_stream":
                    break
        return result
