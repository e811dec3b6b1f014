"""One story, many copies: are reprints grouped with their original, and do copies stop
crowding the top passages?

    python -m bench.stories --multihop ../shared/bench/multihop-rag \
        --json evals/results/stories.json

Every MultiHop-RAG article cited as evidence by a query (up to `--reprints`) gets an edited
reprint, the way a wire story reappears elsewhere: another outlet and title, a day later,
one sentence (not the first) dropped, two words dropped, a credit line added. Indexed with
the originals, it should join its original's story (`rag.ingest.stories.Stories`), no
two originals should share one, and retrieval should return one passage per story.

Measured on the development queries: duplicates in the top 10 (passages from two
documents of one original/reprint pair), and Hits@10 of the evidence facts, against the
same queries over the originals alone. The similarity the stories are cut at,
`rag.text.minhash.SAME_STORY`, is checked against the spread of the pairs' estimated
similarities: reprints' lowest and distinct articles' highest.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from random import Random
from typing import Any

import numpy as np

from bench._common import environment, report, shown_path
from bench.retrieval import load_queries, score_query
from rag import Assistant, Passage
from rag.index.embeddings import get_embedder
from rag.text.minhash import SAME_STORY, decode, similarity

K = 10
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z“\"])")


def reprint(article: dict[str, Any], number: int, rng: Random) -> dict[str, Any]:
    sentences = _SENTENCE.split(article["body"].strip())
    if len(sentences) > 2:
        del sentences[rng.randrange(1, len(sentences))]
    words = " ".join(sentences).split(" ")
    for _ in range(2):
        if len(words) > 20:
            del words[rng.randrange(5, len(words))]
    day = article.get("published_at", "")[:10]
    return {**article,
            "title": f"{article['title']} (updated)",
            "source": f"Reprint Wire {number % 7 + 1}",
            "url": f"{article['url']}#reprint",
            "published_at": day and f"{day}T18:00:00+00:00",
            "body": " ".join(words) + "\n\n(Reporting by wire staff; edited.)"}


def _index(folder: Path, rows: list[dict[str, Any]], home: Path) -> Assistant:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "articles.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    assistant = Assistant(home=home, embedder=get_embedder("minilm"))
    ingest = assistant.ingest(folder)
    if not ingest.ok:
        raise SystemExit(f"ingest failed: {ingest.failed[:3]}")
    return assistant


def _retrieval(assistant: Assistant, queries: list[dict[str, Any]],
               pairs: dict[str, str]) -> dict[str, Any]:
    """Hits@10 of the evidence, and top-10 duplicates: two passages from one
    original/reprint pair (`pairs`: doc id -> its pair's key)."""
    hits, duplicated, raw_duplicated = [], 0, 0
    for query in queries:
        facts = [e["fact"] for e in query.get("evidence") or []]
        passages = assistant.retrieve(query["question"], k=K)
        duplicated += _has_copies(passages, pairs)
        # What the top 10 would hold if every passage were kept (the retriever's own
        # ranking, before `Retriever.retrieve` keeps one per story).
        raw = assistant.retriever._retrieve(query["question"], K, None)
        raw_duplicated += _has_copies(raw, pairs)
        if facts:
            hits.append(score_query(facts, passages, K)[f"hits@{K}"])
    return {"queries": len(queries), f"hits@{K}": round(float(np.mean(hits)), 4),
            "queries_with_duplicates_in_top_10": duplicated,
            "queries_with_duplicates_if_every_passage_were_kept": raw_duplicated}


def _has_copies(passages: Sequence[Passage], pairs: dict[str, str]) -> bool:
    owners: dict[str, set[str]] = {}
    for p in passages:
        if p.doc_id in pairs:
            owners.setdefault(pairs[p.doc_id], set()).add(p.doc_id)
    return any(len(docs) > 1 for docs in owners.values())


def run(multihop: Path, reprints: int, seed: int) -> dict[str, Any]:
    articles = [json.loads(line) for line in
                (multihop / "articles.jsonl").read_text("utf-8").splitlines() if line]
    queries = load_queries(multihop / "queries.jsonl")
    cited = {e["url"] for q in queries for e in q.get("evidence") or []}
    rng = Random(seed)
    originals = [a for a in articles if a["url"] in cited]
    chosen = sorted(rng.sample(range(len(originals)), min(reprints, len(originals))))
    copies = [reprint(originals[i], n, rng) for n, i in enumerate(chosen)]
    with tempfile.TemporaryDirectory(prefix="rag-stories-") as tmp:
        work = Path(tmp)
        alone = _index(work / "originals", articles, work / "home-originals")
        before = _retrieval(alone, queries, {})
        alone.close()
        both = _index(work / "with-reprints", articles + copies, work / "home-reprints")
        entries = both.store.manifest()
        by_url = {row["url"]: row["doc_id"] for row in both.store.document_rows()}
        pairs: dict[str, str] = {}
        joined, scores_pairs = 0, []
        for copy in copies:
            original, reprinted = by_url[copy["url"].removesuffix("#reprint")], by_url[copy["url"]]
            pairs[original] = pairs[reprinted] = original
            joined += entries[original].story == entries[reprinted].story
            a, b = decode(entries[original].minhash), decode(entries[reprinted].minhash)
            if a is not None and b is not None:
                scores_pairs.append(float(similarity(a, b[None, :])[0]))
        stories: dict[str, int] = {}
        for url, doc_id in by_url.items():
            if not url.endswith("#reprint"):
                stories[entries[doc_id].story] = stories.get(entries[doc_id].story, 0) + 1
        merged = sum(n - 1 for n in stories.values() if n > 1)
        signatures = np.stack([s for url, doc_id in sorted(by_url.items())
                               if not url.endswith("#reprint")
                               and (s := decode(entries[doc_id].minhash)) is not None])
        distinct_max = _highest_distinct(signatures)
        after = _retrieval(both, queries, pairs)
        both.close()
    return {
        "articles": len(articles), "reprints": len(copies), "same_story_at": SAME_STORY,
        "reprints_joined_to_their_original": joined,
        "originals_merged_into_another_story": merged,
        "reprint_similarity": {"min": round(min(scores_pairs), 4),
                               "median": round(float(np.median(scores_pairs)), 4)},
        "distinct_articles_highest_similarity": round(distinct_max, 4),
        "retrieval_originals_only": before, "retrieval_with_reprints": after,
    }


def _highest_distinct(signatures: np.ndarray) -> float:
    """The highest similarity between two different originals: how close unrelated
    articles come to the cut."""
    best = 0.0
    for i in range(len(signatures) - 1):
        best = max(best, float(similarity(signatures[i], signatures[i + 1 :]).max()))
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stories",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--multihop", type=Path, default=Path("../shared/bench/multihop-rag"))
    parser.add_argument("--reprints", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = parser.parse_args(argv)
    result = {"meta": environment(), "data": shown_path(args.multihop),
              **run(args.multihop, args.reprints, args.seed)}
    before, after = result["retrieval_originals_only"], result["retrieval_with_reprints"]
    lines = [
        f"{result['reprints']} reprints of {result['articles']} articles: "
        f"{result['reprints_joined_to_their_original']} joined their original's story, "
        f"{result['originals_merged_into_another_story']} originals merged into another",
        f"similarity: reprints min {result['reprint_similarity']['min']}, distinct articles "
        f"max {result['distinct_articles_highest_similarity']} (cut at {SAME_STORY})",
        f"top {K}: hits {before[f'hits@{K}']} originals only, {after[f'hits@{K}']} with "
        f"reprints; queries with duplicates {after['queries_with_duplicates_in_top_10']} "
        f"({after['queries_with_duplicates_if_every_passage_were_kept']} if every passage "
        "were kept)",
    ]
    return report(result, args.json, lines)


if __name__ == "__main__":
    raise SystemExit(main())
