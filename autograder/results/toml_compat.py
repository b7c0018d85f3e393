"""``tomllib`` on every supported Python: the standard library's from 3.11, ``tomli`` (a
dependency on 3.10, Gradescope's Ubuntu 22.04) before."""
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["tomllib"]
