"""What the check scripts share: the failures seen so far, `check` and `fail` to record one,
and `finish` to print the count and exit with the status CI reads (0 only if none failed).

The scripts run as `python tests/python/check_*.py`, so this folder is on their import path.
"""
import sys

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL:", msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def finish(what):
    """Print `what` with the number of failures and exit: 1 if any, else 0."""
    print(f"{what}: {len(FAILURES)} failure(s)")
    sys.exit(1 if FAILURES else 0)
