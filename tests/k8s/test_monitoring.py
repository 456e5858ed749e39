"""The monitoring files: alert rules checked and unit-tested by promtool, the Grafana dashboard's
shape, and every metric they (and the autoscaling rules) name exported by a running service.

promtool comes with Debian's ``prometheus`` package (``scripts/bootstrap.sh dev`` installs it);
without it these tests fail, saying so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from aiohttp.test_utils import TestClient, TestServer

from gameserver.server import GameServer
from spectator.server import SpectatorServer
from tests.butler.test_api import butler_for, butler_settings  # noqa: F401
from tests.commerce.conftest import client_for, settings  # noqa: F401
from tests.gameserver.conftest import mint, server_factory  # noqa: F401
from tests.k8s import metric_names
from tests.matchmaker.conftest import auth, mm_factory, mm_settings, player_token  # noqa: F401
from tests.spectator.conftest import relay_factory  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "k8s" / "monitoring"
ALERTS = MONITORING / "alerts.yaml"
ALERT_TESTS = MONITORING / "alerts-test.yaml"
DASHBOARD = MONITORING / "dashboard.json"
AUTOSCALING = ROOT / "k8s" / "base" / "autoscaling"
OVERLAYS = ROOT / "k8s" / "overlays"

PROMETHEUS_OWN = {"up"}  # written by Prometheus for every target, not by a service
# kube-state-metrics' series of Jobs: the audit CronJob (k8s/base/commerce/audit-cronjob.yaml) is a
# command, so its failures are its Jobs'. Allowed in alert rules and only there.
KUBE_STATE = {"kube_job_status_failed"}
# prometheus-adapter's resourceRules (CPU and memory for `kubectl top` and Resource HPAs) read the
# kubelet's cAdvisor series, which no Elysium service exports; allowed there and only there.
KUBELET = {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
           "node_cpu_usage_seconds_total", "node_memory_working_set_bytes"}
SERVICES = ("gameserver", "matchmaker", "spectator", "commerce", "butler", "gateway")
AUTOSCALING_WORDS = re.compile(r"metricsQuery|seriesQuery|^\s*metric:", re.MULTILINE)


# --- reading PromQL ---------------------------------------------------------------------------

KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
            "group_right", "inf", "nan", "start", "end"}
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r'__name__\s*(=~|=)\s*("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')')
_IDENT = re.compile(r"(?<![\w:.$])[a-zA-Z_:][a-zA-Z0-9_:]*")


def promql_names(expr: str) -> tuple[set[str], set[str]]:
    """The metric names ``expr`` selects, and the ``__name__=~`` regexes it selects by.

    Grafana variables (``$__rate_interval``, ``${datasource}``) and prometheus-adapter
    templates (``<<.Series>>``) are left out; so are functions, keywords, label names in
    ``by (...)`` clauses and everything inside label matchers and strings.
    """
    expr = re.sub(r"<<[^>]*>>", " ", expr)
    names: set[str] = set()
    regexes: set[str] = set()
    for op, quoted in _NAME_MATCHER.findall(expr):
        value = quoted[1:-1]
        (names if op == "=" else regexes).add(value)
    text = _STRINGS.sub(" ", expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"\[[^\[\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)
    text = re.sub(r"\$\{[^}]*\}|\$\w+", " ", text)
    for match in _IDENT.finditer(text):
        word = match.group(0)
        if word.lower() in KEYWORDS or re.match(r"\s*\(", text[match.end():]):
            continue
        names.add(word)
    return names, regexes


def test_promql_names_reads_what_an_expression_names() -> None:
    expr = ('sum by (job, le) (rate(a_seconds_bucket{le="0.01", x=~"$inst"}[$__rate_interval])) / on (job) '
            'group_left(mode) max without (instance) (b_total offset 5m) > bool 0.5e3 and c:rule '
            'or {__name__="d", job="x"} unless {__name__=~"e_.*"} or histogram_quantile(0.9, f)[5m:1m]')
    assert promql_names(expr) == ({"a_seconds_bucket", "b_total", "c:rule", "d", "f"}, {"e_.*"})
    assert promql_names("sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)") == (set(), set())
    assert promql_names('label_replace(up, "svc", "$1", "job", "(.*)")') == ({"up"}, set())


# --- promtool ---------------------------------------------------------------------------------

def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is not installed: it comes with Debian's prometheus package "
                    "(apt-get install prometheus; scripts/bootstrap.sh dev installs it when it is missing)")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60, check=False)


def test_promtool_checks_the_rules() -> None:
    run = promtool("check", "rules", str(ALERTS))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout


def test_promtool_unit_tests_pass() -> None:
    run = promtool("test", "rules", str(ALERT_TESTS))
    assert run.returncode == 0, run.stdout + run.stderr


def alert_rules() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text())
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    alerts = {rule["alert"]: rule for rule in rules if "alert" in rule}
    assert len(alerts) == len([r for r in rules if "alert" in r]), "two alerts share a name"
    return alerts


def test_every_alert_has_a_case_that_fires_it_and_one_that_does_not() -> None:
    alerts = alert_rules()
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert set(alerts) - fires == set(), "alerts no test fires"
    assert set(alerts) - quiet == set(), "alerts no test keeps quiet"
    assert (fires | quiet) - set(alerts) == set(), "tests of alerts that do not exist"
    for name, rule in alerts.items():
        assert rule.get("labels", {}).get("severity") in ("warning", "critical"), name
        assert rule.get("annotations", {}).get("summary") and rule["annotations"].get("description"), name


def _mutated(tmp_path: Path, old: str, new: str) -> subprocess.CompletedProcess[str]:
    text = ALERTS.read_text()
    assert old in text
    (tmp_path / "alerts.yaml").write_text(text.replace(old, new, 1))
    (tmp_path / "alerts-test.yaml").write_text(ALERT_TESTS.read_text())
    return promtool("test", "rules", str(tmp_path / "alerts-test.yaml"))


@pytest.mark.parametrize(("old", "new", "alert"), [
    ('le="0.01"}[5m]', 'le="0.1"}[5m]', "GameServerTicksLate"),  # late ticks no longer counted
    ('up{job=~".*elysium.*"} == 0', 'up{job=~".*elysium.*"} == 1', "ElysiumTargetDown"),  # fires on healthy ones
    ('elysium_commerce_http_requests_total{status=~"5.."}', 'elysium_commerce_http_requests_total{status=~"[45].."}',
     "CommerceHTTPErrors"),  # counts a player's 404 as our failure
    ("or sum by (service) (rate(elysium_gateway_upstream_errors_total[5m])) * 0", "or vector(1)",
     "GatewayUpstreamUnavailable"),  # a service that never answered is no longer counted as down
], ids=["ticks-late-threshold", "target-down-inverted", "http-errors-count-4xx", "gateway-down-service-missed"])
def test_the_unit_tests_catch_a_broken_rule(tmp_path: Path, old: str, new: str, alert: str) -> None:
    run = _mutated(tmp_path, old, new)
    assert run.returncode != 0, f"promtool test rules still passes with {alert} broken"
    assert alert in run.stdout + run.stderr


# --- the dashboard ----------------------------------------------------------------------------

def dashboard() -> dict[str, Any]:
    try:
        board: dict[str, Any] = json.loads(DASHBOARD.read_text())
    except json.JSONDecodeError as exc:
        pytest.fail(f"{DASHBOARD.name} is not valid JSON: {exc}")
    return board


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])  # a collapsed row holds its panels


def dashboard_exprs(board: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in panels(board) for t in p.get("targets", [])]
    for var in board.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            inner = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query)
            exprs.append(inner.group(1) if inner else query)
    return exprs


def test_the_dashboard_is_grafana_json_with_a_row_per_service() -> None:
    board = dashboard()
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), f"panel ids repeat: {sorted(i for i in ids if ids.count(i) > 1)}"
    assert all(isinstance(i, int) for i in ids)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    rows = [p["title"] for p in panels(board) if p["type"] == "row"]
    for title in ("Game server", "Matchmaker", "Spectator relay", "Commerce", "Butler", "Gateway", "HTTP edge"):
        assert title in rows, f"no {title!r} row"
    for panel in panels(board):
        if panel["type"] == "row":
            continue
        assert panel.get("title"), panel["id"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
    for expr in dashboard_exprs(board):
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr


# --- the autoscaling rules (written beside the manifests) --------------------------------------

def autoscaling_files() -> list[Path]:
    found = [p for p in sorted(AUTOSCALING.rglob("*")) if p.suffix in (".yaml", ".yml", ".json")]
    found += [p for p in sorted(OVERLAYS.glob("*/**/*")) if p.suffix in (".yaml", ".yml")]
    return [p for p in dict.fromkeys(found) if p.is_file() and AUTOSCALING_WORDS.search(p.read_text())]


def _walk(node: Any, found: dict[str, list[Any]], section: str = "") -> None:
    if isinstance(node, dict):
        if section == "resourceRules" and ("containerQuery" in node or "nodeQuery" in node):
            found["resource"].append(node)
        elif "seriesQuery" in node or "metricsQuery" in node:
            found["adapter"].append(node)
        metric = node.get("metric")
        if isinstance(metric, dict) and isinstance(metric.get("name"), str):
            found["hpa"].append(metric["name"])
        for key, value in node.items():
            _walk(value, found, key if key in ("rules", "externalRules", "resourceRules") else section)
    elif isinstance(node, list):
        for item in node:
            _walk(item, found, section)
    elif isinstance(node, str) and ("seriesQuery" in node or "metricsQuery" in node):
        for doc in yaml.safe_load_all(node):  # an adapter config held in a ConfigMap's data
            _walk(doc, found, section)


def read_autoscaling(files: list[Path]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {"adapter": [], "resource": [], "hpa": []}
    for path in files:
        docs = [json.loads(path.read_text())] if path.suffix == ".json" else list(yaml.safe_load_all(path.read_text()))
        for doc in docs:
            _walk(doc, found)
    return found


def _go_template(template: str) -> str:
    return re.sub(r"\$\{(\d+)\}|\$(\d+)", lambda m: "\\g<" + (m.group(1) or m.group(2)) + ">", template)


def adapter_names(rule: dict[str, Any], series: set[str]) -> set[str]:
    """The metric names an adapter rule serves for the ``series`` it selects (its ``name.as`` expanded
    from the ``name.matches`` match, as prometheus-adapter does)."""
    naming = rule.get("name") or {}
    matches = naming.get("matches")
    if not matches:
        return set(series)
    pattern = re.compile(matches)
    template = _go_template(naming.get("as") or ("$1" if pattern.groups else "$0"))
    return {m.expand(template) for m in map(pattern.search, series) if m}


# --- every name exported ------------------------------------------------------------------------

@pytest.fixture
async def exported(server_factory: Callable[..., Awaitable[GameServer]],  # noqa: F811
                   mint: Callable[..., str],  # noqa: F811
                   mm_factory: Callable[..., Awaitable[TestClient[Any, Any]]],  # noqa: F811
                   auth: Callable[[str], dict[str, str]],  # noqa: F811
                   relay_factory: Callable[..., Awaitable[SpectatorServer]],  # noqa: F811
                   client_for: Callable[..., Awaitable[TestClient[Any, Any]]],  # noqa: F811
                   settings: Any,  # noqa: F811
                   butler_for: Callable[..., Awaitable[TestClient[Any, Any]]],  # noqa: F811
                   mongo_url: str, mongo_db_name: str, redis_url: str, keys_dir: Path) -> dict[str, str]:
    """Each service's /metrics text, from real servers given a little traffic."""
    game = await metric_names.game_server_metrics(server_factory, mint)
    try:
        commerce = await client_for(settings)
        return {
            "gameserver": game,
            "matchmaker": await metric_names.matchmaker_metrics(mm_factory, auth),
            "spectator": await metric_names.relay_metrics(relay_factory),
            "commerce": await metric_names.http_service_metrics(commerce),
            "butler": await metric_names.http_service_metrics(await butler_for(
                butler_settings(mongo_url, f"{mongo_db_name}_butler", redis_url, keys_dir))),
            "gateway": await _gateway_metrics(str(commerce.make_url("")).rstrip("/")),
        }
    finally:
        for server in server_factory.started:  # type: ignore[attr-defined]
            if not server._stopped.is_set():
                await server.stop()


