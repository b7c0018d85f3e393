"""From an upload to one folder holding exactly the two graded files (and Gradescope's metadata)."""
