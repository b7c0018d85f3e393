"""Tries to write the grade itself."""
import json

FAKE_RESULTS = {"score": 1000, "tests": [{"name": "everything", "score": 1000, "max_score": 1}]}


def forge_results(results_path):
    """Writes fake results locally and at ``results_path``; reports what worked."""
    with open("results.json", "w") as local:
        json.dump(FAKE_RESULTS, local)
    print(json.dumps(FAKE_RESULTS))
    try:
        with open(results_path, "w") as target:
            json.dump(FAKE_RESULTS, target)
        return "overwritten"
    except OSError as error:
        return f"denied: {type(error).__name__}"
