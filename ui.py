"""Launcher kept for `python ui.py` from a checkout; the app lives in the package (`rag.ui`, also `rag ui`)."""

import sys

from rag.ui import main

if __name__ == "__main__":
    sys.exit(main())
