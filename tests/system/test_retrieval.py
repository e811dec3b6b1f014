"""Hybrid retrieval against real Chroma and the bundled model, on small corpora written
to temporary folders: exact matches, filters on both sides, index upkeep, multi-hop
questions, and the outlet/date reading of questions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bench.retrieval import format_table, run_retrieval_bench, score_query
from rag.assistant import Assistant
from rag.config import Settings
from rag.errors import InvalidArgumentError
from rag.index.embeddings import Embedder
from rag.index.records import published_ts
from rag.index.side_index import INDEX_FILE, SideIndex, tokenize
from rag.retrieve.base import build_where, live_passages, one_per_story
from rag.retrieve.dense import DenseRetriever
from rag.retrieve.factory import make_retriever
from rag.retrieve.hybrid import HybridConfig, HybridRetriever, rrf
from rag.retrieve.query_analysis import OutletMatcher, analyse, find_entities
from rag.retrieve.question_time import find_dates, time_fit
from rag.schema import Passage

FLIGHTS = ["4417", "2291", "8812", "5530", "7164", "3905"]

ARTICLES: list[dict[str, str]] = [
    {"source": "The Verge", "published_at": "2023-11-24T15:42:21+00:00",
     "title": "Some of our favorite devices are on sale for Black Friday",
     "body": "This universal travel adapter has USB ports, so you can charge several devices "
             "from one outlet on your trip."},
    {"source": "Wired", "published_at": "2023-11-25T00:00:29+00:00",
     "title": "Best Apple Black Friday deals",
     "body": "With a 10,000-mAh capacity, the power bank charged an iPhone once and then "
             "delivered another 64 percent before tapping out."},
    {"source": "Engadget", "published_at": "2023-11-24T09:30:00+00:00",
     "title": "Black Friday charger deals",
     "body": "Black Friday deals on chargers: a compact charger with two ports is half price, "
             "and it can power a laptop and a phone at the same time."},
    {"source": "The Verge", "published_at": "2023-10-10T12:00:00+00:00",
     "title": "Valve announces the Steam Deck OLED",
     "body": "Valve announced the Steam Deck OLED with a bigger battery and a brighter screen."},
    {"source": "TechCrunch", "published_at": "2023-10-31T02:30:32+00:00",
     "title": "5 things we learned about the Google antitrust case",
     "body": "The trial revealed that Google spent $26.3 billion in 2021 making itself the "
             "default search engine across platforms."},
    {"source": "Sporting News", "published_at": "2023-12-05T22:00:00+00:00",
     "title": "Can Tyreek Hill reach 2,000 yards?",
     "body": "Tyreek Hill needs about 153 receiving yards per game to reach 2,000 yards this "
             "season, and four of Miami's remaining opponents have top pass defenses."},
    # A rare name in words unlike the question's; the others share the question's words.
    {"source": "Gizmo", "published_at": "2023-10-02T00:00:00+00:00", "title": "Recall",
     "body": "Owners of the Kestrel-9 said units shut down mid-flight after firmware 2.1 was "
             "installed."},
    {"source": "Gizmo", "published_at": "2023-10-03T00:00:00+00:00", "title": "Drones",
     "body": "The new drone's battery lasts about forty minutes on a single charge."},
    {"source": "Gizmo", "published_at": "2023-10-04T00:00:00+00:00", "title": "Drones",
     "body": "Battery life on this year's camera drones improved by a third over last year's "
             "models."},
    {"source": "Gizmo", "published_at": "2023-10-05T00:00:00+00:00", "title": "Drones",
     "body": "Reviewers said the drone battery problems were fixed by the latest update."},
    *[{"source": "Travel Weekly", "published_at": f"2023-09-{10 + n:02d}T08:00:00+00:00",
       "title": "Delays at Heathrow",
       "body": f"Flight {number} from Heathrow to Boston was delayed by two hours because of "
               "heavy fog over the airport."}
      for n, number in enumerate(FLIGHTS)],
]


def write_articles(folder: Path, name: str, articles: list[dict[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    rows = [{**a, "url": f"https://example.com/{name}/{n}"} for n, a in enumerate(articles)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
           ) -> Iterator[tuple[Assistant, HybridRetriever]]:
    home = tmp_path_factory.mktemp("home")
    assistant = Assistant(home=home, embedder=embedder)
    report = assistant.ingest(write_articles(home.parent / f"{home.name}-src", "news.jsonl",
                                             ARTICLES))
    assert report.ok and len(report.added) == len(ARTICLES)
    retriever = HybridRetriever(assistant.store, assistant.embedder, home / "bm25")
    retriever.refresh()
    yield assistant, retriever


def rank_of(passages: list[Passage], needle: str) -> int | None:
    return next((n for n, p in enumerate(passages, start=1) if needle in p.text), None)


# -- exact matches ------------------------------------------------------------------------


def test_hybrid_finds_the_exact_name_dense_ranks_low(
        corpus: tuple[Assistant, HybridRetriever]) -> None:
    assistant, hybrid = corpus
    question = "What happened to the Kestrel-9 drone battery?"
    dense = DenseRetriever(assistant.store, assistant.embedder).retrieve(question, 10)
    ours = hybrid.retrieve(question, 10)

    assert rank_of(ours, "Kestrel-9") == 1
    dense_rank = rank_of(dense, "Kestrel-9")
    assert dense_rank is None or dense_rank > 2


def test_hybrid_picks_the_exact_number_among_near_duplicates(
        corpus: tuple[Assistant, HybridRetriever]) -> None:
    _, hybrid = corpus
    for number in FLIGHTS:
        assert rank_of(hybrid.retrieve(f"Was flight {number} delayed?", 3),
                       f"Flight {number}") == 1


def test_hybrid_finds_an_exact_name_and_amount(
        corpus: tuple[Assistant, HybridRetriever]) -> None:
    _, hybrid = corpus
    passages = hybrid.retrieve("How much did Google pay, $26.3 billion?", 3)
    assert rank_of(passages, "$26.3 billion") == 1


# -- filters on both sides ------------------------------------------------------------------


@pytest.mark.parametrize("filters, keep", [
    ({"source": ["Wired", "TechCrunch"]}, lambda a: a["source"] in {"Wired", "TechCrunch"}),
    ({"source": "Sporting News"}, lambda a: a["source"] == "Sporting News"),
    ({"published_after": "2023-11-24"}, lambda a: a["published_at"] >= "2023-11-24"),
    ({"published_before": "2023-10-10"}, lambda a: a["published_at"] < "2023-10-11"),
    ({"published_after": "2023-11-01", "published_before": "2023-11-24",
      "source": ["The Verge", "Engadget", "Wired"]},
     lambda a: "2023-11-01" <= a["published_at"] < "2023-11-25"
     and a["source"] in {"The Verge", "Engadget"}),
])
def test_filters_hold_on_both_sides(corpus: tuple[Assistant, HybridRetriever],
                                    filters: dict[str, Any], keep: Any) -> None:
    _, hybrid = corpus
    expected = {a["body"] for a in ARTICLES if keep(a)}
    # Words that BM25 matches in documents the filter excludes: a leak would show.
    question = "flight 8812 Heathrow fog Google $26.3 billion Tyreek Hill charger Black Friday"
    passages = hybrid.retrieve(question, 20, filters)
    assert {p.text for p in passages} == expected


def test_side_index_mask_matches_chroma_where(corpus: tuple[Assistant, HybridRetriever]
                                              ) -> None:
    assistant, hybrid = corpus
    index = hybrid._ensure_index()
    filters = {"source": ["The Verge"], "published_after": "2023-11-01"}
    where = build_where(filters)
    mask = index.mask(where)
    assert mask is not None
    from_chroma = {c.chunk_id for c in assistant.store.all_chunks(where)}
    assert {index.ids[i] for i in range(len(index)) if mask[i]} == from_chroma
    assert index.mask(None) is None


def test_bad_filters_are_refused(corpus: tuple[Assistant, HybridRetriever]) -> None:
    _, hybrid = corpus
    with pytest.raises(InvalidArgumentError):
        hybrid.retrieve("anything", 5, {"outlet": "Wired"})
    with pytest.raises(InvalidArgumentError):
        hybrid.retrieve("anything", 0)
    for bad in ({"source": 5}, {"source": [5]}, ["source"], "source"):
        with pytest.raises(InvalidArgumentError):
            hybrid.retrieve("anything", 5, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("day", ["2023-11-24", "20231124", "2023-W47-5"])
def test_a_bare_date_as_upper_bound_covers_its_whole_day(day: str) -> None:

    where = build_where({"published_before": day})
    assert where == {"published_ts": {"$lte": published_ts("2023-11-24T23:59:59+00:00")}}
    timed = build_where({"published_before": "2023-11-24T12:00:00+00:00"})
    assert timed == {"published_ts": {"$lte": published_ts("2023-11-24T12:00:00+00:00")}}


# -- multi-hop ------------------------------------------------------------------------------


def test_comparison_question_gets_evidence_from_both_outlets(
        corpus: tuple[Assistant, HybridRetriever]) -> None:
    _, hybrid = corpus
    question = ("Between the report from 'The Verge' on 2023-11-24 and the report from "
                "'Wired' on 2023-11-25, is there consistency in the focus on charging "
                "devices during Black Friday sales?")
    analysis = hybrid.analyse(question)
    assert [sorted(p.sources) for p in analysis.parts] == [["The Verge"], ["Wired"]]
    assert [[d.text for d in p.dates] for p in analysis.parts] == [["2023-11-24"], ["2023-11-25"]]

    passages = hybrid.retrieve(question, 2)
    assert {p.source for p in passages} == {"The Verge", "Wired"}
    assert rank_of(passages, "universal travel adapter")
    assert rank_of(passages, "10,000-mAh")


def test_chained_question_gets_each_fact(corpus: tuple[Assistant, HybridRetriever]) -> None:
    _, hybrid = corpus
    question = ("Does the TechCrunch article say Google paid to be the default search "
                "engine, while the Sporting News article says Tyreek Hill needs 153 yards "
                "per game?")
    passages = hybrid.retrieve(question, 3)
    assert rank_of(passages, "$26.3 billion")
    assert rank_of(passages, "Tyreek Hill")


def test_outlet_is_a_boost_not_a_filter(corpus: tuple[Assistant, HybridRetriever]) -> None:
    _, hybrid = corpus
    # Misattributed: the flight report is not from The Verge; it must still be found.
    passages = hybrid.retrieve("What did The Verge report about flight 5530 and the fog?", 3)
    assert rank_of(passages, "Flight 5530") == 1


def test_live_check_trusts_hashes_read_beside_it_and_reads_the_rest(
        corpus: tuple[Assistant, HybridRetriever]) -> None:
    assistant, _ = corpus
    hits = assistant.store.query(assistant.embedder.embed_query("the budget vote"), 6)
    scored = [(hit, 1.0) for hit in hits]
    doc_ids = [str(hit.metadata["doc_id"]) for hit in hits]
    assert len(set(doc_ids)) > 1
    assert len(live_passages(assistant.store, scored)) == len(hits)
    # A hash read beside the chunks that names another version drops that document's
    # chunks; the documents it does not cover are still checked against the store.
    kept = live_passages(assistant.store, scored, {doc_ids[0]: "another version"})
    assert [p.doc_id for p in kept] == [d for d in doc_ids if d != doc_ids[0]]


def test_assistant_answers_with_the_hybrid_retriever(
        corpus: tuple[Assistant, HybridRetriever]) -> None:
    assistant, hybrid = corpus
    original = assistant.retriever
    # Typed as whatever the Assistant builds today; any retriever with `.retrieve` fits.
    replacement: Any = hybrid
    assistant.retriever = replacement
    try:
        answer = assistant.ask("How much did Google spend to be the default search engine?",
                               k=3)
    finally:
        assistant.retriever = original
    assert not answer.refused
    assert "26.3 billion" in answer.text
    assert answer.passages[0].source == "TechCrunch"


# -- index upkeep -----------------------------------------------------------------------------


def test_index_persists_and_follows_ingest_and_delete(tmp_path: Path, embedder: Embedder
                                                      ) -> None:
    home = tmp_path / "home"
    assistant = Assistant(home=home, embedder=embedder)
    first = write_articles(tmp_path / "src", "a.jsonl", ARTICLES[:3])
    assistant.ingest(first)
    retriever = HybridRetriever(assistant.store, assistant.embedder, home / "bm25")
    retriever.refresh()
    assert (home / "bm25" / INDEX_FILE).is_file()
    built = retriever._ensure_index()

    # A second retriever (a restarted process) loads the saved index: same fingerprint.
    again = HybridRetriever(assistant.store, assistant.embedder, home / "bm25")
    again.refresh()
    assert again._ensure_index().fingerprint == built.fingerprint
    assert again._ensure_index().ids == built.ids

    # Ingest a new file: its unique word is found once the index is refreshed.
    marker = {"source": "Polygon", "published_at": "2023-12-01T00:00:00+00:00",
              "title": "Quuxbridge", "body": "The Quuxbridge expansion adds a zorbular raid."}
    assistant.ingest(write_articles(tmp_path / "src2", "b.jsonl", [marker]))
    retriever.refresh()
    assert rank_of(retriever.retrieve("zorbular Quuxbridge", 1), "Quuxbridge") == 1
    assert len(retriever._ensure_index()) == len(built) + 1
    assert "Polygon" in retriever.analyse("the Polygon piece").sources

    # Delete it: its rows leave the index and it is no longer retrieved.
    (new_doc,) = [d for d in assistant.documents() if d["source"] == "Polygon"]
    assistant.delete(new_doc["doc_id"])
    retriever.refresh()
    index = retriever._ensure_index()
    assert index.fingerprint == built.fingerprint
    assert all(info.doc_id != new_doc["doc_id"] for info in index.rows.infos)
    assert rank_of(retriever.retrieve("zorbular Quuxbridge", 5), "Quuxbridge") is None
    assert "Polygon" not in retriever.analyse("the Polygon piece").sources


def test_orphans_in_the_top_k_are_replaced_by_the_next_candidates(tmp_path: Path,
                                                                  embedder: Embedder) -> None:
    assistant = Assistant(home=tmp_path / "home", embedder=embedder)
    assistant.ingest(write_articles(tmp_path / "src", "a.jsonl", ARTICLES))
    question = "What did the Federal Reserve decide about interest rates?"
    before = assistant.retrieve(question, k=6)
    top = before[0].doc_id
    # Its document's entry now names another version: its chunks are orphans.
    document = assistant.document(top)
    assistant.store.commit_documents([(document, "another-version", "", 1)])
    after = assistant.retrieve(question, k=3)
    assert len(after) == 3 and top not in {p.doc_id for p in after}
    assert [p.chunk_id for p in after] == [p.chunk_id for p in before
                                           if p.doc_id != top][:3]


@pytest.mark.parametrize("hybrid", [True, False])
def test_many_orphans_in_the_top_k_still_leave_k_passages(tmp_path: Path, embedder: Embedder,
                                                          hybrid: bool) -> None:
    assistant = Assistant(home=tmp_path / "home", settings=Settings(hybrid=hybrid),
                          embedder=embedder)
    towns = [{"title": f"Budget of Town{n}", "source": "Wire", "published_at": "2024-01-02",
              "body": f"The council of Town{n} approved a budget of {n} million on Monday."}
             for n in range(12)]
    assistant.ingest(write_articles(tmp_path / "src", "a.jsonl", towns))
    question = "Which council approved a budget on Monday?"
    orphaned = {p.doc_id for p in assistant.retrieve(question, k=7)}
    # An interrupted re-ingest: their entries name other versions; their chunks are orphans.
    assistant.store.commit_documents([(assistant.document(d), "another-version", "", 1)
                                      for d in orphaned])
    after = assistant.retrieve(question, k=5)
    assert len(after) == 5 and not orphaned & {p.doc_id for p in after}


def test_stale_saved_index_is_rebuilt_on_load(tmp_path: Path, embedder: Embedder) -> None:
    home = tmp_path / "home"
    assistant = Assistant(home=home, embedder=embedder)
    assistant.ingest(write_articles(tmp_path / "src", "a.jsonl", ARTICLES[:2]))
    HybridRetriever(assistant.store, assistant.embedder, home / "bm25").refresh()

    # Another writer changes the collection; the saved index no longer matches it.
    assistant.ingest(write_articles(tmp_path / "src2", "b.jsonl", ARTICLES[4:5]))
    saved = SideIndex.load(home / "bm25")
    assert saved is not None and len(saved) == 2

    fresh = HybridRetriever(assistant.store, assistant.embedder, home / "bm25")
    passages = fresh.retrieve("Google $26.3 billion default search engine", 1)
    assert rank_of(passages, "$26.3 billion") == 1
    reloaded = SideIndex.load(home / "bm25")
    assert reloaded is not None and len(reloaded) == 3


@pytest.mark.parametrize("damage", [b"", b"PK\x03\x04 cut short", b"not a zip at all"])
def test_damaged_saved_index_is_rebuilt_not_fatal(tmp_path: Path, embedder: Embedder,
                                                  damage: bytes) -> None:
    home = tmp_path / "home"
    assistant = Assistant(home=home, embedder=embedder)
    assistant.ingest(write_articles(tmp_path / "src", "a.jsonl", ARTICLES[4:5]))
    HybridRetriever(assistant.store, assistant.embedder, home / "bm25").refresh()
    (home / "bm25" / INDEX_FILE).write_bytes(damage)

    fresh = HybridRetriever(assistant.store, assistant.embedder, home / "bm25")
    assert rank_of(fresh.retrieve("Google $26.3 billion default search engine", 1),
                   "$26.3 billion") == 1
    reloaded = SideIndex.load(home / "bm25")
    assert reloaded is not None and len(reloaded) == 1


def test_replacement_with_the_same_chunk_count_is_noticed(tmp_path: Path,
                                                          embedder: Embedder) -> None:
    home = tmp_path / "home"
    reader = Assistant(home=home, embedder=embedder)
    folder = tmp_path / "src"
    article = {**ARTICLES[4]}
    reader.ingest(write_articles(folder, "a.jsonl", [article]))
    if not reader.store.generation():
        pytest.skip("this store keeps no write token; only the chunk count can tell")
    retriever = HybridRetriever(reader.store, embedder, home / "bm25")
    retriever.refresh()

    # Another writer (its own store) replaces the article: same number of chunks.
    writer = Assistant(home=home, embedder=embedder)
    article["body"] = "The trial revealed that Google spent $31.9 billion on Quuxbridge deals."
    writer.ingest(write_articles(folder, "a.jsonl", [article]))

    passages = retriever.retrieve("Quuxbridge deals", 1)
    assert passages and "$31.9 billion" in passages[0].text
    # The side index itself caught up (the dense side alone would have found the text).
    assert retriever._ensure_index().ids == [passages[0].chunk_id]


def test_chunk_vector_index_is_kept_apart_from_sentence_vectors(tmp_path: Path,
                                                                embedder: Embedder) -> None:
    home = tmp_path / "home"
    assistant = Assistant(home=home, embedder=embedder)
    two = {"source": "Wired", "published_at": "2023-11-02T00:00:00+00:00", "title": "Two",
           "body": "The first sentence is about phones. The second one is about tablets."}
    assistant.ingest(write_articles(tmp_path / "src", "a.jsonl", [*ARTICLES[:6], two]))
    chunks_only = HybridRetriever(assistant.store, embedder, home / "bm25",
                                  HybridConfig(sentence_vectors=False))
    assert rank_of(chunks_only.retrieve("Tyreek Hill 153 receiving yards", 1), "Tyreek") == 1
    # Each chunk has exactly its stored vector.
    index = chunks_only._ensure_index()
    assert index.kind.endswith("/chunks") and len(index.rows.vectors) == len(index)

    sentences = HybridRetriever(assistant.store, embedder, home / "bm25")
    sentences.refresh()
    index = sentences._ensure_index()
    assert index.kind.endswith("/sentences") and len(index.rows.vectors) > len(index)
    assert rank_of(sentences.retrieve("Tyreek Hill 153 receiving yards", 1), "Tyreek") == 1


def test_unrefreshed_retriever_notices_a_changed_collection(tmp_path: Path,
                                                             embedder: Embedder) -> None:
    home = tmp_path / "home"
    assistant = Assistant(home=home, embedder=embedder)
    assistant.ingest(write_articles(tmp_path / "src", "a.jsonl", ARTICLES[:1]))
    retriever = HybridRetriever(assistant.store, assistant.embedder, home / "bm25")
    retriever.refresh()
    assistant.ingest(write_articles(tmp_path / "src2", "b.jsonl", ARTICLES[5:6]))
    # No refresh call: the store's write token changed, so the next query brings the
    # side index up to date (dense search alone could find the new chunk anyway).
    assert rank_of(retriever.retrieve("Tyreek Hill 153 receiving yards", 1), "Tyreek") == 1
    assert len(retriever._ensure_index()) == 2


def test_settings_choose_the_retriever(tmp_path: Path, embedder: Embedder) -> None:
    assistant = Assistant(home=tmp_path / "home", embedder=embedder)
    hybrid = make_retriever(Settings(home=tmp_path / "home"), assistant.store, embedder)
    assert isinstance(hybrid, HybridRetriever)
    assert hybrid.index_dir == tmp_path / "home" / "bm25" / "rag"
    dense = make_retriever(Settings(hybrid=False), assistant.store, embedder)
    assert isinstance(dense, DenseRetriever)
    dense.refresh()


def test_unwritable_index_dir_still_answers(tmp_path: Path, embedder: Embedder,
                                            caplog: pytest.LogCaptureFixture) -> None:
    assistant = Assistant(home=tmp_path / "home", embedder=embedder)
    assistant.ingest(write_articles(tmp_path / "src", "a.jsonl", ARTICLES[4:5]))
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the index folder should be")
    retriever = HybridRetriever(assistant.store, assistant.embedder, blocker / "bm25")
    assert rank_of(retriever.retrieve("Google $26.3 billion", 1), "$26.3 billion") == 1
    assert "could not save the retrieval index" in caplog.text


def test_empty_collection_returns_nothing(tmp_path: Path, embedder: Embedder) -> None:
    assistant = Assistant(home=tmp_path / "home", embedder=embedder)
    retriever = HybridRetriever(assistant.store, assistant.embedder, tmp_path / "bm25")
    assert retriever.retrieve("anything at all", 5) == []


# -- pieces ---------------------------------------------------------------------------------


def test_rrf_rewards_agreement() -> None:
    fused = rrf([["a", "b", "c"], ["b", "a"]], [1.0, 1.0], k=60)
    assert fused["a"] == fused["b"] > fused["c"]
    assert rrf([["a"], ["b"]], [2.0, 1.0])["a"] > rrf([["a"], ["b"]], [2.0, 1.0])["b"]


def test_tokenize_keeps_numbers_whole() -> None:
    assert tokenize("A 10,000-mAh bank for $26.3 billion") == ["10000", "mah", "bank",
                                                                "26.3", "billion"]


SOURCES = ["The Verge", "TechCrunch", "Sporting News", "Wired", "Fortune", "The Age",
           "FOX News - Health", "FOX News - Lifestyle", "The Independent - Life and Style",
           "Cnbc | World Business News Leader", "CBSSports.com", "The New York Times",
           "BBC News - Entertainment & Arts"]


@pytest.mark.parametrize("question, expected", [
    ("Does the TechCrunch article agree with The Verge?", [{"TechCrunch"}, {"The Verge"}]),
    ("what did techcrunch say", [{"TechCrunch"}]),
    ("According to THE VERGE and sporting News", [{"The Verge"}, {"Sporting News"}]),
    ("a report from 'Sporting News' on Sunday", [{"Sporting News"}]),
    ("as reported by Fox News", [{"FOX News - Health", "FOX News - Lifestyle"}]),
    ("The Independent reported", [{"The Independent - Life and Style"}]),
    ("the Cnbc | World Business News Leader report", [{"Cnbc | World Business News Leader"}]),
    ("CNBC said", [{"Cnbc | World Business News Leader"}]),
    ("per CBSSports.com and CBSSports", [{"CBSSports.com"}, {"CBSSports.com"}]),
    ("a New York Times piece and a BBC report",
     [{"The New York Times"}, {"BBC News - Entertainment & Arts"}]),
    # Ordinary words that happen to be outlet names, written as words.
    ("The company was on the verge of collapse and made a fortune in the age of AI", []),
    ("The age of AI. The verge of a deal.", []),
])
def test_outlet_recognition(question: str, expected: list[set[str]]) -> None:
    found = OutletMatcher(SOURCES).find(question)
    assert [set(m.sources) for m in found] == expected


def test_outlet_matcher_only_knows_the_corpus() -> None:
    assert OutletMatcher(["Wired"]).find("Bloomberg and Reuters reported") == []


def test_outlet_names_whose_letters_change_when_lowered_do_not_crash() -> None:
    matcher = OutletMatcher(["Hürriyet Daily News", "Kathimerini"])
    # "İ" lowers to two characters; a Greek final sigma casefolds like a plain one.
    assert matcher.find("What did HÜRRİYET DAILY NEWS report?") == []
    found = matcher.find("What did HÜRRIYET DAILY NEWS report?")
    assert [set(m.sources) for m in found] == [{"Hürriyet Daily News"}]
    # A final sigma written as a plain one: the pattern matches it, the lookup must too.
    greek = OutletMatcher(["Ελευθεροτυπίας"]).find("Τι έγραψε η Ελευθεροτυπίασ;")
    assert [set(m.sources) for m in greek] == [{"Ελευθεροτυπίας"}]


@pytest.mark.parametrize("text, year, month, day, relation", [
    ("on 2023-11-24 the", 2023, 11, 24, "on"),
    ("published on November 24, 2023,", 2023, 11, 24, "on"),
    ("on Nov. 24, 2023", 2023, 11, 24, "on"),
    ("on 24 November 2023", 2023, 11, 24, "on"),
    ("in Nov 2023", 2023, 11, None, "on"),
    ("on October 18th", None, 10, 18, "on"),
    ("before December 5, 2023", 2023, 12, 5, "before"),
    ("after September 28, 2023", 2023, 9, 28, "after"),
])
def test_date_recognition(text: str, year: int | None, month: int, day: int | None,
                          relation: str) -> None:
    (mention,) = find_dates(text)
    assert (mention.year, mention.month, mention.day, mention.relation) == (
        year, month, day, relation)
    assert text[mention.start : mention.end] == mention.text


def test_no_dates_in_ordinary_words() -> None:
    assert find_dates("They may 5 times march on, in 2,000 yards") == []


def test_date_scores_are_soft() -> None:
    (day,) = find_dates("on 2023-11-24")
    assert day.score(published_ts("2023-11-24T15:42:21+00:00")) == 1.0
    assert day.score(published_ts("2023-11-25T00:00:29+00:00")) == 0.5
    assert day.score(published_ts("2023-12-24T00:00:00+00:00")) == 0.0
    assert day.score(None) == 0.0
    (month,) = find_dates("in Nov 2023")
    assert month.score(published_ts("2023-11-02")) == 1.0
    assert month.score(published_ts("2022-11-02")) == 0.0
    (before,) = find_dates("before December 5, 2023")
    assert before.score(published_ts("2023-12-01")) > 0
    assert before.score(published_ts("2023-12-05")) == 0.0  # not the day itself
    assert before.score(published_ts("2023-12-06")) == 0.0
    (after,) = find_dates("after December 5, 2023")
    assert after.score(published_ts("2023-12-05")) == 0.0
    assert after.score(published_ts("2023-12-06")) > 0
    (after_month,) = find_dates("after November 2023")
    assert after_month.score(published_ts("2023-12-05")) > 0
    assert after_month.score(published_ts("2023-11-15")) == 0.0
    (before_month,) = find_dates("before November 2023")
    assert before_month.score(published_ts("2023-10-20")) > 0
    assert before_month.score(published_ts("2023-11-15")) == 0.0
    assert month.score(published_ts("9999-12-31T23:00:00-05:00")) == 0.0  # past year 9999


def test_entities_are_names_numbers_and_quotes() -> None:
    entities = find_entities("Did Jordan Love throw for 76 yards in 'Sunday Night Football' "
                             "against the Miami Dolphins?")
    assert "Jordan Love" in entities
    assert "76 yards" in entities
    assert "Sunday Night Football" in entities
    assert "Miami Dolphins" in entities


def test_decomposition_per_outlet_date_and_clause() -> None:
    matcher = OutletMatcher(SOURCES)
    outlets = analyse("Does the Sporting News article say Jordan Love will shine, while the "
                      "CBSSports.com article reports on Derrick Henry's two touchdowns?", matcher)
    assert [sorted(p.sources) for p in outlets.parts] == [["Sporting News"], ["CBSSports.com"]]
    assert "Jordan Love" in outlets.parts[0].text and "Derrick Henry" in outlets.parts[1].text

    dates = analyse("Did TechCrunch report on Google on October 31, 2023, and again on "
                    "December 15, 2023, consistently?", matcher)
    assert [[d.text for d in p.dates] for p in dates.parts] == \
        [["October 31, 2023"], ["December 15, 2023"]]
    assert all(p.sources == {"TechCrunch"} for p in dates.parts)

    clauses = analyse("Which company, reported by TechCrunch, spent billions on default search "
                      "deals, restrains app distribution markets, and unveiled new hardware?",
                      matcher)
    assert len(clauses.parts) == 3
    assert all(p.sources == {"TechCrunch"} for p in clauses.parts)

    assert analyse("Why did the peacekeepers leave?", matcher).parts == []


# -- the benchmark harness -------------------------------------------------------------------


def test_score_query_follows_the_benchmark_definition() -> None:
    passages = [Passage("d1", "Noise.", 0, 6, 0.0), Passage("d2", "Fact one.  Fact two.", 0, 20,
                                                            0.0)]
    scores = score_query(["Fact one.", "Fact  two.", "Fact three."], passages, 2)
    assert scores["hits@4"] == scores["hits@2"] == 2 / 3
    assert scores["all@2"] == 0.0
    assert scores["mrr@2"] == 0.5


def test_retrieval_bench_runs_end_to_end(tmp_path: Path, embedder: Embedder) -> None:
    articles = write_articles(tmp_path, "articles.jsonl", ARTICLES)
    queries = tmp_path / "queries.jsonl"
    rows = [
        {"id": "1", "question_type": "comparison_query",
         "question": "Does The Verge mention a travel adapter while Wired tests a power bank?",
         "evidence": [{"fact": ARTICLES[0]["body"]}, {"fact": ARTICLES[1]["body"]}]},
        {"id": "2", "question_type": "inference_query",
         "question": "Which company spent $26.3 billion to be the default search engine?",
         "evidence": [{"fact": ARTICLES[4]["body"]}]},
        {"id": "3", "question_type": "null_query",
         "question": "What did Bloomberg report about Zanzibar's cobalt exports?",
         "evidence": []},
    ]
    queries.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "retrieval.json"

    result = run_retrieval_bench(articles, queries, k=3, json_out=out, embedder=embedder)

    assert result["scored_queries"] == 2 and result["null_queries"] == 1
    hybrid = result["systems"]["hybrid"]
    assert hybrid["hits@3"] == 1.0 and hybrid["all@3"] == 1.0
    assert hybrid["null_refusal@k"] == 1.0
    assert set(hybrid["by_type"]) == {"comparison_query", "inference_query"}
    assert result["ratio"]["hybrid"]["hits@3"] == pytest.approx(
        hybrid["hits@3"] / result["systems"]["dense"]["hits@3"], abs=1e-3)
    assert json.loads(out.read_text())["k"] == 3
    assert "| hits@3 |" in out.with_suffix(".md").read_text()
    assert "hits@3" in format_table(result)


def test_time_fit_follows_the_question_dates_or_its_now() -> None:
    april5, april15 = published_ts("2024-04-05"), published_ts("2024-04-15")
    assert time_fit("What happened on April 5, 2024?", [april5, april15, None]) == \
        [1.0, 0.0, 0.0]
    assert time_fit("How many ships have docked so far?", [april5, april15, None]) == \
        [1.0 - 10 / 30, 1.0, 0.0]
    assert time_fit("How many ships docked?", [april5, april15]) == [0.0, 0.0]
    # A period no report fits leaves "now" to decide: the quoted "last year" was 2023's.
    assert time_fit("As of now, how many ships docked last year?", [april5, april15],
                    today=date(2026, 12, 7)) == [1.0 - 10 / 30, 1.0]
    assert time_fit("How many ships docked last month?", [april5, april15],
                    today=date(2024, 5, 2)) == [1.0, 1.0]


def test_a_now_question_takes_a_storys_newest_document() -> None:
    def passage(doc: str, published_at: str) -> Passage:
        return Passage(chunk_id=f"{doc}:0", doc_id=doc, text="t", start=0, end=1, score=0.5,
                       published_at=published_at, story="story-1")

    ranked = [passage("old", "2024-04-05"), passage("new", "2024-04-15"),
              passage("undated", "")]
    assert [p.doc_id for p in one_per_story(ranked, 2)] == ["old"]
    assert [p.doc_id for p in one_per_story(ranked, 2, newest=True)] == ["new"]
