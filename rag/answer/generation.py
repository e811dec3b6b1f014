"""LLM backends behind one small interface, plus the two LLM-backed helpers.

`OpenAIGenerator` talks to any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM,
llama.cpp, Ollama, LM Studio); `rag.answer.local_llm.LocalGenerator` (`llm="local"`) runs
a packaged model in this process. The SDK's own retries are off: they would each get the full
timeout, so a user who set 30 s could wait 90. Here one deadline covers every attempt and
every back-off, and whatever goes wrong ends in a `GenerationError` with a short reason the
assistant can show before falling back to an extractive answer.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import openai
from openai.types.chat import ChatCompletionMessageParam

from rag.answer.prompts import escape_text, render_prompt
from rag.config import DEFAULT_PROMPTS_DIR, MAX_QUESTION_CHARS, Settings
from rag.errors import ConfigError, GenerationError

_T = TypeVar("_T")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_MAX_BACKOFF = 4.0
_MAX_REASON_CHARS = 200
# An answer is a few cited sentences; a megabyte reply is a fault or an attack, and the
# sentence splitter must never be handed one.
MAX_REPLY_CHARS = 20_000
# Enough turns to resolve "it" and "they"; older turns cost tokens and rarely matter.
_HISTORY_TURNS = 6
_HISTORY_TURN_CHARS = 600


class Generator(Protocol):
    """A backend may also offer `answer_messages(question, passages, answerer)`, its own
    prompt for an answer (the local model's is shorter); the chain then uses it."""

    name: str
    # False for a model whose "the sources don't say" is not to be trusted either way:
    # the answerer then decides whether there is an answer, and the model only phrases it.
    decides_answerability: bool

    def complete(self, messages: list[dict[str, Any]]) -> str:
        """The whole reply text."""
        ...

    def stream(self, messages: list[dict[str, Any]]) -> Iterator[str]:
        """Reply text deltas; raises `GenerationError` unless the reply finished normally."""
        ...


class OpenAIGenerator:
    name = "openai"
    decides_answerability = True

    def __init__(self, settings: Settings) -> None:
        self.model = settings.llm_model
        self._budget = settings.llm_timeout
        self._retries = max(0, settings.llm_retries)
        self._max_tokens = settings.llm_max_tokens
        self._client = openai.OpenAI(
            # Passed explicitly so the SDK never falls back to reading the environment.
            base_url=settings.openai_base_url or DEFAULT_BASE_URL,
            api_key=settings.openai_api_key or "not-needed",
            timeout=settings.llm_timeout,
            max_retries=0,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAIGenerator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def complete(self, messages: list[dict[str, Any]]) -> str:
        completion = self._with_retries(
            lambda timeout: self._client.chat.completions.create(
                model=self.model,
                messages=cast(list[ChatCompletionMessageParam], messages),
                temperature=0,
                max_tokens=self._max_tokens,
                timeout=timeout,
            )
        )
        choice = _first_choice(completion)
        _check_finish(getattr(choice, "finish_reason", None))
        content = getattr(getattr(choice, "message", None), "content", None)
        if not isinstance(content, str):
            raise GenerationError("LLM endpoint returned no answer text")
        if len(content) > MAX_REPLY_CHARS:
            raise GenerationError(_too_long())
        return content

    def stream(self, messages: list[dict[str, Any]]) -> Iterator[str]:
        # Only opening the stream is retried: once text has been yielded, a retry would
        # repeat it. The rest of the same deadline then bounds the whole stream, not each
        # wait for a chunk: a server trickling one chunk a second would otherwise keep an
        # answer (and a UI worker) busy for as long as it liked. The stream is read by a
        # worker thread, so a wait for the next chunk ends at the deadline however the
        # socket behaves; the worker closes the stream at its next chunk or read timeout.
        deadline = time.monotonic() + self._budget
        chunks = self._with_retries(
            lambda timeout: self._client.chat.completions.create(
                model=self.model,
                messages=cast(list[ChatCompletionMessageParam], messages),
                temperature=0,
                max_tokens=self._max_tokens,
                stream=True,
                timeout=timeout,
            ),
            deadline,
        )
        stop = threading.Event()
        received: queue.SimpleQueue[Any] = queue.SimpleQueue()
        threading.Thread(target=_read_stream, args=(chunks, received, stop),
                         name="rag-llm-stream", daemon=True).start()
        finish_reason: str | None = None
        length = 0
        try:
            while True:
                remaining = deadline - time.monotonic()
                try:
                    item = received.get(timeout=remaining) if remaining > 0 else None
                except queue.Empty:
                    item = None
                if item is None:
                    raise GenerationError(self._timed_out())
                if item is _DONE:
                    break
                if isinstance(item, GenerationError):
                    raise item
                choice = _first_choice(item, allow_empty=True)
                if choice is None:
                    continue
                delta = getattr(getattr(choice, "delta", None), "content", None)
                if delta:
                    length += len(delta)
                    if length > MAX_REPLY_CHARS:
                        raise GenerationError(_too_long())
                    yield delta
                finish_reason = getattr(choice, "finish_reason", None) or finish_reason
        finally:
            stop.set()  # also when the consumer stopped reading
        _check_finish(finish_reason)

    def _with_retries(self, call: Callable[[float], _T], deadline: float | None = None) -> _T:
        deadline = time.monotonic() + self._budget if deadline is None else deadline
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise GenerationError(self._timed_out())
            retry_after: float | None = None
            try:
                return call(remaining)
            except openai.APITimeoutError:
                failure = GenerationError(self._timed_out())
            except openai.APIConnectionError as exc:
                failure = GenerationError(f"LLM endpoint unreachable: {_cause(exc)}")
            except openai.APIStatusError as exc:
                if exc.status_code != 429 and exc.status_code < 500:
                    raise GenerationError(_status_reason(exc)) from None
                # Overloaded servers send Retry-After with 503 as well as with 429.
                retry_after = _retry_after(exc.response.headers)
                failure = GenerationError(
                    "rate limited (429) by the LLM endpoint"
                    if exc.status_code == 429
                    else f"LLM endpoint returned {exc.status_code}"
                )
            except openai.APIError as exc:
                raise GenerationError(
                    f"LLM endpoint sent an invalid reply: {_short(exc.message)}"
                ) from None
            except ValueError:
                raise GenerationError("LLM endpoint returned malformed JSON") from None
            attempt += 1
            if attempt > self._retries:
                raise failure
            wait = retry_after if retry_after is not None else _backoff(attempt)
            remaining = deadline - time.monotonic()
            if wait >= remaining:
                if retry_after is not None:
                    raise GenerationError(
                        f"{failure.reason}; it asks to retry after {retry_after:g} s, more than "
                        f"the {max(remaining, 0):.1f} s left of the {self._budget:g} s budget"
                    )
                raise failure
            time.sleep(wait)

    def _timed_out(self) -> str:
        return f"LLM endpoint timed out after {self._budget:g} s"


_DONE = object()


def _read_stream(chunks: openai.Stream[Any], into: queue.SimpleQueue[Any],
                 stop: threading.Event) -> None:
    """Moves the chunks of `chunks` into `into` until it ends (`_DONE`), fails (a
    `GenerationError`) or `stop` is set; closes the stream either way."""
    try:
        with chunks:
            for chunk in chunks:
                if stop.is_set():
                    return
                into.put(chunk)
    except openai.APITimeoutError:
        into.put(GenerationError("LLM endpoint stopped sending"))
    except openai.APIConnectionError as exc:
        into.put(GenerationError(f"LLM stream was cut off: {_cause(exc)}"))
    except openai.APIError as exc:
        into.put(GenerationError(f"LLM endpoint reported an error: {_short(exc.message)}"))
    except ValueError:
        into.put(GenerationError("LLM endpoint sent a malformed stream"))
    except Exception as exc:  # a worker must report, never die silently
        into.put(GenerationError(f"LLM stream failed: {_cause(exc)}"))
    into.put(_DONE)


def _too_long() -> str:
    return (f"LLM reply ran past {MAX_REPLY_CHARS:,} characters, far more than an answer; "
            f"it was not read")


def _local_generator(settings: Settings) -> Generator:
    # Imported on demand: the in-process runtime is an optional extra (`rag[local]`).
    from rag.answer.local_llm import LocalGenerator

    return LocalGenerator(settings)


GENERATORS: dict[str, Callable[[Settings], Generator]] = {
    "openai": OpenAIGenerator,
    "local": _local_generator,
}


def get_generator(settings: Settings) -> Generator | None:
    """The configured backend, or None when generation is off (`llm="none"`)."""
    name = settings.llm.strip().lower()
    if name == "none":
        return None
    factory = GENERATORS.get(name)
    if factory is None:
        choices = ", ".join(["none", *sorted(GENERATORS)])
        raise ConfigError(f"unknown LLM backend {settings.llm!r}; choose one of: {choices}")
    return factory(settings)


def rewrite_follow_up(
    generator: Generator,
    question: str,
    history: Sequence[Mapping[str, Any]],
    *,
    prompts_dir: Path = DEFAULT_PROMPTS_DIR,
) -> str:
    """`question` rewritten to stand alone, given chat `history` (messages with "role" and
    "content"). Without history, or when the rewrite comes back unusable, the question is
    returned as asked: a worse query beats no answer."""
    turns = [
        turn for turn in history if isinstance(turn.get("content"), str) and turn["content"].strip()
    ][-_HISTORY_TURNS:]
    if not turns:
        return question
    conversation = "\n".join(
        f"{'User' if turn.get('role') == 'user' else 'Assistant'}: "
        f"{escape_text(_clip(turn['content'], _HISTORY_TURN_CHARS))}"
        for turn in turns
    )
    prompt = render_prompt(
        "condense", prompts_dir, history=conversation, question=escape_text(question)
    )
    rewritten = generator.complete([{"role": "user", "content": prompt}])
    rewritten = _strip_label(rewritten.strip()).strip().strip("\"'“”").strip()
    if not rewritten or len(rewritten) > MAX_QUESTION_CHARS:
        return question
    return rewritten


def judge_claims(
    generator: Generator,
    answer: str,
    context: str | Sequence[str],
    *,
    prompts_dir: Path = DEFAULT_PROMPTS_DIR,
) -> list[dict[str, Any]]:
    """RAGAS-style faithfulness: the answer's claims, each `{"claim": str, "supported": bool,
    "reason": str}`, judged against `context` (one text or a list of passage texts)."""
    passages = [context] if isinstance(context, str) else list(context)
    rendered = "\n".join(
        f'<passage id="{number}">\n{escape_text(text)}\n</passage>'
        for number, text in enumerate(passages, start=1)
    )
    prompt = render_prompt("judge", prompts_dir, sources=rendered, answer=escape_text(answer))
    return _parse_claims(generator.complete([{"role": "user", "content": prompt}]))


def _parse_claims(reply: str) -> list[dict[str, Any]]:
    data = _first_json_value(reply)
    items = data.get("claims") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise GenerationError("judge reply has no list of claims")
    claims = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("claim"), str):
            raise GenerationError("judge reply has a claim without text")
        supported = _as_bool(item.get("supported"))
        if supported is None:
            raise GenerationError("judge reply has a claim without a supported verdict")
        reason = item.get("reason")
        claims.append(
            {
                "claim": item["claim"].strip(),
                "supported": supported,
                "reason": reason.strip() if isinstance(reason, str) else "",
            }
        )
    return claims


def _first_json_value(reply: str) -> Any:
    """The first JSON object or array in `reply`: models wrap JSON in code fences or prose
    even when told not to."""
    decoder = json.JSONDecoder()
    for index, char in enumerate(reply):
        if char in "{[":
            try:
                value, _ = decoder.raw_decode(reply, index)
            except ValueError:
                continue
            if isinstance(value, dict | list):
                return value
    raise GenerationError("judge reply was not valid JSON")


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "yes", "supported"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"false", "no", "unsupported"}:
        return False
    return None


