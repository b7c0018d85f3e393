"""Loads the grading plugin, so that ``pytest autograder`` grades (see plugin.py)."""

from autograder.plugin import *  # noqa: F401,F403 - hooks and fixtures must be module attributes here
