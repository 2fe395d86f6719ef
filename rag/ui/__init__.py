"""The Gradio web UI (`rag ui`): needs the `ui` extra (`pip install 'policy-rag[ui]'`).

    rag.ui.render   HTML for answers, citations and status lines, always escaped (no Gradio import)
    rag.ui.app      the Gradio app, its callbacks and `main` (imports Gradio)

Importing this package does not import Gradio, so `rag.ui.render` works without it; `main` imports the app.
"""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """`rag ui` / `python ui.py`: parse the UI's arguments, load the assistant and serve the app."""
    from .app import main as app_main

    return app_main(argv)
