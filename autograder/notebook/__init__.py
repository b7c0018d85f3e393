"""The notebook stage: re-run the student's notebook headless and judge the checkpoint it saves."""
