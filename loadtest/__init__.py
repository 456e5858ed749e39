"""The load tester: simulated players and spectators against a deployment, with reports.

``elysium loadtest`` (or ``python -m loadtest``) runs a scenario file over worker processes
and writes a JSON report and a self-contained HTML report. See ``docs/loadtest.md``.
"""