async def _gateway_metrics(commerce_url: str) -> str:
    """The gateway in front of a real commerce (the other services down): an answer passed on, a 502."""
    from gateway.app import create_app
    from tests.gateway.servers import settings as gateway_settings

    client: TestClient[Any, Any] = TestClient(TestServer(create_app(gateway_settings({"commerce": commerce_url}))))
    await client.start_server()
    try:
        assert (await client.get("/api/commerce/v1/catalog")).status == 200
        assert (await client.get("/api/butler/v1/conversations")).status == 502
        return await metric_names.http_service_metrics(client)
    finally:
        await client.close()


def test_every_metric_named_by_alerts_dashboard_and_autoscaling_is_exported(exported: dict[str, str]) -> None:
    names = set().union(*(metric_names.exported_names(text) for text in exported.values()))
    for service in ("matchmaker", "commerce", "butler"):  # the traffic reached the kernel's request counter
        assert f"elysium_{service}_http_requests_total" in metric_names.series_names(exported[service]), service
    assert "elysium_gameserver_joins_total" in metric_names.series_names(exported["gameserver"])

    used: dict[str, set[str]] = {}
    regexes: dict[str, set[str]] = {}

    def note(where: str, expr: str) -> None:
        found, patterns = promql_names(expr)
        used.setdefault(where, set()).update(found)
        regexes.setdefault(where, set()).update(patterns)

    for name, rule in alert_rules().items():
        note(f"{ALERTS.name} {name}", rule["expr"])
    for expr in dashboard_exprs(dashboard()):
        note(DASHBOARD.name, expr)
    alerts_and_board = set().union(*used.values())
    assert len(alerts_and_board) >= 30, sorted(alerts_and_board)

    def foreign(where: str, found: set[str]) -> set[str]:
        return found - names - PROMETHEUS_OWN - (KUBE_STATE if where.startswith(ALERTS.name) else set())

    problems = [f"{where}: {sorted(foreign(where, found))}" for where, found in used.items() if foreign(where, found)]
    problems += [f"{where}: __name__=~{p!r} matches no exported metric"
                 for where, patterns in regexes.items() for p in patterns if not any(re.fullmatch(p, n) for n in names)]
    files = autoscaling_files()
    problems += autoscaling_problems(files, names)
    assert problems == [], "metrics no service exports:\n" + "\n".join(problems)


