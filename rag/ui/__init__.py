"""The Gradio web UI (`rag ui`): needs the `ui` extra (`pip install 'policy-rag[ui]'`).

    rag.ui.labels     every word the UI shows (zh/en)
    rag.ui.render     HTML for answers, citations and status lines, always escaped (no Gradio import)
    rag.ui.plain      answers as plain text (Copy) and the chat as Markdown (Export)
    rag.ui.preview    the Documents tab's document preview, its metadata spans highlighted
    rag.ui.streaming  LLM answers streamed below the extractive one, and stopped
    rag.ui.assets     the page's CSS and the Copy button's JavaScript
    rag.ui.callbacks  the chat and Documents tab callbacks (imports Gradio); rag.ui.eval_tab the Eval tab's
    rag.ui.app        the Gradio app and `main` (imports Gradio)

Importing this package does not import Gradio, so `rag.ui.render` works without it; `main` imports the app.
"""

from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """`rag ui` / `python ui.py`: parse the UI's arguments, load the assistant and serve the app."""
    from .app import main as app_main

    return app_main(argv)
