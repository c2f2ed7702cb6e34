"""Shared by the compat check scripts (standard library only): a check registry, a wait for the
gateway to answer, and the runner that prints one PASS/FAIL line per check and "N passed, M
failed" last.
"""

import sys
import time
import traceback


class Checks(list):
    """The checks of one script, in the order they were registered."""

    def check(self, function):
        """Register a check; its docstring's first line is its name in the report."""
        self.append(function)
        return function


def user(text):
    return [{"role": "user", "content": text}]


def wait_for(probe, retry_on, where, wait_secs):
    """Call `probe` until it stops raising `retry_on`, so a slow start is not a failed check;
    exit 1 after `wait_secs`."""
    deadline = time.monotonic() + wait_secs
    while True:
        try:
            probe()
            return
        except retry_on as e:
            if time.monotonic() >= deadline:
                print(f"the gateway at {where} did not answer within {wait_secs:g} s: {e}")
                sys.exit(1)
            time.sleep(0.2)


def run(checks):
    """Run every check; returns the exit status (1 if any check failed)."""
    passed = failed = 0
    for function in checks:
        name = (function.__doc__ or function.__name__).strip().splitlines()[0]
        try:
            function()
        except AssertionError as e:
            failed += 1
            print(f"FAIL {function.__name__}: {name}\n     {e}")
        except Exception as e:  # an SDK error is a failure of this check, not of the run
            failed += 1
            print(f"FAIL {function.__name__}: {name}\n     {type(e).__name__}: {e}")
            traceback.print_exc(limit=3)
        else:
            passed += 1
            print(f"PASS {function.__name__}: {name}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
