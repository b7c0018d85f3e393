"""The course's own files the grader reads by path at run time, in the trusted process.

``reference_solution``: the staff's solution (``reference/``), imported under
private names, for the unit stage's expected values and the notebook stage's
own detector. ``course_files``: the helper modules the release notebook
imports (``detection_helpers``, ``voc_map``), for the kernel and for scoring.
Nothing here imports the rest of the grader, so every stage can use it.
"""
