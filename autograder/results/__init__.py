"""``results.json``: the document, its schema, the score policies and what is derived from it."""