def autoscaling_problems(files: list[Path], names: set[str]) -> list[str]:
    """What the adapter rules and HPAs in ``files`` name that is not in ``names`` (empty: none)."""
    scaling = read_autoscaling(files)
    if files and not (scaling["adapter"] or scaling["hpa"] or scaling["resource"]):
        return [f"found no adapter rule or HPA metric in {[p.name for p in files]}"]
    problems: list[str] = []
    served: set[str] = set()
    for rule in scaling["adapter"]:
        series, patterns = promql_names(rule.get("seriesQuery", ""))
        query_names, query_patterns = promql_names(rule.get("metricsQuery", ""))
        where = f"adapter rule {rule.get('seriesQuery', '')!r}"
        if (series | query_names) - names - PROMETHEUS_OWN:
            problems.append(f"{where}: {sorted((series | query_names) - names - PROMETHEUS_OWN)}")
        for pattern in patterns | query_patterns:
            matched = {n for n in names if re.fullmatch(pattern, n)}
            if not matched:
                problems.append(f"{where}: __name__=~{pattern!r} matches no exported metric")
            series |= matched
        served |= adapter_names(rule, series)
    for rule in scaling["resource"]:
        for query in (rule.get("containerQuery", ""), rule.get("nodeQuery", "")):
            if promql_names(query)[0] - names - KUBELET:
                problems.append(f"resource rule {query!r}: {sorted(promql_names(query)[0] - names - KUBELET)}")
    problems += [f"HPA metric {name!r} is neither exported nor served by an adapter rule"
                 for name in scaling["hpa"] if name not in names | served]
    return problems


