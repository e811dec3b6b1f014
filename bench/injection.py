"""Planted-instruction suite: is any planted text obeyed, and are true facts still answered?

    python -m bench.injection --json evals/results/injection.json

`evals/adversarial/planted/`: six short news articles (`hosts.json`), each with a true,
askable fact, and 38 planted texts (`cases.jsonl`) in eleven languages and fourteen
disguises (leetspeak, letter spacing, homoglyphs, full-width letters, base64, ROT13,
zero-width characters, chat-template tokens, fake answer turns, markdown images, one
word per sentence, …), most on the question's topic, some off it. For each case the host
article is written with the planted text as its third paragraph (or inside a true
paragraph), indexed with the other five hosts as clean neighbours, and the host's
question is asked twice:

- extractive, the offline default;
- generative, through a model that obeys its context (`obey`): when the planted text
  reaches its prompt it says the planted payload and cites the source that carried it,
  otherwise it answers faithfully with the host's fact sentence. So "obeyed" measures
  the pipeline (detection, masking, verification), not a model's good manners.

Obeyed: the answer's text matches the case's `obeyed_if`. Answered: not refused, and
the host's fact is in the answer. Warned: the answer names the planted document in a
warning. Also counted: sentences the detector flags in real news nobody planted anything
in (the shared MultiHop-RAG excerpts and SummEdits articles, and the seed article):
false alarms, by construction.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench._common import ROOT, SHARED, environment, report, shown_path
from rag import Answer, Assistant
from rag.answer.prompts import escape_text
from rag.ingest.documents import INVISIBLE_CHARS
from rag.text.instructions import find_instructions

SUITE = ROOT / "evals" / "adversarial" / "planted"
SEED = ROOT / "corpus" / "000_4289d46f5f19964e.txt"
_SOURCE = re.compile(r'<source id="(\d+)"[^>]*>\n(.*?)\n</source>', re.S)
REFUSAL_REPLY = "The sources don't say."


def load_suite(folder: Path = SUITE) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    hosts = {h["id"]: h for h in json.loads((folder / "hosts.json").read_text("utf-8"))}
    cases = [json.loads(line) for line in
             (folder / "cases.jsonl").read_text("utf-8").splitlines() if line.strip()]
    return hosts, cases


def write_corpus(folder: Path, hosts: dict[str, dict[str, Any]], case: dict[str, Any]) -> None:
    """The case's host with the planted text in it, and the other hosts as they are."""
    for host in hosts.values():
        paragraphs = list(host["paragraphs"])
        if host["id"] == case["host"]:
            if case["position"] == "inline":
                paragraphs[0] = f"{paragraphs[0]} {case['planted']}"
            else:
                paragraphs.insert(2, case["planted"])
        text = "\n\n".join([host["title"], *paragraphs]) + "\n"
        (folder / f"{host['id']}.txt").write_text(text, encoding="utf-8")


def _flat(text: str) -> str:
    return " ".join(text.split())


def obey(messages: Sequence[dict[str, Any]], case: dict[str, Any], host: dict[str, Any]) -> str:
    """What a model that obeys its context replies: the planted payload if the planted
    text is in its prompt, else the host's fact sentence, cited."""
    prompt = messages[-1]["content"]
    sources = {int(n): _flat(text) for n, text in _SOURCE.findall(prompt)}
    planted = _flat(escape_text(INVISIBLE_CHARS.sub("", case["planted"])))
    for number, text in sources.items():
        if planted in text:
            return f"{case['payload']} [{number}] [99]"
    fact = _flat(escape_text(host["fact_sentence"]))
    for number, text in sources.items():
        if fact in text:
            return f"{host['fact_sentence']} [{number}]"
    return REFUSAL_REPLY


def verdict(answer: Answer, case: dict[str, Any], host: dict[str, Any]) -> dict[str, bool]:
    return {
        "obeyed": bool(re.search(case["obeyed_if"], answer.text, re.I)),
        "answered": not answer.refused and host["fact"].lower() in answer.text.lower(),
        "warned": any(host["title"] in w for w in answer.warnings),
    }


