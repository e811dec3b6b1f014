"""Indexing: the embedder (`embeddings`) and the Chroma store (`store`)."""
