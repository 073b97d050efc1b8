"""The Gradio page, mounted into the FastAPI app by `service`."""

from ui.app import build_ui, mount_ui

__all__ = ["build_ui", "mount_ui"]
