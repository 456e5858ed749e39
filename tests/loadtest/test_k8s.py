"""The Kubernetes manifests of a distributed load test render, and the agents find the coordinator."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]


def _render() -> list[dict[str, Any]]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: cannot render k8s/loadtest with kubectl kustomize")
    out = subprocess.run(["kubectl", "kustomize", str(ROOT / "k8s" / "loadtest")], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name, [(d["kind"], d["metadata"]["name"]) for d in docs])
    return found[0]


def _flag(args: list[str], name: str) -> str:
    values = [a.split("=", 1)[1] for a in args if a.startswith(f"--{name}=")]
    assert len(values) == 1, (name, args)
    return values[0]


def test_the_agents_point_at_the_coordinators_service() -> None:
    docs = _render()
    service = _one(docs, "Service", "loadtest-coordinator")
    coordinator = _one(docs, "Job", "loadtest-coordinator")
    agents = _one(docs, "Job", "loadtest-agents")
    namespace = service["metadata"]["namespace"]
    assert coordinator["metadata"]["namespace"] == agents["metadata"]["namespace"] == namespace

    # The Service selects the coordinator's pod and forwards to the port it listens on.
    pod = coordinator["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())
    container = pod["spec"]["containers"][0]
    c_args = container["args"]
    assert c_args[0] == "loadtest"
    (port,) = service["spec"]["ports"]
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named[port["targetPort"]] == int(_flag(c_args, "coordinator-port"))
    assert _flag(c_args, "coordinator-host") == "0.0.0.0"

    # Agents: an indexed Job with one pod per agent the coordinator waits for, pointing at that Service.
    spec = agents["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == int(_flag(c_args, "agents"))
    a_args = agents["spec"]["template"]["spec"]["containers"][0]["args"]
    assert a_args[:2] == ["loadtest", "agent"]
    assert _flag(a_args, "coordinator") == f"http://{service['metadata']['name']}:{port['port']}"

    # Both mount the join key at the path they are told to read it from.
    for job, args in ((coordinator, c_args), (agents, a_args)):
        mounts = job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        assert _flag(args, "join-key-file") in {m["mountPath"] for m in mounts}
    # The coordinator's settings come from the generated ConfigMap it reads.
    config = _one(docs, "ConfigMap", "loadtest-target")
    assert container["envFrom"] == [{"configMapRef": {"name": "loadtest-target"}}]
    assert {"LOADTEST_URL", "LOADTEST_SCENARIO", "LOADTEST_PLAYERS"} <= set(config["data"])
