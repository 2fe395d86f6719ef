"""Where policy-rag finds its files: a repository checkout, an installed wheel, and the user's working folder.

The sample plans (documents/), the LLM prompts (prompts/) and the eval sets (eval/) live at the top of the
repository. A wheel carries the same files as package data under `rag/_bundled/` (pyproject.toml maps the
top-level folders there at build time, so the repository keeps one copy). `data_root()` is whichever of the
two this copy of the code has.

The documents and index the commands use by default depend on the folder they run in (`default_locations`):

1. the current folder has a documents/ folder: it, and ./indexes/default;
2. the code runs from a repository checkout: the checkout's documents/ and indexes/default (as always);
3. otherwise: the bundled sample plans, and an index in the user's cache folder (never inside site-packages,
   which may be read-only and is replaced on upgrade).

Settings flags, POLICY_RAG_* variables and settings files override each of these.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PACKAGE_DIR", "REPO_ROOT", "BUNDLED_DIR", "APP_NAME", "DefaultLocations", "is_checkout", "data_root",
           "report_root", "sample_documents_dir", "prompts_dir", "eval_dir", "user_cache_dir", "default_locations",
           "uses_bundled_samples", "bundled_samples_note"]

APP_NAME = "policy-rag"
PACKAGE_DIR = Path(__file__).resolve().parent
# The repository root when this is a checkout (site-packages when installed from a wheel).
REPO_ROOT = PACKAGE_DIR.parent
# Where a wheel keeps documents/, prompts/ and eval/ (absent in a checkout and in an editable install).
BUNDLED_DIR = PACKAGE_DIR / "_bundled"


@dataclass(frozen=True)
class DefaultLocations:
    """The default documents and index folders for one working folder, and whether they are the bundled plans."""

    documents_dir: Path
    index_dir: Path
    bundled: bool


def is_checkout() -> bool:
    """True when the code runs from the repository (a plain checkout or `pip install -e .`)."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "documents").is_dir()


def data_root() -> Path:
    """The folder holding the shipped documents/, prompts/ and eval/: the checkout, else the wheel's copy."""
    return REPO_ROOT if is_checkout() else BUNDLED_DIR


def report_root() -> Path:
    """The folder that paths in eval reports and reproduce commands are relative to: the checkout (where
    `make eval` runs), else the working folder."""
    return REPO_ROOT if is_checkout() else Path.cwd().resolve()


def sample_documents_dir() -> Path:
    return data_root() / "documents"


def prompts_dir() -> Path:
    return data_root() / "prompts"


def eval_dir() -> Path:
    return data_root() / "eval"


def user_cache_dir() -> Path:
    """The per-user cache folder for indexes of the bundled plans (~/.cache/policy-rag on Linux)."""
    # Imported here: only installs that run without a local documents/ folder need it.
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME, appauthor=False)


def _has_documents_folder(folder: Path) -> bool:
    """A folder named exactly `documents`: on a case-insensitive disk (macOS) the home folder's `Documents`
    would otherwise pass for a folder of plans."""
    try:
        return (folder / "documents").is_dir() and "documents" in os.listdir(folder)
    except OSError:
        return False


def default_locations(cwd: Path | None = None) -> DefaultLocations:
    """The documents and index folders used when no flag, variable or settings file names them."""
    try:
        here: Path | None = Path.cwd() if cwd is None else Path(cwd)
    except FileNotFoundError:  # the working folder was deleted under us: it has no documents/ either
        here = None
    if here is not None and _has_documents_folder(here):
        here = here.resolve()
        return DefaultLocations(here / "documents", here / "indexes" / "default", bundled=False)
    if is_checkout():
        return DefaultLocations(REPO_ROOT / "documents", REPO_ROOT / "indexes" / "default", bundled=False)
    return DefaultLocations(sample_documents_dir(), user_cache_dir() / "indexes" / "default", bundled=True)


def uses_bundled_samples(documents_dir: Path) -> bool:
    """True when `documents_dir` is the wheel's copy of the sample plans (read-only: uploads are refused)."""
    try:
        return Path(documents_dir).resolve() == (BUNDLED_DIR / "documents").resolve()
    except OSError:
        return False


def bundled_samples_note(index_dir: Path) -> str:
    """The one line the commands print on stderr when they fall back to the bundled sample plans."""
    return (f"note: no documents/ folder here, so the five bundled sample plans are used (index: {index_dir}); "
            "to ask about your own plans, run in a folder that has a documents/ folder or pass --documents-dir")
