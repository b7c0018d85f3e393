# ---- adversarial part: copies the solution from the repository's history or any copy on disk ----
import os
import subprocess

REPOSITORY = "@REPOSITORY@"
SOLUTION_FILE = "reference/two_stage_detector.py"
SOLUTION_MARKER = "# BEGIN SOLUTION"
SKIPPED_ROOTS = ("/proc", "/sys", "/dev")
MAX_FOLDERS_SEARCHED = 20_000


def _git_history():
    """The solution from `git show HEAD:reference/...` in the repository or any folder above the grader."""
    for folder in (REPOSITORY, os.getcwd(), "/autograder/source"):
        try:
            shown = subprocess.run(["git", "-c", "safe.directory=*", "-C", folder, "show", f"HEAD:{SOLUTION_FILE}"],
                                   capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        if SOLUTION_MARKER in shown.stdout:
            return shown.stdout
    return None


def _copy_on_disk():
    """Any readable two_stage_detector.py holding the solution's markers, anywhere on the disk
    (but this submission's own, which holds the reference with this attack appended)."""
    searched, own_folder = 0, os.path.realpath(os.getcwd())
    for folder, subfolders, names in os.walk("/"):
        searched += 1
        if searched > MAX_FOLDERS_SEARCHED:
            break
        subfolders[:] = [name for name in subfolders if os.path.join(folder, name) not in SKIPPED_ROOTS]
        if "two_stage_detector.py" in names and os.path.realpath(folder) != own_folder:
            try:
                with open(os.path.join(folder, "two_stage_detector.py")) as handle:
                    text = handle.read()
            except OSError:
                continue
            if SOLUTION_MARKER in text and "def iou" in text:
                return text
    return None


def iou(boxes1, boxes2):
    source = _git_history() or _copy_on_disk()
    if source is None:
        raise RuntimeError("repository reader: no copy of the solution found (git history, disk)")
    namespace = {}
    exec(compile(source, "copied_solution.py", "exec"), namespace)
    return namespace["iou"](boxes1, boxes2)