def _strip_label(text: str) -> str:
    label = "standalone question:"
    return text[len(label) :] if text.lower().startswith(label) else text


def _first_choice(response: object, *, allow_empty: bool = False) -> Any:
    # Compatible servers vary, and the SDK does not validate replies strictly.
    choices = getattr(response, "choices", None)
    if isinstance(choices, list) and choices:
        return choices[0]
    if allow_empty and isinstance(choices, list):
        return None
    raise GenerationError("LLM endpoint returned a reply without choices")


def _check_finish(finish_reason: str | None) -> None:
    if finish_reason == "stop":
        return
    if finish_reason == "length":
        raise GenerationError("LLM answer was cut off at the token limit")
    if finish_reason is None:
        raise GenerationError("LLM stream ended before the answer was finished")
    raise GenerationError(f"LLM answer stopped early ({finish_reason})")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        seconds = float(headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _backoff(attempt: int) -> float:
    return min(0.5 * 2 ** (attempt - 1), _MAX_BACKOFF)


def _status_reason(exc: openai.APIStatusError) -> str:
    reason = f"LLM endpoint returned {exc.status_code}"
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else None
    return f"{reason}: {_short(message)}" if isinstance(message, str) and message else reason


def _cause(exc: BaseException) -> str:
    return _short(str(exc.__cause__ or exc)) or type(exc).__name__


def _short(text: str) -> str:
    return _clip(" ".join(text.split()), _MAX_REASON_CHARS)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
