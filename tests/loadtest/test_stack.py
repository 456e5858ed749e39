"""The local stack the load tester starts: a service that dies under the run is named, not only counted."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from loadtest.stack import LocalStack
from tests.waiting import wait_until


def test_a_stack_whose_service_died_says_which(tmp_path: Path) -> None:
    stack = LocalStack(str(tmp_path / "stack"))
    try:
        stack.start()
        assert stack.problem() is None
        pid = stack.gameserver_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        problem = wait_until(stack.problem, timeout_s=30, what="the stack noticing its game server died")
    finally:
        stack.stop()
    assert problem.startswith("the local stack stopped during the run: gameserver exited with status -9")
