"""`Assistant`: the one place where the stages are wired together (load → index → retrieve → answer).

    from rag import Assistant
    assistant = Assistant.from_settings()          # loads indexes/default, building it if needed
    answer = assistant.ask("绍兴2025年技术交易额目标是多少?")
    print(answer.answer, answer.citations[0].quote)

An Assistant is safe to share between threads: questions read an immutable snapshot of the index;
adding or removing a document builds a new index and swaps the snapshot in one assignment.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from dataclasses import replace
from typing import TYPE_CHECKING

from .answer import metadata_clause, score_clauses, select_clauses
from .clause_years import targets_before_bases, year_consistent
from .citations import Answer
from .compose import compose_answer, place_label, plan_label, refusal
from .conversation import resolve_follow_up
from .components import checked_llm, given_objects
from .encoders import load_encoder
from .errors import IndexNotFoundError, IndexVersionError, InvalidQuestionError
from .messages import join, say
from .overview import corpus_answer, outline_answer
from .planner import plan_question
from .query import Query, analyse_query, without_title_words
from .question_places import find_places
from .quotes import widen_to_sentence, with_its_cap
from .retrieval import eligible_documents, plans_compared, preferred_documents, retrieve
from .settings import Settings
from .library import DocumentLibrary, _build, _documents_changed, _Snapshot
from .store import PIPELINE_VERSION
from .stores.base import Store
from .stores.backends import load_store

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["Assistant", "validate_question"]

log = logging.getLogger(__name__)
# An index written by an older pipeline version is rebuilt when an Assistant starts on it if it is this small
# (the build re-uses every vector, but re-chunks and re-tokenises every plan: ~5 s a 1,000 chunks here, an hour
# at a million); a larger one is served as it is, with a warning, until `rag index` rebuilds it.
UPGRADE_AT_START_MAX_CHUNKS = 50_000
# A question naming no city lists every city whose best clause scores within this share of the best one.
OPEN_QUESTION_KEEP = 0.85
# ... among at most this many places: with plans of more places than this, the places whose plans rank best for
# the question over all of them are answered (each place is a retrieval and a clause scoring, ~10 ms; thousands of
# places would take a minute), and the answer says how many more have plans.
OPEN_QUESTION_MAX_PLACES = 20
CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")


class Assistant(DocumentLibrary):
    """The answering engine. `rag.Assistant` (rag/runnable.py) is this plus LangChain's Runnable interface;
    `rag ask` uses this class directly, so a question never imports LangChain."""

    chat_model = None  # a LangChain chat model for LLM answers (from_settings(llm=...)); None: from the settings
    _load_embedder = staticmethod(load_encoder)

    def __init__(self, settings: Settings, embedder, index: Store):
        self.settings = settings
        self.embedder = embedder
        self._snapshot = _Snapshot.of(index)
        self._write_lock = threading.Lock()
        self.warnings: list[str] = []
        self.reranker = None
        if settings.reranker:
            from .retrieval import CrossEncoderReranker

            self.reranker = CrossEncoderReranker(settings.reranker, allow_download=settings.allow_download)

    # ------------------------------------------------------------ construction

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, progress: bool = False, build: bool = True,
                      **overrides) -> "Assistant":
        """Load the index at settings.index_dir; build it (or bring it up to date) from documents_dir if needed.

        `build=False` only loads, raising IndexNotFoundError when there is no index. `embedder=` takes a model
        name or any LangChain `Embeddings`, `llm=` True/False or any LangChain chat model (rag/components.py).
        """
        embedder, chat_model, overrides = given_objects(overrides)
        settings = (settings or Settings.load()).with_overrides(**overrides)
        embedder = embedder or cls._load_embedder(settings.embedder, allow_download=settings.allow_download,
                                                  device=settings.device, batch_size=settings.embed_batch_size)
        warnings: list[str] = []
        try:
            index = load_store(settings, expected_embedder=embedder.info)
            older = index.manifest.get("pipeline_version") != PIPELINE_VERSION
            kept_older = older and index.chunk_count() > UPGRADE_AT_START_MAX_CHUNKS
            if kept_older:
                warnings.append(
                    f"the index at {index.path} was built by text processing {index.manifest.get('pipeline_version')} "
                    f"and this policy-rag has {PIPELINE_VERSION}; its {index.chunk_count():,} chunks are served as "
                    f"they are (rebuilding them would hold up the start), so answers may differ from a fresh "
                    f"index's until `rag index` rebuilds it (re-using every vector)")
            if build and ((older and not kept_older) or _documents_changed(settings.documents_dir, index)
                          or index.manifest.get("chunk_size") != settings.chunk_size):
                log.info("documents changed since the index was built: updating it")
                index, more = _build(settings, embedder, progress, upgrade=not kept_older)
                warnings += more
        except (IndexNotFoundError, IndexVersionError):
            # No index yet, or one written by an older policy-rag: (re)build it from the documents.
            if not build:
                raise
            index, warnings = _build(settings, embedder, progress)
        assistant = cls(settings, embedder, index)
        assistant.warnings = warnings
        assistant.chat_model = chat_model
        return assistant

    @property
    def index(self) -> Store:
        return self._snapshot.index

    @property
    def retriever(self):
        """A LangChain retriever (rag.retriever.HybridRetriever) over the current index."""
        from .retriever import HybridRetriever

        snap = self._snapshot
        return HybridRetriever(index=snap.index, embedder=self.embedder, catalog=snap.catalog,
                               k=self.settings.k, fetch_k=self.settings.fetch_k, reranker=self.reranker)

    # ------------------------------------------------------------ asking

    def validate_question(self, question: object) -> str:
        return validate_question(question, self.settings.max_question_chars)

    def analyse(self, question: str) -> Query:
        snap = self._snapshot
        return analyse_query(self.validate_question(question), snap.catalog, snap.index.tokenizer, snap.index.bridge)

    def ask(self, question: str, *, city: str | None = None, year: int | None = None, k: int | None = None,
            llm: bool | BaseChatModel | None = None, history: object = None) -> Answer:
        """Answer `question` from the documents, with verbatim cited quotes, or refuse.

        `history`: the conversation so far (role/content dicts as OpenAI and Gradio write them, LangChain
        messages, or Gradio (user, assistant) pairs). A follow-up that names only a new place, year or plan
        ("那赣州呢?", "2015年呢?", "And Nanchang?") is read against the previous question, and the answer
        starts by saying how it was understood; a full question ignores history (rag/conversation.py).
        """
        question, llm = self.validate_question(question), checked_llm(llm)
        follow = resolve_follow_up(question, history, self._analyse_with_places,
                                   self._snapshot.catalog.english) if history else None
        if follow is None or not follow.understood:
            return self._answer(question, city=city, year=year, k=k, llm=llm)
        answer = self._answer(follow.question, city=city, year=year, k=k, llm=llm)
        note = say("understood_as", self.analyse(question).is_english, question=follow.question)
        answer.answer = note + "\n" + answer.answer
        return answer

    def _analyse_with_places(self, question: str) -> tuple[Query, list[tuple[int, int]]]:
        snap = self._snapshot
        query = analyse_query(question, snap.catalog, snap.index.tokenizer, snap.index.bridge)
        return query, find_places(query.simplified, snap.catalog)[1]

    def _answer(self, question: str, *, city: str | None, year: int | None, k: int | None,
                llm: bool | BaseChatModel | None) -> Answer:
        for name, value in (("year", year), ("k", k)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise InvalidQuestionError(f"{name} must be a positive whole number like {2025 if name == 'year' else 5}, "
                                           f"not {value!r}")
        snap = self._snapshot  # one consistent index for the whole question, whatever other threads do
        index = snap.index
        query = analyse_query(self.validate_question(question), snap.catalog, index.tokenizer, index.bridge)
        en = query.is_english
        place_filter = None
        if city:
            if not isinstance(city, str):
                raise InvalidQuestionError(f"city must be a place name like 绍兴 or Shaoxing, not {type(city).__name__}")
            city = _clean_text(city)
            if not city:
                raise InvalidQuestionError("city holds no name; give a place like 绍兴 or Shaoxing, or leave it out")
            place_filter = snap.catalog.resolve(index.tokenizer.simplify(city))
            if place_filter is None:
                return refusal(query, say("no_plan_for", False, place=city), say("no_plan_for", True, place=city))
        if year:  # an explicit year filter replaces the years written in the question
            query = replace(query, years=(year,), scopes=tuple((c, (year,), ks) for c, _, ks in query.scopes))
        k = k or self.settings.k

        plan = plan_question(query, snap.catalog, place_filter)
        # "这些文件一共有几份?" is about the corpus; "哪些城市的技术合同成交额…" names an indicator, so it is not.
        if query.intent == "corpus" and not set(index.tokenizer.user_terms) & {t for g in query.term_groups for t in g}:
            docs = set(index.catalog) if not query.places else \
                set().union(*(snap.catalog.docs_within(c) for c in query.places))
            if docs:
                return corpus_answer(index, query, sorted(docs), {d: place_label(index, d) for d in docs})
        if plan.refusal:  # already worded in the question's language
            return refusal(query, plan.refusal, plan.refusal)
        if query.intent == "outline" and not plan.open:
            docs = [d for sub in plan.subquestions if not sub.names
                    for d in sorted(eligible_documents(index, query.for_city(sub.place), sub.docs))]
            label_of = (lambda d: plan_label(index, d, snap.catalog.english if en else None))
            if docs and (answer := outline_answer(index, query, docs, label_of)) is not None:
                return self._with_assumptions(answer, query)
        vector = self.embedder.embed_queries([query.simplified])[0]
        groups, missing = [], list(plan.missing)
        best_support = 0.0
        # A comparison needs each place's own best clause; its support is spread over more terms.
        min_support = self.settings.min_support * (0.8 if len(plan.subquestions) > 1 else 1.0)
        whole = query
        notes = []
        subquestions, unsearched = plan.subquestions, 0
        if plan.open and len(subquestions) > OPEN_QUESTION_MAX_PLACES:
            subquestions = self._likely_places(index, whole, vector, subquestions)
            unsearched = len(plan.subquestions) - len(subquestions)
        for sub in subquestions:
            query = whole.for_city(sub.place)
            if sub.names:  # a place answered from a plan above it: only a passage naming it answers
                if query.asks_for or query.intent:  # who issued 锡林浩特's plan? It has none of its own.
                    missing.append(sub.unanswered)
                    continue
                query = replace(query, term_groups=query.term_groups + (sub.names,),
                                terms=query.terms + sub.names)
            allowed = eligible_documents(index, query, sub.docs)
            if not allowed:
                years = "、".join(str(y) for y in query.years)
                missing.append(say("no_plan_year", en, place=sub.label or "", years=years,
                                   for_place=f"for {sub.label} " if sub.label else ""))
                continue
            plans = plans_compared(index, query, allowed) if not sub.names else []
            if len(plans) >= 2:  # one place, two of its plans compared: answer from each
                for docs in plans:
                    chosen, support = self._choose(index, query, vector, frozenset(docs), k,
                                                   self.settings.min_support * 0.8)
                    best_support = max(best_support, support)
                    if chosen:
                        groups.append((sub.label, chosen))
                continue
            chosen, support = [], 0.0
            # The year's own annual plan first ("Ganzhou's 2025 target"), then every eligible plan.
            for docs in dict.fromkeys((frozenset(preferred_documents(index, query, allowed)), frozenset(allowed))):
                chosen, support = self._choose(index, query, vector, docs, k, min_support, sub.names)
                if chosen:
                    break
            best_support = max(best_support, support)
            if chosen:
                groups.append((sub.label, chosen))
                if sub.names:
                    above = "、".join(dict.fromkeys(plan_label(index, s.clause.doc_id, snap.catalog.english if en else None)
                                                   for s in chosen))
                    notes.append(say("named_in_plan_above", en, place=sub.label, plan=above))
            elif sub.unanswered:
                missing.append(sub.unanswered)
            elif sub.label and not plan.open:
                missing.append(say("nothing_for_place", en, place=sub.label))
        query = whole
        if plan.open:
            no_plan = [m for m in missing if m.startswith(("没有", "no plan"))]
            missing = [m for m in missing if m not in no_plan]
            if not groups and len(no_plan) == len(plan.subquestions):  # no place has a plan for that year
                missing = [say("no_plan_year_any", en, years="、".join(str(y) for y in query.years))]
            if groups:
                best = max(g[1][0].score for g in groups)
                groups = sorted((g for g in groups if g[1][0].score >= OPEN_QUESTION_KEEP * best),
                                key=lambda g: -g[1][0].score)
        if not groups:
            reason = join(missing, en, strong=True) or say("no_support", en)
            return refusal(query, reason, reason, best_support)
        answer = compose_answer(index, query, groups, missing,
                                snap.catalog.english if en else None)  # English names need pypinyin (0.2 s)
        if unsearched:
            notes.append(say("more_places", en, shown=len(subquestions), n=unsearched))
        if notes:
            answer.answer = "".join(notes) + "\n" + answer.answer
        use_llm = self.settings.llm if llm is None else llm
        if use_llm:
            from .generation import generate_answer

            answer = generate_answer(self.settings, query, answer, index,
                                     llm=self.chat_model if use_llm is True else use_llm)
        return self._with_assumptions(answer, query)

    def _likely_places(self, index: Store, query: Query, vector, subquestions) -> tuple:
        """The OPEN_QUESTION_MAX_PLACES places whose plans hold the question's best passages, searched over every
        place's eligible plans at once, in the order their best passage ranks."""
        eligible = {d: sub for sub in subquestions if not sub.names
                    for d in eligible_documents(index, query.for_city(sub.place), sub.docs)}
        if not eligible:
            return subquestions[:OPEN_QUESTION_MAX_PLACES]
        fetch = max(self.settings.fetch_k, 4 * OPEN_QUESTION_MAX_PLACES)
        ranked = retrieve(index, query, vector, k=fetch, fetch_k=fetch, allowed=set(eligible))
        chosen = dict.fromkeys(eligible[sc.chunk.doc_id] for sc in ranked)
        return tuple(list(chosen)[:OPEN_QUESTION_MAX_PLACES])

    @staticmethod
    def _with_assumptions(answer: Answer, query: Query) -> Answer:
        """A near-miss place name (赣洲) was read as an indexed place: the answer says so first."""
        if query.assumed:
            notes = "".join(say("assumed_place", query.is_english, written=w, place=p) for w, p in query.assumed)
            answer.answer = notes + "\n" + answer.answer
        return answer

    def _choose(self, index: Store, query: Query, vector, allowed: frozenset[str], k: int, min_support: float,
                names: tuple[str, ...] = ()):
        """(chosen clauses, best support) for one city's question among `allowed` documents; with `names`, only
        clauses that name one of them (a place answered from a plan above it)."""
        query = without_title_words(query, [index.catalog[d].metadata.title or "" for d in allowed])
        chunks = retrieve(index, query, vector, k=k, fetch_k=self.settings.fetch_k, allowed=set(allowed),
                          reranker=self.reranker)
        if query.asks_for and chunks:
            metas = [m for f in (query.asks_for_all or (query.asks_for,))
                     if (m := metadata_clause(index, chunks[0].chunk.doc_id, f)) is not None]
            if metas:  # one quote per span: a plan without a colophon answers "哪天印发" with its date once
                metas = list({(m.clause.start, m.clause.end): m for m in metas}.values())
                if query.figure_kind == "date":
                    # "大会是哪天召开的？哪家报纸报道的？": the event's date is in the text, the newspaper on the page
                    dated, _ = self._choose(index, replace(query, asks_for=None, asks_for_all=(), wants_figure=True),
                                            vector, allowed, k, min_support, names)
                    metas += [d for d in dated[:1] if (d.clause.start, d.clause.end) not in
                              {(m.clause.start, m.clause.end) for m in metas}]
                return metas, 1.0
        scored = year_consistent(index, score_clauses(index, query, vector, chunks), query.years,
                                 query.relative_year)
        if not query.years and query.relative_year is None:
            scored = targets_before_bases(index, scored, query.simplified)
        if names:
            simplify = index.tokenizer.simplify
            # the clause itself: in "利川市高新技术企业达到31家，建始县选派科技特派员120名" the second is 建始's
            # ...and that names something else asked about too (not only words of the place's name):
            # "在三里庵街道、稻香村街道、南七街道布局环大学创新街区3个" does not answer how much space 南七街道 adds.
            named = {i for i, g in enumerate(query.term_groups) if all(any(t in n for n in names) for t in g)}
            scored = [s for s in scored if any(n in simplify(s.clause.text) for n in names)
                      and s.own_groups - named]
        # (only when the head is what the question asks the name of: "计划叫什么名称", not "科技项目攻关模式叫什么")
        quoted_names = {i for i, g in enumerate(query.term_groups) if all("”" in t for t in g)
                        and re.search(re.escape(g[0].strip("”")) + r"的?(?:叫什么|名称|名字|是什么)", query.simplified)}
        if query.wants_names and quoted_names:
            # "人才引进计划叫什么名称": a clause holding a quoted name with that head (10.实施“科技城英才计划”) answers
            # before one that only shares the question's other words.
            scored = sorted(scored, key=lambda s: not s.own_groups & quoted_names)
        if query.figure_kind == "date":
            # "本报讯 2月27日,…大会在恩施市召开": the date and the event are clauses of one sentence.
            scored = [widen_to_sentence(index, s, query=query) for s in scored]
        support = scored[0].support if scored else 0.0
        chosen = select_clauses(scored, min_support, query.wants_figure, query.prefers_figure, query.figure_kind)
        chosen = [with_its_cap(index, s) for s in chosen]
        if query.wants_names:
            chosen = [widen_to_sentence(index, s) for s in chosen[:1]]
        return chosen, support

def _clean_text(text: str) -> str:
    """NFKC; control characters and lone surrogates (unencodable, e.g. from a broken decoder) become spaces."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]", " ", unicodedata.normalize("NFKC", text)).strip()


def validate_question(question: object, max_chars: int) -> str:
    """The question, normalised (NFKC, control characters removed), or InvalidQuestionError saying what to do."""
    if not isinstance(question, str):
        raise InvalidQuestionError(f"the question must be text, not {type(question).__name__}")
    q = _clean_text(question)
    if not q:
        raise InvalidQuestionError("the question is empty; ask something like “绍兴2025年技术交易额目标是多少?”")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in q):
        raise InvalidQuestionError(say("no_content", not CJK_CHAR.search(q)))
    if len(q) > max_chars:
        raise InvalidQuestionError(f"the question is {len(q)} characters long; the limit is {max_chars} "
                                   "(ask one thing at a time, or raise max_question_chars)")
    return q