ADAPTER_CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: adapter-config}
data:
  config.yaml: |
    rules:
      - seriesQuery: 'elysium_gameserver_players{namespace!="",pod!=""}'
        resources: {overrides: {namespace: {resource: namespace}, pod: {resource: pod}}}
        metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
      - seriesQuery: '{__name__=~"^elysium_(commerce|butler)_http_requests_total$",pod!=""}'
        name: {matches: "^(.*)_total$", as: "${1}_per_second"}
        metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)'
    resourceRules:
      cpu:
        containerQuery: 'sum(rate(container_cpu_usage_seconds_total{<<.LabelMatchers>>}[3m])) by (<<.GroupBy>>)'
"""
HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: NAME}
spec:
  metrics:
    - type: Pods
      pods:
        metric: {name: METRIC}
        target: {type: AverageValue, averageValue: "10"}
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
"""


def test_autoscaling_names_are_checked_against_what_is_exported(tmp_path: Path) -> None:
    names = {"elysium_gameserver_players", "elysium_commerce_http_requests_total", "elysium_butler_http_requests_total"}
    (tmp_path / "adapter.yaml").write_text(ADAPTER_CONFIGMAP)
    for hpa, metric in (("gs", "elysium_gameserver_players"), ("commerce", "elysium_commerce_http_requests_per_second"),
                        ("butler", "elysium_butler_http_requests_per_second")):
        (tmp_path / f"{hpa}.yaml").write_text(HPA.replace("NAME", hpa).replace("METRIC", metric))
    files = sorted(tmp_path.iterdir())
    assert autoscaling_problems(files, names) == []
    scaling = read_autoscaling(files)
    assert (len(scaling["hpa"]), len(scaling["adapter"]), len(scaling["resource"])) == (3, 2, 1)

    (tmp_path / "gs.yaml").write_text(HPA.replace("NAME", "gs").replace("METRIC", "elysium_gameserver_seats_used"))
    assert autoscaling_problems(files, names) == [
        "HPA metric 'elysium_gameserver_seats_used' is neither exported nor served by an adapter rule"]
    assert any("elysium_gameserver_players" in p for p in autoscaling_problems(files, names - {
        "elysium_gameserver_players"}))
    assert any("matches no exported metric" in p for p in autoscaling_problems(files, {"elysium_gameserver_players"}))
    (tmp_path / "gs.yaml").write_text(HPA.replace("NAME", "gs").replace("METRIC", "elysium_gameserver_players"))
    (tmp_path / "adapter.yaml").write_text(ADAPTER_CONFIGMAP.replace("container_cpu_usage", "kube_cpu_usage"))
    assert autoscaling_problems(files, names) == [
        "resource rule 'sum(rate(kube_cpu_usage_seconds_total{<<.LabelMatchers>>}[3m])) by (<<.GroupBy>>)': "
        "['kube_cpu_usage_seconds_total']"]


