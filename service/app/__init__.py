"""The running service: settings wired into a `Runtime` (bootstrap), the background work
beside the requests (lifespan), logging and telemetry sinks."""

from service.app.bootstrap import build_runtime
from service.app.lifespan import running, tuning_poller
from service.app.logs import configure_logging, mark_logged
from service.app.runtime import Runtime
from service.app.telemetry import cloudwatch_client
from service.app.variants import create_variant

__all__ = [
    "Runtime",
    "build_runtime",
    "cloudwatch_client",
    "configure_logging",
    "create_variant",
    "mark_logged",
    "running",
    "tuning_poller",
]
