"""Adapters that put `rag` inside other frameworks' pipelines (`llama_index`)."""
