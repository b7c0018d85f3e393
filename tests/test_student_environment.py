"""The students' environment range: what student/README.md promises, and the command that checks a pair.

The solution notebook's headless run on the pinned pair is tests/test_notebook_headless.py;
other pairs are checked by hand with `python -m data_scripts.student_environment --python PATH`.
"""
from data_scripts import student_environment
from data_scripts.student_environment import OLDEST_SUPPORTED, ROOT


def test_the_student_readme_states_the_oldest_supported_pair():
    torch_version, torchvision_version = OLDEST_SUPPORTED
    readme = (ROOT / "student" / "README.md").read_text()
    assert f"torch {torch_version} / torchvision {torchvision_version}" in readme


def test_the_pinned_pair_is_not_older_than_the_oldest_supported():
    import torch
    import torchvision

    def release(version: str) -> tuple:
        return tuple(int(part) for part in version.split("+")[0].split(".")[:2])

    assert release(torch.__version__) >= release(OLDEST_SUPPORTED[0])
    assert release(torchvision.__version__) >= release(OLDEST_SUPPORTED[1])


def test_an_interpreter_without_torch_is_reported(tmp_path, capsys):
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n")
    python.chmod(0o755)
    assert student_environment.main(["--python", str(python)]) == 1
    assert "cannot import torch and torchvision" in capsys.readouterr().err
