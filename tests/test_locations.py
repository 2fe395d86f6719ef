"""Where the defaults point (#9): ./documents, else the checkout, else the bundled plans with a user-cache index."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from rag import Settings, locations
from rag.cli import _note_bundled
from rag.evaluation import DEFAULT_SET
from rag.eval_slices import UNSEEN_DIR

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("POLICY_RAG_DOCUMENTS_DIR", "POLICY_RAG_INDEX_DIR", "POLICY_RAG_PROMPTS_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_a_local_documents_folder_is_used_with_a_local_index(tmp_path, monkeypatch, clean_env):
    (tmp_path / "documents").mkdir()
    monkeypatch.chdir(tmp_path)
    s = Settings.load()
    assert s.documents_dir == tmp_path.resolve() / "documents"
    assert s.index_dir == tmp_path.resolve() / "indexes" / "default"
    assert not s.uses_bundled_samples


def test_a_checkout_keeps_its_own_folders_from_anywhere(tmp_path, monkeypatch, clean_env):
    monkeypatch.chdir(tmp_path)  # no documents/ here
    s = Settings.load()
    assert locations.is_checkout()
    assert (s.documents_dir, s.index_dir, s.prompts_dir) == (REPO / "documents", REPO / "indexes" / "default",
                                                             REPO / "prompts")
    # The eval sets are the checkout's too.
    assert DEFAULT_SET == REPO / "eval" / "set.jsonl" and UNSEEN_DIR == REPO / "eval" / "unseen"


def test_an_install_without_documents_uses_the_bundled_plans_and_the_user_cache(tmp_path, monkeypatch, clean_env):
    monkeypatch.setattr(locations, "is_checkout", lambda: False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    where = locations.default_locations()
    assert where.bundled and where.documents_dir == locations.BUNDLED_DIR / "documents"
    assert where.index_dir == tmp_path / "cache" / "policy-rag" / "indexes" / "default"
    s = Settings.load()
    assert s.uses_bundled_samples and s.prompts_dir == locations.BUNDLED_DIR / "prompts"
    assert s.index_dir == where.index_dir  # never inside site-packages


def test_flags_and_variables_still_win(tmp_path, monkeypatch, clean_env):
    monkeypatch.setattr(locations, "is_checkout", lambda: False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POLICY_RAG_DOCUMENTS_DIR", str(tmp_path / "mine"))
    s = Settings.load(index_dir=tmp_path / "idx")
    assert (s.documents_dir, s.index_dir) == (tmp_path / "mine", tmp_path / "idx")
    assert not s.uses_bundled_samples


def test_the_bundled_plans_are_said_on_stderr_once_per_command(tmp_path, capsys):
    s = Settings.load(documents_dir=locations.BUNDLED_DIR / "documents", index_dir=tmp_path / "idx")
    _note_bundled(s)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bundled sample plans" in err and str(tmp_path / "idx") in err
    _note_bundled(Settings.load(documents_dir=tmp_path / "documents", index_dir=tmp_path / "idx"))
    assert capsys.readouterr().err == ""


def test_the_ui_refuses_to_change_the_bundled_plans(tmp_path):
    pytest.importorskip("gradio")
    from rag.ui.callbacks import read_only_reason, upload_bytes

    bundled = SimpleNamespace(settings=Settings.load(documents_dir=locations.BUNDLED_DIR / "documents",
                                                     index_dir=tmp_path / "idx"))
    ok, msg = upload_bytes(bundled, "x.txt", "2025年丽水市科技工作要点".encode())  # never reaches add_document
    assert not ok and "documents/" in msg and msg == read_only_reason(bundled)
    local = SimpleNamespace(settings=Settings.load(documents_dir=tmp_path / "documents", index_dir=tmp_path / "i"))
    assert read_only_reason(local) is None


def test_a_home_documents_folder_is_not_a_folder_of_plans(tmp_path, monkeypatch, clean_env):
    """~/Documents (macOS, case-insensitive disk) must not pass for documents/."""
    (tmp_path / "Documents").mkdir()
    monkeypatch.setattr(locations, "is_checkout", lambda: False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert locations.default_locations(tmp_path).bundled
