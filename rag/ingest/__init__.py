"""Ingest: loaders (files → documents), chunking (documents → chunks with exact
offsets), the crash-safe pipeline (`pipeline`)."""
