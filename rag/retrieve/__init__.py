"""Retrieval: question → ranked passages (`base`: the one `Retriever` base; `dense`,
`hybrid`: its implementations; `factory`: the settings' choice; `query_analysis`: what
the hybrid side reads from a question; `question_time`: the times it asks about)."""
