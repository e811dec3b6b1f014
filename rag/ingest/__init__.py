"""Ingest: loaders (files → documents, a reader per format), chunking (documents → chunks
with exact offsets), the crash-safe pipeline (`pipeline`, writing through `batches`)."""