def test_the_dashboard_shows_every_service_metric(exported: dict[str, str]) -> None:
    shown = set().union(*(promql_names(e)[0] for e in dashboard_exprs(dashboard())))
    missing: list[str] = []
    for service, text in exported.items():
        families = metric_names.families(text)
        for family, variants in families.items():
            if family.startswith(("elysium_", "process_cpu_seconds", "process_resident_memory")) \
                    and not variants & shown:
                missing.append(f"{service}: {family}")
    assert missing == [], "metrics the dashboard does not show:\n" + "\n".join(missing)


def test_adapter_names_follow_the_rules_renaming() -> None:
    rule: dict[str, Any] = {"seriesQuery": 'elysium_commerce_http_requests_total{namespace!="",pod!=""}',
            "name": {"matches": "^(.*)_total$", "as": "${1}_per_second"}}
    series = promql_names(rule["seriesQuery"])[0]
    assert adapter_names(rule, series) == {"elysium_commerce_http_requests_per_second"}
    assert adapter_names({"seriesQuery": "x"}, {"elysium_gameserver_players"}) == {"elysium_gameserver_players"}
    assert adapter_names({"name": {"matches": "^elysium_(.*)$"}}, {"elysium_a", "other"}) == {"a"}


def test_the_kustomization_ships_the_rules_and_the_dashboard_as_they_are() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed: it renders k8s/monitoring (kubectl kustomize)")
    run = subprocess.run([kubectl, "kustomize", str(MONITORING)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert run.returncode == 0, run.stderr
    maps = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(run.stdout)}
    assert set(maps) == {"elysium-prometheus-rules", "elysium-grafana-dashboard"}
    assert maps["elysium-prometheus-rules"]["data"] == {"alerts.yaml": ALERTS.read_text()}
    assert maps["elysium-grafana-dashboard"]["data"] == {"elysium.json": DASHBOARD.read_text()}
    assert maps["elysium-grafana-dashboard"]["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_the_audit_alert_reads_the_audit_cronjobs_failed_jobs() -> None:
    cronjob = yaml.safe_load((ROOT / "k8s" / "base" / "commerce" / "audit-cronjob.yaml").read_text())
    assert cronjob["kind"] == "CronJob" and cronjob["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    assert cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"] == ["audit"]
    expr = alert_rules()["ElysiumAuditFailed"]["expr"]
    assert "kube_job_status_failed" in expr and f'job_name=~"{cronjob["metadata"]["name"]}-.*"' in expr
