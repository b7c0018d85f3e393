"""Release pipeline: from the one marked reference to the student release.

See `pipeline.py` for the ordered steps and docs/release.md for staff usage::

    python -m data_scripts.release            # regenerate and build
    python -m data_scripts.release --check    # drift check (CI)
"""
