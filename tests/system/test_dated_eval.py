"""`rag eval --dated DIR`: the dated questions (`rag.eval.dated`) over a MultiHop-RAG-style
folder, run through the CLI on a tiny invented one."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from rag import Assistant
from rag.cli import main
from rag.eval.dated import KINDS, build
from rag.index.embeddings import MiniLMEmbedder

# Published on the 29th: an update 3-40 days later always falls in another month, so
# every anchor is also asked about by month.
_DAY = "2023-10-29T08:00:00+00:00"
_ARTICLES = [
    ("https://harbour.example/port", "Harbour Times", "Ships return to the river port",
     "The storm closed the river port for a week. The harbour master said 57 ships had "
     "docked at the river port since the storm. Pilots expect calmer weather."),
    ("https://valley.example/homes", "Valley Courier", "Council approves the mill housing plan",
     "The county council approved the new housing plan on Tuesday. The plan says 240 homes "
     "will be built north of the old mill. Residents asked for a new school."),
    ("https://coast.example/catch", "Coastal Wire", "A poor season for the east coast fleet",
     "Fishermen on the east coast reported a poor season. Officials said the catch of cod "
     "fell by 35 percent compared with the spring. Prices at the fish market rose."),
    ("https://mountain.example/ski", "Mountain Post", "The ski resort opens early",
     "The ski resort above the lake opened early. Its owners said 1,200 visitors arrived "
     "on the opening weekend. More snow is forecast."),
    # Cited by no query: indexed beside the others, never an anchor.
    ("https://city.example/tram", "City Ledger", "The tram line extension",
     "Work on the tram line extension began in the east of the city. Engineers said 14 "
     "new stops would open along the route."),
]


def _multihop(folder: Path) -> Path:
    folder.mkdir()
    rows = [{"title": title, "source": source, "author": "A. Writer", "published_at": _DAY,
             "category": "news", "url": url, "body": body}
            for url, source, title, body in _ARTICLES]
    (folder / "articles.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    def evidence(row: dict[str, str]) -> dict[str, str]:
        return {"url": row["url"], "source": row["source"], "title": row["title"],
                "published_at": row["published_at"], "fact": row["body"].split(". ")[1]}

    queries = [  # the real file's `evidence`, and the original release's `evidence_list`
        {"id": "1", "question": "What changed at the port and the mill?",
         "question_type": "comparison_query", "answer": "Both grew",
         "evidence": [evidence(rows[0]), evidence(rows[1])]},
        {"id": "2", "question": "What did the coast and the resort report?",
         "question_type": "inference_query", "answer": "A poor catch, many visitors",
         "evidence_list": [evidence(rows[2]), evidence(rows[3])]},
        {"id": "3", "question": "Who won the cup?", "question_type": "null_query",
         "answer": "Insufficient information.", "evidence": []},
    ]
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    return folder


def test_the_dated_set_anchors_every_cited_article_with_a_count(tmp_path: Path) -> None:
    dated = build(_multihop(tmp_path / "multihop"))
    assert len(dated.articles) == 5
    assert sorted(u["url"] for u in dated.updates) == sorted(
        url + "#update" for url, *_ in _ARTICLES[:4])
    assert {a["kind"] for a in dated.asked} == set(KINDS)
    assert len(dated.asked) == 4 * len(KINDS)
    latest = [a for a in dated.asked if a["kind"] == "latest"]
    assert all(a["expected"].endswith("#update") for a in latest)
    # Each anchor's event falls between its two versions, under a name the questions use.
    versions = {a["url"]: a["published_at"] for a in dated.articles + dated.updates}
    assert len(dated.events) == 4
    for report in dated.events:
        original = report["url"].removesuffix("#event")
        assert versions[original] < report["published_at"] < versions[original + "#update"]
        name = report["title"].removesuffix(" opens")
        asked = [a for a in dated.asked if a["kind"].endswith("_event")
                 and a["expected"] in (original, original + "#update")]
        assert sorted(a["question"].split(",")[0] for a in asked) == [
            f"After the {name}", f"Before the {name}"]


def test_rag_eval_dated_scores_each_kind_and_cites_the_update_for_the_latest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], embedder: MiniLMEmbedder) -> None:
    folder = _multihop(tmp_path / "multihop")
    home, out = tmp_path / "home", tmp_path / "out"
    code = main(["--home", str(home), "eval", "--dated", str(folder), "--out", str(out),
                 "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    result = json.loads((out / "dated.json").read_text(encoding="utf-8"))
    assert (result["articles"], result["anchors"], result["questions"]) == (5, 4, 28)
    assert printed.splitlines()[0] == "28 dated questions on 4 updated articles (of 5)"
    assert [line.split(":")[0] for line in printed.splitlines()[1:4]] == [
        "all", "fit", "held_out"]
    figures = result["all"]
    assert list(figures["by_kind"]) == list(KINDS)
    assert all(v["n"] == 4 for v in figures["by_kind"].values())
    assert sum(h["n"] for h in result["halves"].values()) == 28
    # "As of now, ...?" must lead with the update and date the answer by its day.
    assert figures["by_kind"]["latest"]["right"] == 1.0, result["wrong"]
    for kind in ("on_original", "on_update", "before", "before_event", "after_event"):
        assert figures["by_kind"][kind]["right"] == 1.0, (kind, result["wrong"])
    assert figures["right"] * 28 == 28 - len(result["wrong"])
    # The set had an index of its own: --home holds none of its articles.
    with Assistant(home=home, embedder=embedder) as assistant:
        assert assistant.stats()["documents"] == 0


def test_rag_eval_dated_needs_a_multihop_folder(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["--home", str(tmp_path / "home"), "eval", "--dated",
                 str(tmp_path / "empty")]) == 2
    assert "no articles.jsonl or queries.jsonl" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one set or the other
        main(["eval", "--dated", str(tmp_path), "--dataset", str(tmp_path / "x.jsonl")])


def test_the_package_never_imports_the_benches_and_they_share_its_edit() -> None:
    import bench.conflicts
    import bench.dated
    import rag.eval.dated

    package = Path(rag.__file__).resolve().parent
    upward = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            upward += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "bench"]
    assert not upward
    assert bench.conflicts.changed_value is rag.eval.dated.changed_value
    assert bench.conflicts.digit_mentions is rag.eval.dated.digit_mentions
    assert bench.dated.make_update is rag.eval.dated.make_update
