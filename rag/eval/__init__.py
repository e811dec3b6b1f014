"""Evaluation: gold cases (`gold`), metrics (`metrics`), the `rag eval` runner and its
report (`runner`)."""
