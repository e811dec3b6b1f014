"""The Gradio web UI for `rag`: `from ui.app import build_app, serve`."""

import os as _os

# Gradio reads this when it is first imported; rag sets it too, but the UI package may be
# imported before rag (e.g. `python -m ui...`), so it is set here as well.
_os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
