"""Answering: the backends that turn retrieved passages into an answer.

`rag.answer.local_llm` is the in-process generator (`RAG_LLM=local`): a packaged GGUF model
run by llama.cpp through `xllamacpp`, behind the same `Generator` protocol as the
OpenAI-compatible backend in `rag.generation`, so prompts, marker parsing, span narrowing
and per-sentence verification are the chain's, shared by both.
"""
