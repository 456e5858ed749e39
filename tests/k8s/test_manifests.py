"""The Kubernetes manifests, rendered as a cluster would receive them (``kubectl kustomize``).

Each overlay is checked against the Kubernetes schemas offline, then against what the
services need: probes on their own port, limits, a locked-down security context, budgets
for disruptions, a workload for every service command, grace periods longer than the
drains, autoscalers on metrics the code exports, and exactly the network flows of the
architecture. No Secret value may appear anywhere.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]

from elysium import cli, config, configdoc, procs, serve
from elysium.config import SettingInfo
from elysium.http import RequestMetrics
from elysium.metrics import Metrics
from gameserver.metrics import GameMetrics
from tests.k8s.render import (
    K8S,
    ROOT,
    TREES,
    Flow,
    Obj,
    allowed,
    containers,
    elysium_workloads,
    environment,
    is_elysium,
    named,
    of_kind,
    pod_labels,
    pod_spec,
    render,
    secret_references,
    selects,
    workloads,
)

# The oldest Kubernetes the manifests are written for (the preStop sleep action and
# matchLabelKeys are on by default from there), and the newest the validator knows, so an
# API removed since fails too.
KUBERNETES_VERSIONS = ("1.33.0", kubernetes_validate.latest_version())
OVERLAYS = ("overlays/dev", "overlays/prod")
SERVICES = ("gameserver", "matchmaker", "spectator", "commerce", "butler", "gateway")
# Served by `elysium <command>` (elysium/serve.py) but not run in a cluster, and why.
NOT_DEPLOYED = {"chain": "the embedded development EVM; a cluster uses any JSON-RPC endpoint (ELYSIUM_CHAIN_URL)"}
ADAPTER_VALUES = K8S / "base" / "autoscaling" / "prometheus-adapter-values.yaml"


def _validate(obj: Obj, version: str = KUBERNETES_VERSIONS[0]) -> None:
    kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("tree", TREES)
def test_every_object_is_valid_against_the_kubernetes_schemas(tree: str, version: str) -> None:
    problems = []
    for obj in render(tree):
        where = f"{obj['kind']} {obj['metadata']['name']}"
        try:
            _validate(obj, version)
        except kubernetes_validate.SchemaNotFoundError:
            # No custom resources are used (scraping is by annotation); a CRD kind must be
            # validated against its own schema before it is added here.
            problems.append(f"{where}: no schema for {obj['apiVersion']} in Kubernetes {version}")
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{where}: {exc.message} at {'/'.join(map(str, exc.path))}")
    assert not problems, f"k8s/{tree}:\n" + "\n".join(problems)


def test_the_schema_check_refuses_a_field_kubernetes_does_not_know() -> None:
    deployment = named("overlays/dev", "Deployment", "gameserver")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {"httpGet": {"path": "/readyz"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(broken)


@pytest.mark.parametrize("tree", TREES)
def test_every_object_lives_in_the_elysium_namespace(tree: str) -> None:
    stray = [f"{o['kind']} {o['metadata']['name']}" for o in render(tree)
             if o["kind"] != "Namespace" and o["metadata"].get("namespace") != "elysium"]
    assert not stray


# --- workloads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("tree", TREES)
def test_each_elysium_container_probes_readyz_and_healthz_on_its_service_port(tree: str) -> None:
    for command, (workload, container) in elysium_workloads(tree).items():
        where = f"k8s/{tree} {workload['metadata']['name']}"
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        env = environment(tree, container)
        assert ports["http"] == int(env[f"ELYSIUM_{command.upper()}_PORT"]), f"{where}: http port is not the service's"
        assert env[f"ELYSIUM_{command.upper()}_HOST"] == "0.0.0.0", f"{where}: must listen on the pod's address"
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            assert probe in container, f"{where}: no {probe}"
            get = container[probe]["httpGet"]
            assert (get["path"], get["port"]) == (path, "http"), f"{where}: {probe} must GET {path} on http"


@pytest.mark.parametrize("tree", TREES)
def test_every_long_running_container_has_probes(tree: str) -> None:
    for w in workloads(tree):
        if w["kind"] == "Job":
            continue  # runs to completion; nothing sends it traffic
        for c in pod_spec(w)["containers"]:
            missing = [p for p in ("readinessProbe", "livenessProbe") if p not in c]
            assert not missing, f"k8s/{tree} {w['metadata']['name']}/{c['name']}: no {missing}"


@pytest.mark.parametrize("tree", TREES)
def test_every_container_has_cpu_and_memory_requests_and_limits(tree: str) -> None:
    for w in workloads(tree):
        for c in containers(w):
            resources = c.get("resources", {})
            for kind in ("requests", "limits"):
                missing = {"cpu", "memory"} - set(resources.get(kind, {}))
                assert not missing, f"k8s/{tree} {w['metadata']['name']}/{c['name']}: no {kind} for {missing}"


def _effective(workload: Obj, container: Obj, key: str) -> Any:
    return container.get("securityContext", {}).get(key, pod_spec(workload).get("securityContext", {}).get(key))


@pytest.mark.parametrize("tree", TREES)
def test_every_container_runs_non_root_read_only_without_privileges(tree: str) -> None:
    for w in workloads(tree):
        spec = pod_spec(w)
        mounts_tmp_dir = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for c in containers(w):
            where = f"k8s/{tree} {w['metadata']['name']}/{c['name']}"
            ctx = c.get("securityContext", {})
            assert _effective(w, c, "runAsNonRoot") is True, f"{where}: runAsNonRoot"
            user = _effective(w, c, "runAsUser")
            assert isinstance(user, int) and user > 0, f"{where}: needs a numeric non-root runAsUser, got {user!r}"
            assert ctx.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem"
            assert ctx.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation"
            assert ctx.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: capabilities must drop ALL"
            assert _effective(w, c, "seccompProfile") == {"type": "RuntimeDefault"}, f"{where}: seccomp"
            tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            assert tmp and tmp[0]["name"] in mounts_tmp_dir, f"{where}: /tmp must be an emptyDir"


@pytest.mark.parametrize("tree", TREES)
def test_no_workload_gets_a_service_account_token(tree: str) -> None:
    accounts = {sa["metadata"]["name"]: sa for sa in of_kind(tree, "ServiceAccount")}
    for w in workloads(tree):
        spec = pod_spec(w)
        where = f"k8s/{tree} {w['metadata']['name']}"
        name = spec.get("serviceAccountName")
        assert name in accounts, f"{where}: runs as its own ServiceAccount, declared in the tree"
        assert accounts[name].get("automountServiceAccountToken") is False, f"{where}: {name} mounts a token"
        assert spec.get("automountServiceAccountToken") is False, f"{where}: the pod mounts a token"
    assert not of_kind(tree, "Role") and not of_kind(tree, "ClusterRole"), "no workload needs the Kubernetes API"


@pytest.mark.parametrize("tree", TREES)
def test_service_links_are_off_so_no_variable_shadows_a_setting(tree: str) -> None:
    # A Service named elysium-gameserver would inject ELYSIUM_GAMESERVER_PORT=tcp://...
    for w in workloads(tree):
        assert pod_spec(w).get("enableServiceLinks") is False, f"k8s/{tree} {w['metadata']['name']}"


def _service_commands() -> set[str]:
    """Every `elysium` command that runs a service: those serve.add_arguments gives --host/--port."""
    found: set[str] = set()
    real: Callable[..., None] = serve.add_arguments

    def recording(parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        found.add(parser.prog.split()[-1])
        real(parser, *args, **kwargs)

    parser = argparse.ArgumentParser(prog="elysium")
    sub = parser.add_subparsers()
    with mock.patch.object(serve, "add_arguments", recording):
        for module in cli._service_modules():
            getattr(module, "add_commands")(sub)
    return found


@pytest.mark.parametrize("tree", TREES)
def test_every_service_command_has_a_workload_running_it(tree: str) -> None:
    commands = _service_commands()
    assert set(SERVICES) <= commands, f"the CLI's services were not all found: {commands}"
    deployed = elysium_workloads(tree)
    missing = commands - set(deployed) - set(NOT_DEPLOYED)
    assert not missing, f"k8s/{tree}: no workload runs `elysium {' / '.join(sorted(missing))}`"
    for command, (workload, container) in deployed.items():
        assert "command" not in container, f"{workload['metadata']['name']}: keep the image's ENTRYPOINT"
        assert command in commands, f"{workload['metadata']['name']}: `elysium {command}` is no service command"
        assert container["image"].count(":") == 1, f"{workload['metadata']['name']}: image needs a tag"


@pytest.mark.parametrize("tree", TREES)
def test_each_service_is_a_deployment_with_its_own_service(tree: str) -> None:
    deployed = elysium_workloads(tree)
    for name in SERVICES:
        workload, container = deployed[name]
        assert workload["kind"] == "Deployment" and workload["metadata"]["name"] == name
        service = named(tree, "Service", name)
        assert selects({"matchLabels": service["spec"]["selector"]}, pod_labels(workload))
        assert service["spec"]["ports"][0]["targetPort"] == "http"


# --- settings ----------------------------------------------------------------------------------


def _settings_of(service: str) -> dict[str, SettingInfo]:
    found: dict[str, SettingInfo] = {}
    for package, cls in configdoc.settings_classes():
        if package == service:
            for field in dataclasses.fields(cls):
                info = field.metadata.get("elysium")
                if isinstance(info, SettingInfo):
                    found[info.env] = info
    return found


@pytest.mark.parametrize("tree", TREES)
def test_every_configured_variable_is_a_setting_of_that_service(tree: str) -> None:
    for command, (workload, container) in elysium_workloads(tree).items():
        known = _settings_of(command)
        unknown = [v for v in environment(tree, container) if v.startswith("ELYSIUM_") and v not in known]
        assert not unknown, f"k8s/{tree} {command}: {unknown} are no settings of {command} (a typo?)"
        for var in container.get("env", []):
            if var["name"].startswith(("ELYSIUM_", "OPENAI_")):
                assert var["name"] in known, f"k8s/{tree} {command}: {var['name']} is no setting of {command}"


# What a Secret or the downward API would give, for loading the settings as a pod would.
STAND_INS = {"ELYSIUM_REDIS_URL": "redis://redis:6379/0", "ELYSIUM_MONGO_URL": "mongodb://db:27017/?replicaSet=rs0",
             "status.podIP": "10.1.2.3", "metadata.name": "gameserver-7d9f-x2x4q"}


def _pod_environment(tree: str, container: Obj) -> dict[str, str]:
    """The container's environment as the kubelet builds it: ConfigMaps, then each variable in
    order with $(NAME) expanded from those before it; Secrets that are not optional stand in."""
    env = environment(tree, {**container, "env": []})
    for var in container.get("env", []):
        source = var.get("valueFrom", {})
        if "value" in var:
            env[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), var["value"])
        elif "fieldRef" in source:
            env[var["name"]] = STAND_INS[source["fieldRef"]["fieldPath"]]
        elif not source["secretKeyRef"].get("optional", False):
            env[var["name"]] = STAND_INS[var["name"]]
    return env


def _settings_class(service: str) -> type:
    from butler.settings import ButlerSettings
    from commerce.settings import CommerceSettings
    from gateway.settings import GatewaySettings
    from gameserver.settings import GameServerSettings
    from matchmaker.settings import MatchmakerSettings
    from spectator.settings import SpectatorSettings
    return {"gameserver": GameServerSettings, "matchmaker": MatchmakerSettings, "spectator": SpectatorSettings,
            "commerce": CommerceSettings, "butler": ButlerSettings, "gateway": GatewaySettings}[service]


@pytest.mark.parametrize("tree", TREES)
def test_each_service_accepts_the_settings_its_pod_gets(tree: str) -> None:
    for command, (_, container) in elysium_workloads(tree).items():
        env = _pod_environment(tree, container)
        try:
            config.load(_settings_class(command), env)
        except config.ConfigError as exc:
            pytest.fail(f"k8s/{tree}: `elysium {command}` would stop at start: {exc}")


@pytest.mark.parametrize("tree", TREES)
def test_every_file_setting_names_a_file_its_pod_mounts(tree: str) -> None:
    for command, (workload, container) in elysium_workloads(tree).items():
        volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container.get("volumeMounts", [])}
        for name, path in _pod_environment(tree, container).items():
            if not name.endswith("_FILE"):
                continue
            folder, _, file = path.rpartition("/")
            volume = mounts.get(folder)
            assert volume is not None, f"k8s/{tree} {command}: {name}={path} is in no mounted folder"
            source = volume.get("secret") or volume.get("configMap") or {}
            items = [item["path"] for item in source.get("items", [])]
            assert file in items, f"k8s/{tree} {command}: {name}: the volume at {folder} holds {items}, not {file}"


def test_the_game_server_advertises_its_own_pod_address_and_name() -> None:
    for tree in TREES:
        _, container = elysium_workloads(tree)["gameserver"]
        env = {v["name"]: v for v in container["env"]}
        fields = {name: v["valueFrom"]["fieldRef"]["fieldPath"] for name, v in env.items()
                  if "fieldRef" in v.get("valueFrom", {})}
        order = [v["name"] for v in container["env"]]
        url = env["ELYSIUM_GAMESERVER_PUBLIC_URL"]["value"]
        ip_var = re.fullmatch(r"ws://\$\((\w+)\):(\d+)/v1/play", url)
        assert ip_var, f"k8s/{tree}: public URL {url!r} is not built from the pod's address"
        assert fields.get(ip_var[1]) == "status.podIP", f"k8s/{tree}: {ip_var[1]} is not the pod IP"
        assert order.index(ip_var[1]) < order.index("ELYSIUM_GAMESERVER_PUBLIC_URL"), "defined after its use"
        assert int(ip_var[2]) == container["ports"][0]["containerPort"]
        server_id = re.fullmatch(r"\$\((\w+)\)", env["ELYSIUM_SERVER_ID"]["value"])
        assert server_id and fields.get(server_id[1]) == "metadata.name", "each pod is its own registry entry"


# --- draining ----------------------------------------------------------------------------------


def _drain_s(tree: str, command: str, container: Obj) -> float:
    """How long the service's drain may take, from its rendered settings."""
    if command == "matchmaker":
        from matchmaker.app import DRAIN_TIMEOUT_S
        from matchmaker.cli import SHUTDOWN_TIMEOUT_S
        return SHUTDOWN_TIMEOUT_S + DRAIN_TIMEOUT_S
    variable = {"gameserver": "ELYSIUM_DRAIN_TIMEOUT_S", "spectator": "ELYSIUM_SPECTATOR_DRAIN_S",
                "commerce": "ELYSIUM_COMMERCE_DRAIN_TIMEOUT_S", "butler": "ELYSIUM_BUTLER_DRAIN_TIMEOUT_S",
                "gateway": "ELYSIUM_GATEWAY_DRAIN_TIMEOUT_S"}[command]
    env = environment(tree, container)
    assert variable in env, f"k8s/{tree} {command}: set {variable} in its ConfigMap (the grace period follows it)"
    return float(env[variable])


