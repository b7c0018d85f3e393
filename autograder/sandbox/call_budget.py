"""A bound on a whole grade's time in the sandbox, on top of each call's own limit.

Each call has its time limit, but a submission whose every call runs just
under it would make one grade last for hours.  So, during the unit stage:

* a call that times out, or uses more than ``SLOW_FRACTION`` of its limit, is
  a strike against the definitions the running test is tagged with; after
  ``STRIKES_BEFORE_FAIL_FAST`` strikes, the remaining calls of tests tagged
  with such a definition fail at once with a ``Timeout`` that says why;
* once the calls of the stage have used ``UNIT_STAGE_BUDGET_S`` seconds in
  all, every remaining call fails at once the same way.

``Sandbox.call`` consults the budget; the pytest plugin says which test
(its tags) is running and whether its stage counts.
"""

from __future__ import annotations

from collections import Counter

from autograder.errors import Timeout

STRIKES_BEFORE_FAIL_FAST = 2
SLOW_FRACTION = 0.5  # the reference's calls take milliseconds, their limit is tens of seconds
# The unit stage's calls in all (the reference: about 20 s). run_autograder stops a grade at
# 1800 s; the notebook stage may use 480 s of it.
UNIT_STAGE_BUDGET_S = 900.0


class CallBudget:
    """Strikes per graded definition and the seconds used, for one grade."""

    def __init__(self, total_s: float = UNIT_STAGE_BUDGET_S) -> None:
        self.total_s = total_s
        self.spent_s = 0.0
        self.strikes: Counter[str] = Counter()
        self._definitions: tuple[str, ...] = ()
        self._counted = False

    def start_test(self, definitions: tuple[str, ...], counted: bool) -> None:
        """The running test's tags; ``counted`` False (another stage, no test) exempts its calls."""
        self._definitions, self._counted = tuple(definitions), counted

    def before_call(self) -> None:
        """Raise ``Timeout`` if this call must not run."""
        if not self._counted:
            return
        if self.spent_s >= self.total_s:
            raise Timeout(f"Not run: your code's calls used up the {self.total_s:g} s this grade allows for them "
                          "in all, so the remaining tests are not run. Make your code faster.")
        struck = sorted(name for name in self._definitions if self.strikes[name] >= STRIKES_BEFORE_FAIL_FAST)
        if struck:
            raise Timeout(f"Not run: {STRIKES_BEFORE_FAIL_FAST} earlier calls of {', '.join(struck)} timed out or "
                          f"took more than {SLOW_FRACTION:.0%} of their time limit, so its remaining tests are "
                          "not run. Make it faster.")

    def after_call(self, elapsed_s: float, timeout_s: float, timed_out: bool) -> None:
        if not self._counted:
            return
        self.spent_s += elapsed_s
        if timed_out or elapsed_s > SLOW_FRACTION * timeout_s:
            self.strikes.update(self._definitions)
