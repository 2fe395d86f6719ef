"""The plan vocabulary question analysis reads, all data files under rag/data/: the English glossary, Chinese
shorthand and its full forms, measure words that follow an indicator's name, and the heads that end a
programme's name. Each is read once per process."""

from __future__ import annotations

import functools
from importlib import resources

__all__ = ["load_glossary", "load_measures", "load_name_heads", "load_synonyms"]


@functools.lru_cache(maxsize=1)
def load_glossary() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """English phrase -> Chinese forms, longest phrases first."""
    rows = []
    text = resources.files("rag").joinpath("data/glossary.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        en, zh = line.split("\t", 1)
        rows.append((en.strip().lower(), tuple(z.strip() for z in zh.split(",") if z.strip())))
    rows.sort(key=lambda r: -len(r[0]))
    return tuple(rows)


@functools.lru_cache(maxsize=1)
def load_measures() -> tuple[str, ...]:
    """Measure words ("总数", "数量") that follow an indicator's name (rag/data/measures.txt)."""
    text = resources.files("rag").joinpath("data/measures.txt").read_text(encoding="utf-8")
    return tuple(ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))


@functools.lru_cache(maxsize=1)
def load_name_heads() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Heads that end a programme's or project's name, with their English words
    (("计划", ("programme", "program", "scheme")), …; rag/data/name_heads.txt)."""
    text = resources.files("rag").joinpath("data/name_heads.txt").read_text(encoding="utf-8")
    rows = (ln.split("\t") for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))
    return tuple((row[0].strip(), tuple(row[1].split()) if len(row) > 1 else ()) for row in rows)


@functools.lru_cache(maxsize=1)
def load_synonyms() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Chinese shorthand -> the full forms plans write (rag/data/synonyms.tsv)."""
    rows = []
    text = resources.files("rag").joinpath("data/synonyms.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            short, forms = line.split("\t", 1)
            rows.append((short.strip(), tuple(f.strip() for f in forms.split(",") if f.strip())))
    return tuple(rows)
