import pytest

from rag import Settings, SettingsError


def test_env_and_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("POLICY_RAG_K", "7")
    monkeypatch.setenv("POLICY_RAG_LLM", "true")
    s = Settings.load()
    assert s.k == 7 and s.llm is True
    assert Settings.load(k=3).k == 3
    f = tmp_path / "s.json"
    f.write_text('{"k": 4, "chunk_size": 200}', encoding="utf-8")
    monkeypatch.delenv("POLICY_RAG_K")
    s = Settings.load(f)
    assert (s.k, s.chunk_size) == (4, 200)


def test_invalid_settings_are_explained(monkeypatch, tmp_path):
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings.from_dict({"kk": 1})
    monkeypatch.setenv("POLICY_RAG_K", "many")
    with pytest.raises(SettingsError, match="POLICY_RAG_K|k has an invalid value"):
        Settings.load()
    monkeypatch.delenv("POLICY_RAG_K")
    with pytest.raises(SettingsError):
        Settings.load(k=0)


def test_api_key_is_not_printed():
    s = Settings.load(llm_api_key="sk-secret")
    assert "sk-secret" not in repr(s) and "sk-secret" not in str(s.to_dict())


def test_upload_character_limit_is_a_setting(monkeypatch):
    assert Settings().max_upload_chars == 200_000
    monkeypatch.setenv("POLICY_RAG_MAX_UPLOAD_CHARS", "50000")
    assert Settings.load().max_upload_chars == 50_000
    with pytest.raises(SettingsError, match="max_upload_chars"):
        Settings.load(max_upload_chars=0)


def test_embedding_speed_settings(monkeypatch):
    s = Settings()
    assert (s.device, s.embed_batch_size, s.embed_workers) == ("auto", 32, 1)
    monkeypatch.setenv("POLICY_RAG_DEVICE", "CUDA:1")
    monkeypatch.setenv("POLICY_RAG_EMBED_WORKERS", "2")
    monkeypatch.setenv("POLICY_RAG_EMBED_BATCH_SIZE", "64")
    s = Settings.load()
    assert (s.device, s.embed_workers, s.embed_batch_size) == ("cuda:1", 2, 64)
    assert Settings.load(device="cpu").device == "cpu"  # a flag wins over the environment
    for bad in ({"device": "gpu"}, {"device": "cuda:x"}, {"embed_workers": 0}, {"embed_batch_size": 0}):
        with pytest.raises(SettingsError, match=next(iter(bad))):
            Settings.load(**bad)