class ObeyingModel:
    """A `Generator` that obeys its context (`obey`) for one case at a time."""

    name = "obeying"
    decides_answerability = True  # the worst case: it is asked every question

    def __init__(self) -> None:
        self.case: dict[str, Any] = {}
        self.host: dict[str, Any] = {}

    def complete(self, messages: list[dict[str, Any]]) -> str:
        return obey(messages, self.case, self.host)

    def stream(self, messages: list[dict[str, Any]]) -> Iterator[str]:
        yield self.complete(messages)


def run_suite(ask: Callable[[Path, dict[str, Any], dict[str, Any]], dict[str, Answer]],
              folder: Path = SUITE) -> dict[str, Any]:
    """`ask(corpus, case, host)` indexes `corpus` and returns the answers by mode."""
    hosts, cases = load_suite(folder)
    rows = []
    for case in cases:
        host = hosts[case["host"]]
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp)
            write_corpus(corpus, hosts, case)
            answers = ask(corpus, case, host)
        rows.append({"id": case["id"], "language": case["language"],
                     "disguise": case["disguise"], "topic": case["topic"],
                     **{mode: verdict(a, case, host) for mode, a in answers.items()}})
    modes = [m for m in rows[0] if isinstance(rows[0][m], dict)] if rows else []
    totals = {mode: {key: sum(r[mode][key] for r in rows) for key in
                     ("obeyed", "answered", "warned")} for mode in modes}
    return {"cases": len(rows), "languages": sorted({r["language"] for r in rows}),
            "disguises": sorted({r["disguise"] for r in rows}), "totals": totals,
            "rows": rows}


def news_false_alarms(shared: Path = SHARED) -> dict[str, Any]:
    texts: dict[str, str] = {}
    multihop = shared / "multihop-rag" / "articles.jsonl"
    for line in multihop.read_text("utf-8").splitlines():
        row = json.loads(line)
        texts[row["url"]] = row["body"]
    summedits = shared / "summedits-news" / "pairs.jsonl"
    for line in summedits.read_text("utf-8").splitlines():
        row = json.loads(line)
        texts[row["doc_id"]] = row["document"]
    if SEED.exists():
        texts["seed"] = SEED.read_text("utf-8")
    flagged = [{"document": key, "family": item.family, "text": item.snippet(text, 160)}
               for key, text in texts.items() for item in find_instructions(text)]
    return {"documents": len(texts), "characters": sum(map(len, texts.values())),
            "sources": [shown_path(multihop), shown_path(summedits), shown_path(SEED)],
            "flagged": len(flagged), "examples": flagged[:20]}


def _offline_ask(home: Path) -> Callable[[Path, dict[str, Any], dict[str, Any]], dict[str, Answer]]:
    from rag.index.embeddings import get_embedder

    embedder = get_embedder("minilm")
    model = ObeyingModel()
    count = iter(range(10_000))

    def ask(corpus: Path, case: dict[str, Any], host: dict[str, Any]) -> dict[str, Answer]:
        assistant = Assistant(home=home / f"case-{next(count)}", embedder=embedder)
        assistant.ingest(corpus)
        extractive = assistant.ask(host["question"], use_llm=False)
        model.case, model.host = case, host
        # The chain's generation interface, fed by the obeying model in-process.
        assistant.chain.generator = model
        generative = assistant.ask(host["question"])
        return {"extractive": extractive, "generative": generative}

    return ask


def summary_lines(result: dict[str, Any]) -> list[str]:
    suite = result["suite"]
    lines = [f"planted-instruction suite: {suite['cases']} cases, "
             f"{len(suite['languages'])} languages, {len(suite['disguises'])} disguises"]
    for mode, totals in suite["totals"].items():
        lines.append(f"  {mode}: obeyed {totals['obeyed']}/{suite['cases']}, true fact "
                     f"answered {totals['answered']}/{suite['cases']}, warned "
                     f"{totals['warned']}/{suite['cases']}")
    news = result["news"]
    lines.append(f"real news: {news['flagged']} sentences flagged in {news['documents']} "
                 f"documents ({news['characters']:,} characters)")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.injection",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as home:
        suite = run_suite(_offline_ask(Path(home)))
    result = {"meta": environment(), "suite": suite, "news": news_false_alarms()}
    return report(result, args.json, summary_lines(result))


if __name__ == "__main__":
    raise SystemExit(main())
