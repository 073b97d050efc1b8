"""The Gradio page, mounted into the FastAPI app by `service`."""
