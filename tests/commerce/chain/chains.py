"""The embedded chain for tests: ``elysium chain`` as a process on a free port, with its state folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from commerce.chain.embedded import ChainFiles
from elysium import procs


@dataclass
class ChainProcess:
    proc: subprocess.Popen[str]
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def files(self) -> ChainFiles:
        return ChainFiles(self.folder)

    def deployment(self) -> dict[str, object]:
        return self.files.read_deployment()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_chain(folder: Path, port: int | None = None) -> ChainProcess:
    """Start ``elysium chain`` and wait for its listening line (the contracts are deployed by then)."""
    port = port or procs.free_port()
    env = {**os.environ, "ELYSIUM_CHAIN_STATE_DIR": str(folder)}
    proc = subprocess.Popen([sys.executable, "-m", "elysium", "chain", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(10)
        raise RuntimeError(f"elysium chain exited with {proc.returncode}")
    assert json.loads(line)["event"] == "listening", line
    return ChainProcess(proc, port, folder)


def chain_env(chain: ChainProcess) -> dict[str, str]:
    """What commerce needs to reach ``chain`` (as elysium up hands it)."""
    from commerce.cli import embedded_chain_env

    return {"ELYSIUM_CHAIN_URL": chain.url, **embedded_chain_env(chain.folder)}


def chain_settings(chain: ChainProcess, **extra: Any) -> dict[str, Any]:
    """Commerce settings that reach ``chain``, with short polls and leases for tests."""
    env = chain_env(chain)
    return {"chain_url": env["ELYSIUM_CHAIN_URL"], "chain_key_file": env["ELYSIUM_CHAIN_KEY_FILE"],
            "chain_items_address": env["ELYSIUM_CHAIN_ITEMS_ADDRESS"],
            "chain_rights_address": env["ELYSIUM_CHAIN_RIGHTS_ADDRESS"],
            "chain_from_block": int(env["ELYSIUM_CHAIN_FROM_BLOCK"]), "chain_poll_s": 0.05,
            "chain_receipt_timeout_s": 10.0, "lease_s": 0.5, **extra}
