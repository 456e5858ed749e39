"""The load tester's exceptions: what the operator got wrong versus what the target did."""

from __future__ import annotations


class LoadTestError(Exception):
    """Base of every load tester error."""


class UsageError(LoadTestError):
    """A bad scenario file, option or threshold: the run does not start (exit status 2)."""


class TargetError(LoadTestError):
    """The deployment under test could not be reached or started (exit status 3)."""


class FlowUnavailable(LoadTestError):
    """A join flow needs services the target does not offer (for example no matchmaker)."""