@pytest.mark.parametrize("tree", TREES)
def test_the_grace_period_outlasts_every_drain(tree: str) -> None:
    for command, (workload, container) in elysium_workloads(tree).items():
        grace = pod_spec(workload)["terminationGracePeriodSeconds"]
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        # The drain, then at most serve.STOP_GRACE_S more before the process gives up by itself.
        needed = pre_stop + _drain_s(tree, command, container) + serve.STOP_GRACE_S
        assert grace > needed, (f"k8s/{tree} {command}: terminationGracePeriodSeconds {grace} must exceed "
                                f"preStop {pre_stop} + drain + {serve.STOP_GRACE_S} = {needed}")


def test_game_servers_have_no_pre_stop_delay_before_they_drain() -> None:
    # SIGTERM is what takes a server out of the matchmaker's registry: it must come at once.
    for tree in TREES:
        _, container = elysium_workloads(tree)["gameserver"]
        assert "lifecycle" not in container, f"k8s/{tree}: a preStop hook delays the drain"


# --- disruptions and scaling -------------------------------------------------------------------


@pytest.mark.parametrize("tree", TREES)
def test_a_disruption_budget_covers_every_workload_that_serves_players(tree: str) -> None:
    budgets = of_kind(tree, "PodDisruptionBudget")
    for name in SERVICES:
        workload, _ = elysium_workloads(tree)[name]
        covering = [b for b in budgets if selects(b["spec"]["selector"], pod_labels(workload))]
        assert len(covering) == 1, f"k8s/{tree} {name}: {len(covering)} PodDisruptionBudgets"
        spec = covering[0]["spec"]
        assert spec.get("maxUnavailable") not in (0, "0%"), f"k8s/{tree} {name}: its budget forbids every eviction"
        if "minAvailable" in spec:
            assert isinstance(spec["minAvailable"], str) and spec["minAvailable"].endswith("%"), (
                f"k8s/{tree} {name}: an absolute minAvailable blocks node drains at minReplicas")


