"""The unit stage: cases, reference expectations, golden records and the judges the graded tests use."""
