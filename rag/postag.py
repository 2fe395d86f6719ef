"""Part-of-speech tags of a question: jieba's tagger, without its half-second start.

`import jieba.posseg` reads the tag of every word of jieba's dictionary (349k lines) into a dict, and every
`POSTokenizer` reads them again: ~0.5 s of each `rag ask`, to tag a dozen words. `PosTagger` gives the same
(word, tag) pairs — its cut is jieba.posseg.POSTokenizer.cut (jieba, MIT licence) on the caller's jieba
tokenizer and the same HMM — but looks tags up in a SQLite copy of the table, written once into the user cache
folder, and loads the HMM tables only when a question holds a run of characters that is no dictionary word.
Where no cache can be written it falls back to reading the table into memory, as jieba does.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
import re
import sqlite3
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

__all__ = ["PosTagger"]

log = logging.getLogger(__name__)

# jieba.posseg's own patterns.
RE_HAN_DETAIL = re.compile("([\u4E00-\u9FD5]+)")
RE_SKIP_DETAIL = re.compile(r"([\.0-9]+|[a-zA-Z0-9]+)")
RE_HAN_INTERNAL = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&\._]+)")
RE_SKIP_INTERNAL = re.compile(r"(\r\n|\s)")
RE_ENG = re.compile("[a-zA-Z0-9]+")
RE_NUM = re.compile(r"[\.0-9]+")


def _dictionary_path() -> Path:
    import jieba

    return Path(jieba.__file__).resolve().parent / "dict.txt"


class _TagTable:
    """word -> tag of jieba's default dictionary, read from a SQLite cache (a dict in memory as the fallback)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._memo: dict[str, str | None] = {}
        self._db: sqlite3.Connection | None = None
        self._table: dict[str, str] | None = None
        path = _dictionary_path()
        try:
            self._db = _open_cache(path)
        except (OSError, sqlite3.Error) as exc:
            log.info("no tag cache for jieba's dictionary (%s); reading it into memory", exc)
            self._table = _read_tags(path)

    def get(self, word: str, default: str) -> str:
        if self._table is not None:
            return self._table.get(word, default)
        with self._lock:
            if word not in self._memo:
                row = self._db.execute("SELECT tag FROM tags WHERE word = ?", (word,)).fetchone()
                self._memo[word] = row[0] if row else None
            tag = self._memo[word]
        return default if tag is None else tag


def _read_tags(path: Path) -> dict[str, str]:
    """The dictionary's word -> tag, as jieba.posseg reads it (a later line for the same word wins)."""
    tokens = path.read_bytes().decode("utf-8").split()
    if len(tokens) % 3:
        raise ValueError(f"{path} is not a jieba dictionary of 'word freq tag' lines")
    return dict(zip(tokens[0::3], tokens[2::3]))


def _open_cache(dictionary: Path) -> sqlite3.Connection:
    """A read-only connection to the tag cache for this dictionary file, written first if missing."""
    from .locations import user_cache_dir

    stat = dictionary.stat()
    key = hashlib.sha256(f"{dictionary}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    folder = user_cache_dir() / "jieba"
    target = folder / f"tags-{key}.sqlite3"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tags-", suffix=".tmp", dir=folder)
        os.close(fd)
        try:
            with sqlite3.connect(tmp) as db:
                db.execute("CREATE TABLE tags (word TEXT PRIMARY KEY, tag TEXT NOT NULL) WITHOUT ROWID")
                db.executemany("INSERT OR REPLACE INTO tags VALUES (?, ?)", _read_tags(dictionary).items())
            db.close()
            os.replace(tmp, target)  # complete or absent: a reader never sees a half-written table
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    db = sqlite3.connect(f"{target.as_uri()}?mode=ro", uri=True, check_same_thread=False)
    db.execute("SELECT tag FROM tags WHERE word = ?", ("的",)).fetchone()  # a damaged file fails here
    return db


@functools.lru_cache(maxsize=1)
def _tags() -> _TagTable:
    return _TagTable()


@functools.lru_cache(maxsize=1)
def _hmm() -> tuple:
    """jieba.posseg's viterbi and HMM tables, loaded from its files without running jieba.posseg's __init__
    (which builds the tag table this module avoids). Used only for runs of characters that are no word."""
    if "jieba.posseg" in sys.modules:
        from jieba.posseg import char_state_tab_P, emit_P, start_P, trans_P, viterbi

        return viterbi, char_state_tab_P, start_P, trans_P, emit_P
    import jieba

    folder = Path(jieba.__file__).resolve().parent / "posseg"

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(f"rag._jieba_posseg_{name}", folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return (load("viterbi").viterbi, load("char_state_tab").P, load("prob_start").P, load("prob_trans").P,
            load("prob_emit").P)


class PosTagger:
    """jieba.posseg.POSTokenizer(tokenizer).cut(text) as a list of (word, tag) pairs."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer  # a jieba.Tokenizer on jieba's default dictionary (user words carry no tag)
        self.tags = _tags()

    def cut(self, sentence: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for blk in RE_HAN_INTERNAL.split(sentence):
            if RE_HAN_INTERNAL.match(blk):
                out.extend(self._cut_dag(blk))
                continue
            for x in RE_SKIP_INTERNAL.split(blk):
                if RE_SKIP_INTERNAL.match(x):
                    out.append((x, "x"))
                    continue
                for xx in x:
                    out.append((xx, "m" if RE_NUM.match(xx) else "eng" if RE_ENG.match(x) else "x"))
        return out

    def _tag(self, word: str) -> str:
        return self.tags.get(word, "x")

    def _cut_dag(self, sentence: str) -> list[tuple[str, str]]:
        dag = self.tokenizer.get_DAG(sentence)
        route: dict = {}
        self.tokenizer.calc(sentence, dag, route)
        out: list[tuple[str, str]] = []
        x, buf, n = 0, "", len(sentence)
        while x < n:
            y = route[x][1] + 1
            word = sentence[x:y]
            if y - x == 1:
                buf += word
            else:
                if buf:
                    out.extend(self._flush(buf))
                    buf = ""
                out.append((word, self._tag(word)))
            x = y
        if buf:
            out.extend(self._flush(buf))
        return out

    def _flush(self, buf: str) -> list[tuple[str, str]]:
        if len(buf) == 1:
            return [(buf, self._tag(buf))]
        if not self.tokenizer.FREQ.get(buf):
            return self._cut_detail(buf)
        return [(ch, self._tag(ch)) for ch in buf]

    def _cut_detail(self, sentence: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for blk in RE_HAN_DETAIL.split(sentence):
            if RE_HAN_DETAIL.match(blk):
                out.extend(self._cut_hmm(blk))
                continue
            for x in RE_SKIP_DETAIL.split(blk):
                if x:
                    out.append((x, "m" if RE_NUM.match(x) else "eng" if RE_ENG.match(x) else "x"))
        return out

    @staticmethod
    def _cut_hmm(sentence: str) -> list[tuple[str, str]]:
        viterbi, states, start, trans, emit = _hmm()
        _, pos_list = viterbi(sentence, states, start, trans, emit)
        out: list[tuple[str, str]] = []
        begin, nexti = 0, 0
        for i, char in enumerate(sentence):
            pos = pos_list[i][0]
            if pos == "B":
                begin = i
            elif pos == "E":
                out.append((sentence[begin:i + 1], pos_list[i][1]))
                nexti = i + 1
            elif pos == "S":
                out.append((char, pos_list[i][1]))
                nexti = i + 1
        if nexti < len(sentence):
            out.append((sentence[nexti:], pos_list[nexti][1]))
        return out