def _hpa_for(tree: str, name: str) -> Obj:
    found = [h for h in of_kind(tree, "HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == name]
    assert len(found) == 1, f"k8s/{tree}: {len(found)} autoscalers for {name}"
    assert found[0]["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    return found[0]


@pytest.mark.parametrize("tree", TREES)
def test_every_service_is_autoscaled_and_no_apply_resets_its_replicas(tree: str) -> None:
    # A replica count in the manifest would be applied over the autoscaler's: applying the
    # tree again would drop 20 busy game pods to 2 (and drain 18 of them).
    for name in SERVICES:
        workload, _ = elysium_workloads(tree)[name]
        _hpa_for(tree, name)
        assert "replicas" not in workload["spec"], f"k8s/{tree} {name}: the autoscaler owns its replicas"


def _adapter_rules() -> list[Obj]:
    values = yaml.safe_load(ADAPTER_VALUES.read_text())
    rules: list[Obj] = values["rules"]["custom"]
    return rules


def _served_as(series: str) -> list[str]:
    """The custom metric names prometheus-adapter's rules serve for an exported series."""
    names = []
    for rule in _adapter_rules():
        query = rule["seriesQuery"]
        name_regex = re.search(r'__name__=~"([^"]+)"', query)
        selected = (re.search(name_regex[1], series) is not None if name_regex
                    else query.split("{", 1)[0] == series)
        match = re.search(rule["name"]["matches"], series)
        if selected and match:
            names.append(match.expand(re.sub(r"\$\{(\d+)\}", r"\\g<\1>", rule["name"]["as"])))
        assert "namespace" in rule["resources"]["overrides"] and "pod" in rule["resources"]["overrides"]
    return names


def _exported(text: bytes) -> set[str]:
    """The series names of a /metrics page (its samples, not its comments)."""
    return set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text.decode(), re.MULTILINE))


def _http_request_series(service: str) -> str:
    metrics = Metrics(service)
    RequestMetrics(metrics).observe("GET", "/v1/x", 200, 0.001)
    counters = [n for n in _exported(metrics.render()) if n.endswith("_http_requests_total")]
    assert len(counters) == 1, counters
    return counters[0]


@pytest.mark.parametrize("tree", TREES)
def test_game_servers_scale_on_seats_in_use_through_the_adapter(tree: str) -> None:
    metric = _hpa_for(tree, "gameserver")["spec"]["metrics"]
    assert [m["type"] for m in metric] == ["Pods"]
    name = metric[0]["pods"]["metric"]["name"]
    gauges = _exported(GameMetrics().render())
    assert name in gauges, f"the game server exports no {name}"
    assert _served_as(name) == [name], f"prometheus-adapter serves {name} as {_served_as(name)}"
    _, container = elysium_workloads(tree)["gameserver"]
    seats = int(environment(tree, container)["ELYSIUM_MAX_PLAYERS"])
    target = float(metric[0]["pods"]["target"]["averageValue"])
    assert 0 < target < seats, f"target {target} seats per pod must be below ELYSIUM_MAX_PLAYERS {seats}"


@pytest.mark.parametrize("tree", TREES)
def test_commerce_and_the_butler_scale_on_their_request_rate(tree: str) -> None:
    for service in ("commerce", "butler"):
        metric = _hpa_for(tree, service)["spec"]["metrics"]
        assert [m["type"] for m in metric] == ["Pods"]
        name = metric[0]["pods"]["metric"]["name"]
        series = _http_request_series(service)
        assert _served_as(series) == [name], f"{series} is served as {_served_as(series)}, the HPA reads {name}"


@pytest.mark.parametrize("tree", TREES)
def test_relays_and_the_matchmaker_scale_on_cpu_they_request(tree: str) -> None:
    for service in ("spectator", "matchmaker", "gateway"):
        metric = _hpa_for(tree, service)["spec"]["metrics"]
        assert [(m["type"], m["resource"]["name"]) for m in metric] == [("Resource", "cpu")]
        _, container = elysium_workloads(tree)[service]
        assert container["resources"]["requests"]["cpu"], "CPU utilisation is relative to the request"


def test_the_adapter_rules_serve_nothing_an_autoscaler_does_not_read() -> None:
    read = {m["pods"]["metric"]["name"] for tree in TREES for h in of_kind(tree, "HorizontalPodAutoscaler")
            for m in h["spec"]["metrics"] if m["type"] == "Pods"}
    exported = {"elysium_gameserver_players", *(_http_request_series(s) for s in ("commerce", "butler"))}
    served = {name for series in exported for name in _served_as(series)}
    assert served == read


# --- network -----------------------------------------------------------------------------------

DNS = {Flow("kube-system/kube-dns", "UDP/53"), Flow("kube-system/kube-dns", "TCP/53")}
INGRESS = "ingress-nginx/ingress-nginx"
PROMETHEUS = "monitoring/prometheus"
OUTSIDE = "0.0.0.0/0 except 169.254.169.254/32"  # the internet, not the cloud metadata address


def _expected(redis: set[Flow], mongodb: set[Flow]) -> dict[str, tuple[set[Flow], set[Flow]]]:
    """Per workload: (what may reach it, where it may go), from the architecture's diagram.

    The gateway (the web client's one origin) reaches every service it fronts, and the game
    servers' HTTP port for the operator console; it holds no data of its own."""
    return {
        "gameserver": ({Flow("0.0.0.0/0", "TCP/7350"), Flow("elysium-loadtest/*", "TCP/7350"),
                        Flow("gateway", "TCP/7350"), Flow(PROMETHEUS, "TCP/7350")}, DNS | redis),
        "matchmaker": ({Flow(INGRESS, "TCP/7360"), Flow("gateway", "TCP/7360"), Flow("commerce", "TCP/7360"),
                        Flow("butler", "TCP/7360"), Flow(PROMETHEUS, "TCP/7360")}, DNS | redis | mongodb),
        "spectator": ({Flow(INGRESS, "TCP/7370"), Flow("gateway", "TCP/7370"), Flow(PROMETHEUS, "TCP/7370")},
                      DNS | redis),
        "commerce": ({Flow(INGRESS, "TCP/7380"), Flow("gateway", "TCP/7380"), Flow("butler", "TCP/7380"),
                      Flow(PROMETHEUS, "TCP/7380")},
                     DNS | redis | mongodb | {Flow("matchmaker", "TCP/7360"), Flow(OUTSIDE, "TCP/443"),
                                              Flow(OUTSIDE, "TCP/8545")}),
        "butler": ({Flow(INGRESS, "TCP/7390"), Flow("gateway", "TCP/7390"), Flow(PROMETHEUS, "TCP/7390")},
                   DNS | redis | mongodb | {Flow("commerce", "TCP/7380"), Flow("matchmaker", "TCP/7360"),
                                            Flow(OUTSIDE, "TCP/443")}),
        "gateway": ({Flow(INGRESS, "TCP/7400"), Flow(PROMETHEUS, "TCP/7400")},
                    DNS | {Flow("commerce", "TCP/7380"), Flow("matchmaker", "TCP/7360"), Flow("spectator", "TCP/7370"),
                           Flow("butler", "TCP/7390"), Flow("gameserver", "TCP/7350")}),
    }


def _dev_flows() -> dict[str, tuple[set[Flow], set[Flow]]]:
    flows = _expected({Flow("redis", "TCP/6379")}, {Flow("mongodb", "TCP/27017")})
    flows["redis"] = ({*(Flow(s, "TCP/6379") for s in SERVICES if s != "gateway"),
                       Flow("elysium-loadtest/*", "TCP/6379")}, DNS)
    members = {Flow(s, "TCP/27017") for s in ("matchmaker", "commerce", "butler", "mongodb", "mongodb-init")}
    flows["mongodb"] = (members, DNS | {Flow("mongodb", "TCP/27017")})
    flows["mongodb-init"] = (set(), DNS | {Flow("mongodb", "TCP/27017")})
    return flows


def _prod_flows() -> dict[str, tuple[set[Flow], set[Flow]]]:
    return _expected({Flow("192.0.2.0/24", "TCP/6379"), Flow("192.0.2.0/24", "TCP/6380"),
                      Flow("192.0.2.0/24", "TCP/26379")},
                     {Flow("198.51.100.0/24", "TCP/27017")})


@pytest.mark.parametrize(("tree", "table"), [("overlays/dev", _dev_flows), ("overlays/prod", _prod_flows)])
def test_network_policies_allow_exactly_the_flows_of_the_architecture(
        tree: str, table: Callable[[], dict[str, tuple[set[Flow], set[Flow]]]]) -> None:
    expected = table()
    assert {w["metadata"]["name"] for w in workloads(tree)} == set(expected)
    for w in workloads(tree):
        name = w["metadata"]["name"]
        want_in, want_out = expected[name]
        assert allowed(tree, w, "Ingress") == want_in, f"k8s/{tree} {name}: ingress"
        assert allowed(tree, w, "Egress") == want_out, f"k8s/{tree} {name}: egress"


def test_the_flow_reader_sees_an_unrestricted_pod() -> None:
    tree = "overlays/dev"
    workload = named(tree, "Deployment", "spectator")
    with mock.patch("tests.k8s.render.of_kind", lambda t, kind: [] if kind == "NetworkPolicy" else of_kind(t, kind)):
        assert allowed(tree, workload, "Ingress") is None


# --- ingress -----------------------------------------------------------------------------------


@pytest.mark.parametrize("tree", TREES)
def test_the_ingress_routes_every_http_service_and_keeps_websockets_open(tree: str) -> None:
    routed: dict[str, Obj] = {}
    for ingress in of_kind(tree, "Ingress"):
        assert ingress["spec"].get("ingressClassName"), "name the ingress class (an overlay patches it)"
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = named(tree, "Service", backend["name"])
                assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
                routed.setdefault(backend["name"], ingress)
    assert set(routed) == {"matchmaker", "spectator", "commerce", "butler", "gateway"}, (
        "game servers are reached by their own addresses, every other service through the ingress")
    for name in ("spectator", "butler", "matchmaker", "gateway"):  # websockets, server-sent events
        notes = routed[name]["metadata"]["annotations"]
        for key in ("proxy-read-timeout", "proxy-send-timeout"):
            assert int(notes[f"nginx.ingress.kubernetes.io/{key}"]) >= 3600, f"{name}: {key}"
    assert routed["spectator"]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-http-version"] == "1.1"
    assert routed["butler"]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"


@pytest.mark.parametrize("tree", TREES)
def test_one_origin_host_sends_everything_to_the_gateway(tree: str) -> None:
    """The web client's host mirrors `elysium up`: every path to the gateway, which proxies the APIs
    itself; streams pass unbuffered, websockets upgrade, and both stay open an hour."""
    web = named(tree, "Ingress", "elysium-web")
    (rule,) = web["spec"]["rules"]
    assert rule["host"] == "elysium.example.com" and rule["host"] in web["spec"]["tls"][0]["hosts"]
    assert [(p["path"], p["pathType"], p["backend"]["service"]["name"]) for p in rule["http"]["paths"]] == [
        ("/", "Prefix", "gateway")]
    notes = web["metadata"]["annotations"]
    for key, value in (("proxy-buffering", "off"), ("proxy-request-buffering", "off"), ("proxy-http-version", "1.1")):
        assert notes[f"nginx.ingress.kubernetes.io/{key}"] == value, key
    from gateway.settings import GatewaySettings
    body_limit = config.load(GatewaySettings, {"ELYSIUM_COMMERCE_URL": "http://c", "ELYSIUM_MATCHMAKER_URL": "http://m",
                                               "ELYSIUM_SPECTATOR_URL": "http://s", "ELYSIUM_BUTLER_URL": "http://b"}
                             ).max_body_bytes
    assert notes["nginx.ingress.kubernetes.io/proxy-body-size"] == f"{body_limit // 1024 ** 2}m"


# --- prometheus --------------------------------------------------------------------------------


@pytest.mark.parametrize("tree", TREES)
def test_prometheus_scrapes_every_service_pod_on_its_port(tree: str) -> None:
    for command, (workload, container) in elysium_workloads(tree).items():
        notes = workload["spec"]["template"]["metadata"].get("annotations", {})
        assert notes.get("prometheus.io/scrape") == "true", command
        assert notes.get("prometheus.io/path") == "/metrics", command
        assert int(notes["prometheus.io/port"]) == container["ports"][0]["containerPort"], command


# --- secrets -----------------------------------------------------------------------------------


def _secret_settings() -> set[str]:
    return {info.env for service in SERVICES for info in _settings_of(service).values() if info.secret}


CREDENTIAL = re.compile(r"-----BEGIN|://[^/\s:@]+:[^/\s@]+@|\bsk_(live|test)_|\bsk-[A-Za-z0-9]{8}|whsec_")


@pytest.mark.parametrize("tree", TREES)
def test_no_secret_value_is_anywhere_in_the_output(tree: str) -> None:
    assert not of_kind(tree, "Secret"), "Secrets are created by the operator, never shipped"
    secret = _secret_settings()
    assert {"ELYSIUM_REDIS_URL", "ELYSIUM_MONGO_URL", "OPENAI_API_KEY"} <= secret
    for cm in of_kind(tree, "ConfigMap"):
        leaked = secret & set(cm.get("data", {}))
        assert not leaked, f"k8s/{tree} ConfigMap {cm['metadata']['name']} holds {leaked}"
    for w in workloads(tree):
        for c in containers(w):
            literal = [v["name"] for v in c.get("env", []) if v["name"] in secret and "value" in v]
            assert not literal, f"k8s/{tree} {w['metadata']['name']}: {literal} must come from a Secret"
    text = yaml.safe_dump_all(render(tree))
    assert not CREDENTIAL.search(text), f"k8s/{tree}: {CREDENTIAL.search(text)!r} looks like a credential"


def test_the_credential_pattern_finds_credentials() -> None:
    for leak in ("mongodb://app:hunter2@db:27017", "-----BEGIN PRIVATE KEY-----", "sk_live_abc", "whsec_x"):
        assert CREDENTIAL.search(leak), leak
    assert not CREDENTIAL.search("redis://redis:6379/0 http://matchmaker:7360 wss://watch.example.com")


@pytest.mark.parametrize("tree", TREES)
def test_every_secret_a_workload_reads_is_documented(tree: str) -> None:
    doc = (ROOT / "docs" / "kubernetes.md").read_text()
    for w in workloads(tree):
        for name in secret_references(w):
            assert f"`{name}`" in doc, f"docs/kubernetes.md does not say how to create the Secret {name}"


# --- the overlays ------------------------------------------------------------------------------


def test_dev_runs_redis_with_the_persistence_results_need() -> None:
    redis = named("overlays/dev", "StatefulSet", "redis")
    assert redis["spec"]["replicas"] == 1
    [container] = pod_spec(redis)["containers"]
    conf_volume = next(v for v in pod_spec(redis)["volumes"] if v["name"] == "config")
    conf = named("overlays/dev", "ConfigMap", conf_volume["configMap"]["name"])["data"]["redis.conf"]
    lines = [line.split(None, 1) for line in conf.splitlines() if line and not line.startswith("#")]
    settings = {parts[0]: parts[1] if len(parts) > 1 else "" for parts in lines}
    for key, value in procs.REDIS_PERSISTENCE:
        assert settings.get(key) == (value or '""'), f"redis.conf: {key}"
    assert container["command"][-1] == "/etc/redis/redis.conf"
    assert _keeps_data_on_a_claim(redis, settings["dir"])


def _keeps_data_on_a_claim(workload: Obj, path: str) -> bool:
    claims = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
    [container] = pod_spec(workload)["containers"]
    return any(m["mountPath"] == path and m["name"] in claims for m in container["volumeMounts"])


def test_dev_runs_a_three_member_mongodb_replica_set_initiated_once() -> None:
    mongodb = named("overlays/dev", "StatefulSet", "mongodb")
    replicas = mongodb["spec"]["replicas"]
    assert replicas == 3
    [container] = pod_spec(mongodb)["containers"]
    command = container["command"]
    set_name = command[command.index("--replSet") + 1]
    assert _keeps_data_on_a_claim(mongodb, command[command.index("--dbpath") + 1])
    service = named("overlays/dev", "Service", mongodb["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    script = " ".join(named("overlays/dev", "Job", "mongodb-init")["spec"]["template"]["spec"]["containers"][0]
                      ["command"])
    members = re.search(r"\[([\d, ]+)\]\.map\(i => \(\{_id: i, host: `mongodb-\$\{i\}\.(\w+):27017`", script)
    assert members, "the init job names the members"
    assert [int(i) for i in members[1].split(",")] == list(range(replicas))
    assert members[2] == service["metadata"]["name"]
    assert f"rs.initiate({{_id: '{set_name}'" in script and "NotYetInitialized" in script


def test_prod_uses_external_data_stores_spread_across_zones() -> None:
    tree = "overlays/prod"
    assert {w["metadata"]["name"] for w in workloads(tree)} == set(SERVICES)
    for name in SERVICES:
        workload, _ = elysium_workloads(tree)[name]
        spread = pod_spec(workload).get("topologySpreadConstraints", [])
        zones = [s for s in spread if s["topologyKey"] == "topology.kubernetes.io/zone"]
        assert zones, f"{name}: not spread across zones"
        assert selects(zones[0]["labelSelector"], pod_labels(workload))
        assert "app.kubernetes.io/name" in zones[0]["matchLabelKeys"], "counted per service"
        dev, prod = _hpa_for("overlays/dev", name)["spec"], _hpa_for(tree, name)["spec"]
        assert prod["minReplicas"] > dev["minReplicas"] and prod["maxReplicas"] > dev["maxReplicas"], name


def test_images_are_pinned_per_overlay() -> None:
    for tree in OVERLAYS:
        for w in workloads(tree):
            for c in containers(w):
                image = c["image"]
                assert ":" in image and not image.endswith(":latest"), f"k8s/{tree}: {image}"
                if is_elysium(c):
                    assert image.startswith("elysium:")
