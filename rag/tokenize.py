"""Chinese/English tokenisation shared by BM25 and answer-clause matching.

jieba runs with a user dictionary learnt from the documents themselves: the indicator phrase that
stands before a figure ("…技术合同成交额突破92亿元") and recurs in the corpus becomes one token, so
BM25 and clause matching compare 技术合同成交额 with 技术合同成交额, not 技术/合同/成交 fragments.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections import Counter
from pathlib import Path

__all__ = ["Tokenizer", "learn_indicator_terms", "STOPWORDS"]

# Function words and plan boilerplate that say nothing about which passage answers a question.
STOPWORDS = frozenset(
    """的 了 和 与 及 等 是 在 为 对 把 被 由 以 于 其 之 或 并 也 将 要 年 多少 什么 哪些 哪个 几 吗 呢 么
    如何 怎么 怎样 是否 目标 提出 计划 打算 要求 方面 工作 全市 我市 本市 市 有关 相关 进一步 加快 推进 推动
    按照 根据 依照 达到 实现 需要 能够 分别 各是 各自 哪个 哪一 哪些 更高 更多 更大 比较 对比 相比 之间 两市 三市 两地 三地 具体 希望 准备 今年 当年 去年 明年 上年 前年 一共 总共 共计 多少钱
    全省 全区 全县 全州 全盟 全旗 我省 我区 我县 我州 本省 本区 本县 本州
    定的 定为 规定 设定 提到 指出 明确 说 达到多少 为多少 是什么 有哪些 几个 多大 名字 名称 叫做 称为
    the a an of to in for on and or is are was were be what which how many much does do did by with as at its it
    that this target goal plan city s""".split()
)
# "2015年" is one token (so "2015年全社会" is not cut into 年全 / 社会), then Latin words, numbers, CJK runs.
TOKEN_RE = re.compile(r"(?:19|20)\d{2}年|[A-Za-z]+(?:&[A-Za-z]+)?|\d+(?:\.\d+)?%?|[\u4e00-\u9fff]+")
LEAD_VERBS = ("力争", "争取", "实现", "新增", "培育", "认定", "引进", "达到", "突破", "超过", "保持", "提高", "增长", "达")
TRAIL_VERBS = ("达到", "突破", "超过", "保持", "增长", "达", "为", "占")


def learn_indicator_terms(texts: list[str], min_count: int = 2) -> list[str]:
    """Indicator phrases: the CJK run just before a figure, trimmed of verbs, recurring in the corpus.

    For each figure we take the longest suffix (4–8 characters) of the preceding run that occurs at
    least `min_count` times across the corpus *after at least two different characters*: a phrase
    always preceded by the same character (定高新技术企业 in 认定高新技术企业) is a fragment, not a term.
    """
    corpus = "\n".join(texts)
    recurs: dict[str, bool] = {}  # candidate -> the test below (each scans the corpus; phrases repeat)

    def left_contexts(cand: str) -> set[str]:
        return {corpus[m.start() - 1] if m.start() else "^" for m in re.finditer(re.escape(cand), corpus)}

    def recurring(cand: str) -> bool:
        if cand not in recurs:
            recurs[cand] = corpus.count(cand) >= min_count and len(left_contexts(cand)) >= 2
        return recurs[cand]

    terms: Counter[str] = Counter()
    for text in texts:
        for m in re.finditer(r"([\u4e00-\u9fffA-Za-z&]{3,20})\s*\d", text):
            run = m.group(1)
            for verb in TRAIL_VERBS:
                if run.endswith(verb):
                    run = run[: -len(verb)]
                    break
            best = None
            for n in range(min(8, len(run)), 3, -1):
                cand = run[-n:]
                if any(cand.startswith(v) for v in LEAD_VERBS):
                    continue
                if recurring(cand):
                    best = cand
                    break
            if best:
                terms[best] += 1
    return sorted(terms)


class Tokenizer:
    """A jieba tokenizer instance (not jieba's global one) with the corpus's user dictionary."""

    def __init__(self, user_terms: list[str] | None = None):
        import jieba

        self._jieba = jieba.Tokenizer()
        # jieba's default dictionary is loaded once per process (into jieba.dt, from its cache) and copied:
        # a second load would cost as much again (~0.7 s), and question_places reads jieba.dt's frequencies.
        base = _default_jieba()
        if base.dictionary == self._jieba.dictionary:  # jieba.set_dictionary() not called: the same words
            self._jieba.FREQ, self._jieba.total = dict(base.FREQ), base.total
            self._jieba.initialized = True
        else:
            self._jieba.tmp_dir = _jieba_cache_dir()
        self._lock = threading.Lock()  # jieba's caches are not thread-safe
        self._pos = None  # part-of-speech tagger sharing this dictionary, made on first use
        self._containing: dict[str, frozenset[str]] = {}  # indicators_containing's answers
        self.user_terms = sorted(set(user_terms or []))
        for term in self.user_terms:
            self._jieba.add_word(term, freq=50_000)
        try:
            import opencc

            self._t2s = opencc.OpenCC("t2s")
        except Exception:  # pragma: no cover - opencc is a dependency, this is only a guard
            self._t2s = None

    @classmethod
    def from_file(cls, path: Path) -> "Tokenizer":
        terms = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        return cls(terms)

    def save(self, path: Path) -> None:
        path.write_text("\n".join(self.user_terms) + "\n", encoding="utf-8")

    @functools.cached_property
    def indicator_terms(self) -> frozenset[str]:
        """The user terms (the corpus's indicator terms), lowercased: made once, not for every question (a
        national corpus learns thousands)."""
        return frozenset(t.lower() for t in self.user_terms)

    def indicators_containing(self, part: str) -> frozenset[str]:
        """The indicator terms (lowercased) that contain `part` (lowercased), remembered per part."""
        found = self._containing.get(part)
        if found is None:
            found = self._containing[part] = frozenset(t for t in self.indicator_terms if part in t)
        return found

    def simplify(self, text: str) -> str:
        """Traditional -> Simplified (紹興 -> 绍兴), so both scripts match the stored text."""
        return self._t2s.convert(text) if self._t2s else text

    def _split(self, text: str, search: bool = False) -> list[str]:
        """Only CJK runs go through jieba (search mode adds the words inside long ones); Latin words and
        numbers ("R&D", "2.0", "3.3%", "2015年") stay whole. Lowercased, punctuation dropped."""
        out = []
        for m in TOKEN_RE.finditer(self.simplify(text)):
            tok = m.group(0)
            if "\u4e00" <= tok[0] <= "\u9fff":
                with self._lock:
                    out.extend(self._jieba.cut_for_search(tok) if search else self._jieba.cut(tok))
            else:
                out.append(tok.lower())
        return out

    @staticmethod
    def _content(tokens: list[str]) -> list[str]:
        return [t for t in tokens if t not in STOPWORDS and not (len(t) == 1 and "\u4e00" <= t <= "\u9fff")]

    def words(self, text: str) -> list[str]:
        """All tokens, stopwords kept."""
        return self._split(text)

    def tagged(self, text: str) -> list[tuple[str, str]]:
        """(word, part-of-speech) pairs from jieba's tagger on this tokenizer's own dictionary ("ns" = place)."""
        from .postag import PosTagger

        with self._lock:
            if self._pos is None:
                self._pos = PosTagger(self._jieba)  # jieba.posseg's cut, minus its 0.5 s start (rag/postag.py)
            return self._pos.cut(self.simplify(text))

    def search_tokens(self, text: str) -> list[str]:
        """BM25 tokens: content tokens plus the dictionary words inside long ones (jieba's search mode),
        so "专利申请量" in a plan and "专利" + "申请" from an English question's bridge still meet."""
        return self._content(self._split(text, search=True))

    def __call__(self, text: str) -> list[str]:
        """Content tokens for matching: stopwords and single CJK characters dropped."""
        return self._content(self._split(text))


_DEFAULT_LOCK = threading.Lock()


def _default_jieba():
    """jieba's process-wide tokenizer, initialised once. Its dictionary cache goes to policy-rag's user cache
    folder (~/.cache/policy-rag/jieba), not jieba's default /tmp/jieba.cache: /tmp is cleared on reboot (the
    cache then takes ~2 s to rebuild) and anyone can write there, while jieba loads the file it finds without
    a check."""
    import jieba

    with _DEFAULT_LOCK:
        if not jieba.dt.initialized:
            jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict..." chatter on stderr
            if jieba.dt.tmp_dir is None and jieba.dt.cache_file is None:
                jieba.dt.tmp_dir = _jieba_cache_dir()
            jieba.dt.initialize()
    return jieba.dt


def _jieba_cache_dir() -> str | None:
    """A private folder for jieba's cache, or None (jieba's default) when none can be made."""
    import os

    from .locations import user_cache_dir

    folder = user_cache_dir() / "jieba"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return str(folder) if os.access(folder, os.W_OK) else None
