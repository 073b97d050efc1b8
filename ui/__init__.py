"""The Gradio pages (`ui.app.mount_ui` mounts them into the FastAPI app); `ui.conversation`
holds a board's state without Gradio."""
