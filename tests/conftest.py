"""Shared fixtures: the real documents, the real default model, one index built once per test session.

Tests that change documents get their own copy of the documents and of the built index
(`workspace`), so the incremental rebuild only embeds what they add.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag import Assistant, Settings

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = REPO / "documents"


@dataclass
class Workspace:
    documents_dir: Path
    index_dir: Path

    @property
    def settings(self) -> Settings:
        return Settings.load(documents_dir=self.documents_dir, index_dir=self.index_dir)


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Workspace:
    """Documents copied to a tmp dir and indexed once with the default embedder (~35 s on 2 cores)."""
    base = tmp_path_factory.mktemp("built")
    ws = Workspace(base / "documents", base / "indexes" / "default")
    shutil.copytree(DOCUMENTS, ws.documents_dir)
    Assistant.from_settings(ws.settings)
    return ws


@pytest.fixture(scope="session")
def assistant(built) -> Assistant:
    """A read-only assistant over the session index. Don't add or remove documents through it."""
    return Assistant.from_settings(built.settings)


def copy_workspace(built: Workspace, dest: Path) -> Workspace:
    ws = Workspace(dest / "documents", dest / "indexes" / "default")
    shutil.copytree(built.documents_dir, ws.documents_dir)
    shutil.copytree(built.index_dir, ws.index_dir)
    return ws


def assistant_with(built: Workspace, dest: Path, files: dict[str, str]) -> Assistant:
    """An Assistant over a copy of the built workspace with these documents (file name -> text) added."""
    ws = copy_workspace(built, dest)
    for name, text in files.items():
        (ws.documents_dir / name).write_text(text, encoding="utf-8")
    return Assistant.from_settings(ws.settings)


@pytest.fixture
def workspace(built, tmp_path) -> Workspace:
    """A private copy of documents + built index, for tests that change them."""
    return copy_workspace(built, tmp_path)
