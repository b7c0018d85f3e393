"""Grading a class at once: submissions, one subprocess per submission, records, shards, gradebook, similarity."""
