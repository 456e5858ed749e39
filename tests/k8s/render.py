"""Render the Kubernetes manifests with ``kubectl kustomize`` and read what they declare.

Everything here works on the rendered objects (plain dicts from YAML), never on the source
files, so patches and generators of an overlay count as a cluster would see them.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
TREES = ("base", "overlays/dev", "overlays/prod")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")
IMAGE = "elysium"  # the one image every Elysium service runs (ENTRYPOINT ["elysium"])

Obj = dict[str, Any]  # one rendered object, as YAML parsed it


class RenderError(RuntimeError):
    """``kubectl kustomize`` is missing or refused a tree."""


@functools.cache
def render(tree: str) -> tuple[Obj, ...]:
    """Every object ``kubectl kustomize k8s/<tree>`` prints, in its order."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise RenderError("kubectl is not installed (with kustomize v5); the manifests cannot be rendered")
    proc = subprocess.run([kubectl, "kustomize", str(K8S / tree)], capture_output=True, text=True, timeout=60,
                          check=False)
    if proc.returncode != 0:
        raise RenderError(f"kubectl kustomize k8s/{tree} failed: {proc.stderr.strip()}")
    objs = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    for doc in objs:
        if not isinstance(doc, dict) or "kind" not in doc:
            raise RenderError(f"k8s/{tree} rendered something that is not an object: {doc!r:.200}")
    return tuple(objs)


def of_kind(tree: str, kind: str) -> list[Obj]:
    return [o for o in render(tree) if o["kind"] == kind]


def named(tree: str, kind: str, name: str) -> Obj:
    found = [o for o in of_kind(tree, kind) if o["metadata"]["name"] == name]
    if len(found) != 1:
        raise LookupError(f"k8s/{tree}: {len(found)} {kind} named {name!r}")
    return found[0]


def workloads(tree: str) -> list[Obj]:
    return [o for o in render(tree) if o["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: Obj) -> Obj:
    spec: Obj = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: Obj) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"].get("labels", {})
    return labels


def containers(workload: Obj) -> list[Obj]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def is_elysium(container: Obj) -> bool:
    image: str = container["image"]
    return image == IMAGE or image.startswith(IMAGE + ":")


def elysium_workloads(tree: str) -> dict[str, tuple[Obj, Obj]]:
    """Workloads running the Elysium image, by the service command they run: (workload, container)."""
    found: dict[str, tuple[Obj, Obj]] = {}
    for w in workloads(tree):
        for c in containers(w):
            if is_elysium(c):
                found[c["args"][0]] = (w, c)
    return found


def environment(tree: str, container: Obj) -> dict[str, str]:
    """The variables a container gets from its ConfigMaps and literal values (not from Secrets)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref is not None:
            env.update(named(tree, "ConfigMap", ref["name"])["data"])
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            env.pop(var["name"], None)
    return env


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects ``labels``."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {"In": key in labels and labels[key] in values,
              "NotIn": key not in labels or labels[key] not in values,
              "Exists": key in labels,
              "DoesNotExist": key not in labels}.get(op)
        if ok is None:
            raise ValueError(f"unknown selector operator {op!r}")
        if not ok:
            return False
    return True


@dataclass(frozen=True, order=True)
class Flow:
    """One allowed connection as the table of a test reads it: a peer and a port."""

    peer: str  # a workload of the tree, NAMESPACE/APP (app.kubernetes.io/name or k8s-app), or a CIDR
    port: str  # PROTOCOL/NUMBER, or "any"


def _peer_names(tree: str, peer: Obj) -> list[str]:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        excluded = block.get("except", [])
        return [block["cidr"] + (f" except {','.join(excluded)}" if excluded else "")]
    pods = peer.get("podSelector")
    if "namespaceSelector" in peer:
        ns_labels = peer["namespaceSelector"].get("matchLabels", {})
        namespace = ns_labels.get("kubernetes.io/metadata.name", "any-namespace")
        if not pods:
            return [f"{namespace}/*"]
        labels = pods.get("matchLabels", {})
        app = labels.get("app.kubernetes.io/name") or labels.get("k8s-app")
        if app is None or len(labels) != 1 or pods.get("matchExpressions"):
            raise ValueError(f"peer {peer!r}: name the pods of another namespace by one app label")
        return [f"{namespace}/{app}"]
    assert pods is not None, f"a peer with neither pods, namespace nor addresses: {peer!r}"
    matched = [w["metadata"]["name"] for w in workloads(tree) if selects(pods, pod_labels(w))]
    if not matched:
        raise ValueError(f"k8s/{tree}: peer {peer!r} selects no workload of the tree")
    return matched


def _ports(rule: Obj) -> list[str]:
    ports = rule.get("ports")
    if not ports:
        return ["any"]
    return [f"{p.get('protocol', 'TCP')}/{p['port']}" for p in ports]


def _applies(policy: Obj, labels: Mapping[str, str], direction: str) -> bool:
    spec = policy["spec"]
    types = spec.get("policyTypes") or (["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
    return direction in types and selects(spec["podSelector"], labels)


def allowed(tree: str, workload: Obj, direction: str) -> set[Flow] | None:
    """What the NetworkPolicies of the tree let reach (Ingress) or leave (Egress) a workload's
    pods; None when no policy restricts that direction (everything is allowed)."""
    labels = pod_labels(workload)
    key = "ingress" if direction == "Ingress" else "egress"
    side = "from" if direction == "Ingress" else "to"
    flows: set[Flow] = set()
    restricted = False
    for policy in of_kind(tree, "NetworkPolicy"):
        if not _applies(policy, labels, direction):
            continue
        restricted = True
        for rule in policy["spec"].get(key, []):
            peers = [name for peer in rule.get(side, []) for name in _peer_names(tree, peer)] or ["anywhere"]
            flows.update(Flow(peer, port) for peer in peers for port in _ports(rule))
    return flows if restricted else None


def secret_references(obj: Obj) -> Iterator[str]:
    """Names of the Secrets a workload reads (environment and volumes)."""
    if obj["kind"] not in WORKLOAD_KINDS:
        return
    spec = pod_spec(obj)
    for c in containers(obj):
        for var in c.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref is not None:
                yield ref["name"]
        for source in c.get("envFrom", []):
            if "secretRef" in source:
                yield source["secretRef"]["name"]
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            yield volume["secret"]["secretName"]
