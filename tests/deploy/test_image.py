"""The container image: the Dockerfile's rules, and every service started the way the image runs it.

No container engine runs where the tests run, so the image is checked in two halves:

1. The ``Dockerfile`` and ``.dockerignore``, read by ``tests/deploy/dockerfile.py``, against the
   rules of the image (``problems``); each rule is also shown to fire on a broken copy.
2. The build and the run, replayed without an engine: the build stage's ``COPY`` lines are
   applied to the repository filtered by ``.dockerignore``, the wheel is built from that copy
   (so a file the image needs but does not copy is missed here too), installed into a fresh
   virtual environment with no pip and no project on its path, and every service command runs
   from it, from an empty folder, with the environment the final stage sets.

   The wheel's dependencies are not downloaded (the tests run offline and must be fast): the
   environment sees, through one ``.pth`` line, a folder of links to exactly the installed
   distributions the wheel's metadata requires, followed transitively with markers and extras
   evaluated. So a service that imports something its wheel does not declare fails here as it
   would in the image, and nothing of the test tooling, the embedded extras (SecantusDB,
   eth-tester, py-evm) or the repository is importable.

The web client's Node stage is checked by its rules only (npm ci from the lock file, the build
alone copied where ``ELYSIUM_GATEWAY_WEB_DIR`` points); its build itself is tested in
``tests/gateway/test_webbuild.py``.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from elysium import procs
from tests.deploy.dockerfile import (Dockerfile, DockerfileError, IgnoreRules, Instruction, Stage, arg_default, parse,
                                     stage_values, substitute)
from tests.listening import check_listening

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE_TEXT = (ROOT / "Dockerfile").read_text()
IGNORE_TEXT = (ROOT / ".dockerignore").read_text()
PROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())

# The one-machine defaults the image leaves out (docs/deploy.md says why).
EMBEDDED_ONLY_COMMANDS = frozenset({"chain", "up"})
EMBEDDED_DISTRIBUTIONS = frozenset({"secantusdb", "eth-tester", "py-evm"})
COMPILERS = frozenset({"build-essential", "gcc", "g++", "cc", "clang", "make", "cmake", "cpp", "binutils", "rustc",
                       "cargo"})
SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL", re.IGNORECASE)
EXACT_TAG = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._/-]*):(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]*)"
                       r"(?:@sha256:[0-9a-f]{64})?$")


def shipped_services() -> dict[str, int]:
    """Service command -> default port, of every service the image runs (what ``elysium up``
    starts, less its embedded defaults)."""
    from elysium.up import _collect

    return {s.name: s.port for s in _collect() if s.name not in EMBEDDED_ONLY_COMMANDS}


SERVICES = shipped_services()


def project_packages() -> list[str]:
    """The top-level packages the wheel ships (pyproject's ``packages.find`` include patterns)."""
    patterns = PROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(d.name for d in ROOT.iterdir()
                  if (d / "__init__.py").is_file() and any(fnmatch.fnmatch(d.name, p) for p in patterns))


def project_files() -> set[str]:
    """The files besides the packages that building the wheel reads."""
    meta = PROJECT["project"]
    return {"pyproject.toml", meta["readme"], *meta.get("license-files", [])}


# --- the rules ---------------------------------------------------------------------------------


def _segments(command: str) -> list[list[str]]:
    """A shell command cut at ``&&``, ``||``, ``;`` and ``|``, each part as words."""
    return [part.split() for part in re.split(r"&&|\|\||;|\|", command) if part.strip()]


def _stage_args(stage: Stage) -> dict[str, str | None]:
    return dict(arg_default(i) for i in stage.having("ARG"))


WEB = "web"  # the web client's sources: what a stage that builds it may copy


def _builds_the_client(df: Dockerfile, stage: Stage) -> bool:
    return df.resolved_base(stage).startswith("node:")


def _client_problems(df: Dockerfile) -> list[str]:
    """The web client: built by a Node stage from its lock file, its build (and only that) in the runtime stage,
    where the gateway's ELYSIUM_GATEWAY_WEB_DIR names it."""
    found: list[str] = []
    client = [s for s in df.stages[:-1] if _builds_the_client(df, s)]
    if len(client) != 1 or not client[0].name:
        return ["web: one named Node stage must build the web client"]
    commands = [" ".join(r.exec_form) if r.exec_form else r.args for r in client[0].having("RUN")]
    words = [w for c in commands for w in _segments(c)]
    if ["npm", "install"] in [w[:2] for w in words] or not any(w[:2] == ["npm", "ci"] for w in words):
        found.append("web: install the client's packages with npm ci (exactly its lock file), not npm install")
    if not any(w[:3] == ["npm", "run", "build"] for w in words):
        found.append("web: the Node stage does not run npm run build")
    built = [i for i in df.final.having("COPY") if client[0].name in i.flag("from")]
    web_dir = stage_values(df.final, "ENV").get("ELYSIUM_GATEWAY_WEB_DIR")
    if not built:
        found.append("web: the runtime stage has no built web client")
    for instruction in built:
        words_ = instruction.exec_form or tuple(instruction.args.split())
        if [w.rstrip("/") for w in words_[:-1]] != ["/web/dist"]:
            found.append(f"COPY line {instruction.line}: the runtime stage takes only the client's build (dist)")
        if words_[-1].rstrip("/") != web_dir:
            found.append(f"ENV: ELYSIUM_GATEWAY_WEB_DIR ({web_dir}) is not where the client's build is copied "
                         f"({words_[-1]})")
    return found


def _copy_sources(instruction: Instruction) -> list[str]:
    words = instruction.exec_form or tuple(instruction.args.split())
    return [w.rstrip("/") or "." for w in words[:-1]]


def problems(df: Dockerfile) -> list[str]:
    """Every way ``df`` breaks the image's rules (empty: it follows them all)."""
    found: list[str] = []
    names = [s.name for s in df.stages]
    if len(df.stages) < 2:
        found.append("stages: one stage; the build (wheels) and the runtime must be separate stages")
    for stage in df.stages:
        base = df.resolved_base(stage)
        if base in names[:df.stages.index(stage)]:
            continue
        pinned = EXACT_TAG.match(base)
        if pinned is None or pinned["tag"] == "latest" or not re.search(r"\d+\.\d+\.\d+", pinned["tag"]):
            found.append(f"FROM line {stage.line}: {base!r} is not pinned to an exact version tag (or a digest)")
    final = df.final
    if "slim" not in df.resolved_base(final):
        found.append(f"FROM line {final.line}: the runtime stage is not a slim base")

    # One user, numeric and not root.
    users = final.having("USER")
    if not users:
        found.append("USER: the runtime stage runs as root")
    else:
        user, _, group = users[-1].args.partition(":")
        if not user.isdigit() or int(user) == 0 or (group and (not group.isdigit() or int(group) == 0)):
            found.append(f"USER line {users[-1].line}: {users[-1].args!r} is not a numeric non-root uid[:gid]")

    # Only installed wheels: no compilers, no caches, no builds in the runtime stage.
    for run in final.having("RUN"):
        command = " ".join(run.exec_form) if run.exec_form else run.args
        for words in _segments(command):
            if "pip" in " ".join(words) and "install" in words:
                for flag in ("--no-cache-dir", "--no-index"):
                    if flag not in words:
                        found.append(f"RUN line {run.line}: pip install without {flag} in the runtime stage")
            if "wheel" in words and any("pip" in w for w in words):
                found.append(f"RUN line {run.line}: a wheel is built in the runtime stage")
            if words[:2] in (["apt-get", "install"], ["apt", "install"], ["apk", "add"]):
                packages = [w for w in words[2:] if not w.startswith("-")]
                bad = [p for p in packages if p in COMPILERS or p.endswith("-dev")]
                if bad:
                    found.append(f"RUN line {run.line}: the runtime stage installs compilers: {', '.join(bad)}")
    for stage in df.stages:
        for run in stage.having("RUN"):
            text = run.args.lower()
            extras = re.search(r"\[(?:[^\]]*,)?\s*(embedded|dev)\s*[,\]]", text)
            if extras or any(d in text for d in EMBEDDED_DISTRIBUTIONS):
                found.append(f"RUN line {run.line}: installs the embedded or dev extras")

    # What enters the image: the build copies exactly the project, the runtime only wheels.
    build_stages = [s for s in df.stages[:-1] if s.name and not _builds_the_client(df, s)]  # the wheels' stages
    used_build = False
    for instruction in final.having("COPY") + final.having("ADD"):
        if instruction.keyword == "ADD" or not instruction.flag("from"):
            found.append(f"{instruction.keyword} line {instruction.line}: the runtime stage copies from the build "
                         f"context; it takes only the build stage's wheels")
        used_build = used_build or any(f in [s.name for s in build_stages] for f in instruction.flag("from"))
    for run in final.having("RUN"):
        used_build = used_build or any(f"from={s.name}" in m for m in run.flag("mount") for s in build_stages)
    if not used_build:
        found.append("stages: the runtime stage takes nothing from a build stage")
    needed = project_files() | set(project_packages())
    copied: set[str] = set()
    for stage in df.stages[:-1]:
        client = _builds_the_client(df, stage)
        for instruction in stage.having("ADD"):
            found.append(f"ADD line {instruction.line}: use COPY (ADD fetches URLs and unpacks archives)")
        for instruction in stage.having("COPY"):
            if instruction.flag("from"):
                continue
            for source in _copy_sources(instruction):
                if client:
                    if source != WEB and not source.startswith(WEB + "/"):
                        found.append(f"COPY line {instruction.line}: {source!r} is not the web client's source")
                    continue
                if source not in needed:
                    found.append(f"COPY line {instruction.line}: {source!r} is not needed to build the wheel")
                copied.add(source)
    for missing in sorted(needed - copied):
        found.append(f"COPY: the build does not copy {missing!r}, which the wheel needs")

    found.extend(_client_problems(df))

    # How it runs.
    entry = final.having("ENTRYPOINT")
    if not entry or entry[-1].exec_form != ("elysium",):
        found.append('ENTRYPOINT: it must be exactly ["elysium"] (the exec form)')
    cmd = final.having("CMD")
    default: str | None = None
    if not cmd or not cmd[-1].exec_form or cmd[-1].exec_form[0] not in SERVICES:
        found.append(f"CMD: the default command must name a service in the exec form: {sorted(SERVICES)}")
    else:
        default = cmd[-1].exec_form[0]
    exposed = {int(p.split("/")[0]) for i in final.having("EXPOSE") for p in i.args.split()}
    if exposed != set(SERVICES.values()):
        found.append(f"EXPOSE: {sorted(exposed)} are not the services' ports {sorted(SERVICES.values())}")
    env = stage_values(final, "ENV")
    for service in SERVICES:
        if env.get(f"ELYSIUM_{service.upper()}_HOST") != "0.0.0.0":
            found.append(f"ENV: ELYSIUM_{service.upper()}_HOST is not 0.0.0.0, so {service} would answer only "
                         f"inside its container")
    checks = final.having("HEALTHCHECK")
    if len(checks) != 1 or checks[0].exec_form is None:
        found.append("HEALTHCHECK: the runtime stage needs one, in the exec form")
    elif "/healthz" not in " ".join(checks[0].exec_form) or "ELYSIUM_HEALTHCHECK_PORT" not in " ".join(
            checks[0].exec_form):
        found.append("HEALTHCHECK: it must ask /healthz on the port in ELYSIUM_HEALTHCHECK_PORT")
    if default is not None and env.get("ELYSIUM_HEALTHCHECK_PORT") != str(SERVICES[default]):
        found.append(f"ENV: ELYSIUM_HEALTHCHECK_PORT is not the port of the default command {default} "
                     f"({SERVICES[default]})")

    # No secrets baked in.
    for stage in df.stages:
        for name, value in stage_values(stage, "ENV").items():
            if SECRET_NAME.search(name) and value:
                found.append(f"ENV: {name} looks like a secret with a value baked into the image")
        for name in _stage_args(stage):
            if SECRET_NAME.search(name):
                found.append(f"ARG: {name} looks like a secret; build arguments stay in the image's history")
    for name in df.global_args:
        if SECRET_NAME.search(name):
            found.append(f"ARG: {name} looks like a secret; build arguments stay in the image's history")

    # An ARG without a default inside a stage takes the global one.
    values = df.global_args | {k: v for k, v in _stage_args(final).items() if v is not None}
    labels = {k: substitute(v, values, final.line)
              for k, v in stage_values(final, "LABEL").items()}
    if labels.get("org.opencontainers.image.version") != PROJECT["project"]["version"]:
        found.append("LABEL: org.opencontainers.image.version is not the project's version")
    if labels.get("org.opencontainers.image.licenses") != PROJECT["project"]["license"]:
        found.append("LABEL: org.opencontainers.image.licenses is not the project's licence")
    return found


def test_the_dockerfile_follows_every_rule() -> None:
    assert problems(parse(DOCKERFILE_TEXT)) == []


def without(text: str, start: str) -> str:
    """``text`` less the instruction whose first line starts with ``start``, continued lines too."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(start))
    end = index
    while lines[end].rstrip().endswith("\\"):
        end += 1
    return "\n".join(lines[:index] + lines[end + 1:]) + "\n"


def replaced(old: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        assert old in text, old
        return text.replace(old, new)
    return change


BASE = "ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm"
BREAKAGES: dict[str, tuple[Callable[[str], str], str]] = {
    "single stage": (lambda _: "FROM python:3.11.14-slim-bookworm\nUSER 1000\n", "stages: one stage"),
    "latest base": (replaced(BASE, "ARG PYTHON_IMAGE=python:latest"), "not pinned"),
    "floating minor": (replaced(BASE, "ARG PYTHON_IMAGE=python:3.11-slim"), "not pinned"),
    "untagged base": (replaced(BASE, "ARG PYTHON_IMAGE=python"), "not pinned"),
    "full base": (replaced(BASE, "ARG PYTHON_IMAGE=python:3.11.14-bookworm"), "not a slim base"),
    "named user": (replaced("USER 10001:10001", "USER elysium"), "numeric non-root"),
    "root user": (replaced("USER 10001:10001", "USER 0:0"), "numeric non-root"),
    "no user": (lambda t: without(t, "USER "), "runs as root"),
    "pip cache": (replaced("install --no-cache-dir --no-index", "install --no-index"), "without --no-cache-dir"),
    "pip from the index": (replaced("install --no-cache-dir --no-index", "install --no-cache-dir"),
                           "without --no-index"),
    "compiler at runtime": (replaced(" && mkdir -p /srv/elysium",
                                     " && apt-get install -y --no-install-recommends gcc && mkdir -p /srv/elysium"),
                            "installs compilers: gcc"),
    "embedded extra": (replaced("--wheel-dir /wheels .", "--wheel-dir /wheels .[embedded]"), "embedded or dev"),
    "copy everything": (replaced("COPY pyproject.toml README.md LICENSE ./", "COPY . ./"), "'.' is not needed"),
    "copy tests": (replaced("COPY loadtest/ loadtest/", "COPY loadtest/ loadtest/\nCOPY tests/ tests/"),
                   "'tests' is not needed"),
    "package left out": (lambda t: without(t, "COPY butler/"), "does not copy 'butler'"),
    "source in the runtime": (replaced("WORKDIR /srv/elysium", "WORKDIR /srv/elysium\nCOPY elysium/ elysium/"),
                              "copies from the build context"),
    "wheels not from the build": (replaced("from=build,", ""), "takes nothing from a build stage"),
    "shell entrypoint": (replaced('ENTRYPOINT ["elysium"]', "ENTRYPOINT elysium"), "ENTRYPOINT"),
    "entrypoint with a service": (replaced('ENTRYPOINT ["elysium"]', 'ENTRYPOINT ["elysium", "butler"]'),
                                  "ENTRYPOINT"),
    "no default command": (lambda t: without(t, "CMD "), "CMD"),
    "unknown default command": (replaced('CMD ["gameserver"]', 'CMD ["chain"]'), "CMD"),
    "healthcheck on another port": (replaced('CMD ["gameserver"]', 'CMD ["commerce"]'), "ELYSIUM_HEALTHCHECK_PORT"),
    "no healthcheck": (lambda t: without(t, "HEALTHCHECK"), "HEALTHCHECK: the runtime stage needs one"),
    "port not exposed": (replaced("EXPOSE 7350 7360 7370 7380 7390 7400", "EXPOSE 7350 7360 7370 7380 7390"),
                         "EXPOSE"),
    "client not in the runtime": (lambda t: without(t, "COPY --from=web"), "no built web client"),
    "client installed loosely": (replaced("npm ci --no-audit", "npm install --no-audit"), "npm ci"),
    "client not built": (lambda t: without(t, "RUN npm run build"), "does not run npm run build"),
    "client sources in the runtime": (replaced("COPY --from=web /web/dist", "COPY --from=web /web"),
                                      "only the client's build"),
    "client elsewhere": (replaced("ELYSIUM_GATEWAY_WEB_DIR=/opt/elysium/web", "ELYSIUM_GATEWAY_WEB_DIR=/srv/web"),
                         "ELYSIUM_GATEWAY_WEB_DIR"),
    "tests in the client stage": (replaced("COPY web/ ./", "COPY web/ ./\nCOPY tests/ tests/"),
                                  "'tests' is not the web client's source"),
    "gateway on loopback": (replaced("    ELYSIUM_GATEWAY_HOST=0.0.0.0 \\\n", ""), "ELYSIUM_GATEWAY_HOST"),
    "loopback only": (replaced("    ELYSIUM_BUTLER_HOST=0.0.0.0 \\\n", ""), "ELYSIUM_BUTLER_HOST"),
    "secret env": (replaced("WORKDIR /srv/elysium", "ENV ELYSIUM_STRIPE_SECRET_KEY=sk_live_123\nWORKDIR /srv/elysium"),
                   "ELYSIUM_STRIPE_SECRET_KEY looks like a secret"),
    "secret arg": (replaced("ARG REVISION=unknown", "ARG REVISION=unknown\nARG GITHUB_TOKEN"),
                   "GITHUB_TOKEN looks like a secret"),
    "wrong version label": (replaced("ARG VERSION=0.1.0", "ARG VERSION=9.9.9"), "image.version"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_each_rule_fires_on_a_dockerfile_that_breaks_it(breakage: str) -> None:
    change, expected = BREAKAGES[breakage]
    found = problems(parse(change(DOCKERFILE_TEXT)))
    assert any(expected in p for p in found), found


# --- the reader itself --------------------------------------------------------------------------


def test_the_reader_joins_continuations_and_reads_flags_and_forms() -> None:
    df = parse("# syntax=docker/dockerfile:1\nARG BASE=python:3.11.14-slim\n"
               "FROM ${BASE} AS build\n\nRUN echo a \\\n  # a comment inside\n    && echo b\n"
               "FROM $BASE\nCOPY --from=build --chown=1:1 /w /w\nENV A=1 B=\"two words\"\nENV C 3\n"
               "HEALTHCHECK --interval=5s CMD [\"true\"]\nCMD [\"x\", \"y\"]\n")
    assert df.global_args == {"BASE": "python:3.11.14-slim"}
    assert [s.name for s in df.stages] == ["build", None]
    assert df.resolved_base(df.final) == "python:3.11.14-slim"
    run = df.stages[0].having("RUN")[0]
    assert run.args == "echo a && echo b" and run.line == 5
    copy = df.final.having("COPY")[0]
    assert copy.flag("from") == ["build"] and copy.flag("chown") == ["1:1"] and copy.args == "/w /w"
    assert stage_values(df.final, "ENV") == {"A": "1", "B": "two words", "C": "3"}
    check = df.final.having("HEALTHCHECK")[0]
    assert check.exec_form == ("true",) and check.flag("interval") == ["5s"]
    assert df.final.having("CMD")[0].exec_form == ("x", "y")


@pytest.mark.parametrize(("text", "message"), [
    ("RUN x\n", "line 1: only ARG may come before the first FROM"),
    ("FROM a:1.2.3\nFETCH x\n", "line 2: unknown instruction 'FETCH'"),
    ("FROM a:1.2.3\nCMD [\"x\",\n", "line 2: malformed JSON array"),
    ("FROM a:1.2.3\nRUN <<EOF\necho\nEOF\n", "line 2: heredocs are not understood"),
    ("FROM a:1.2.3\nRUN echo \\\n", "line 2: the file ends inside a continued instruction"),
    ("FROM a:1.2.3 AS\n", "line 1: FROM needs IMAGE [AS NAME]"),
    ("FROM $MISSING\n", "line 1: $MISSING has no value"),
    ("# escape=`\nFROM a:1.2.3\n", "line 1: only the default escape character"),
    ("ARG\n", "line 1: ARG has no arguments"),
])
def test_the_reader_refuses_what_it_does_not_understand(text: str, message: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        df = parse(text)
        df.resolved_base(df.final)
    assert message in str(caught.value)


# --- .dockerignore ------------------------------------------------------------------------------

IGNORE = IgnoreRules.parse(IGNORE_TEXT)


@pytest.mark.parametrize("path", [
    ".git/HEAD", ".venv/bin/python", "web/node_modules/react/index.js", "contracts/node_modules/solc/x.js",
    ".elysium/keys/join.key", ".elysium/redis/appendonly.aof", "commerce/stray.key", "deep/er/cert.pem", ".env",
    "butler/.env.local", "elysium/__pycache__/cli.cpython-311.pyc", ".mypy_cache/3.11/x.json", "build/lib/x.py",
    "elysium.egg-info/PKG-INFO", "tests/conftest.py", "benchmarks/results/x.json", "k8s/base/kustomization.yaml",
    "loadtest-report/report.json", "docs/protocol.md", "k8s/loadtest/join.key.example", ".ci/run",
])
def test_the_build_context_leaves_out_state_secrets_and_what_the_image_needs_not(path: str) -> None:
    assert IGNORE.excluded(path), path


def context_files(root: Path, rules: IgnoreRules) -> list[str]:
    """Every file of ``root`` the build context holds, as relative POSIX paths."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        here = PurePosixPath(Path(folder).relative_to(root).as_posix())
        dirs[:] = [d for d in dirs if not rules.excluded(str(here / d))]
        found.extend(str(here / f) for f in files if not rules.excluded(str(here / f)))
    return sorted(p.removeprefix("./") for p in found)


def shipped_files() -> list[str]:
    """The project files and every module and package-data file of the shipped packages."""
    kinds = {".py", *(pattern.removeprefix("*") for pattern in PROJECT["tool"]["setuptools"]["package-data"]["*"])}
    found = sorted(project_files())
    for package in project_packages():
        found.extend(p.relative_to(ROOT).as_posix() for p in sorted((ROOT / package).rglob("*"))
                     if p.is_file() and p.suffix in kinds and "__pycache__" not in p.parts)
    return found


def test_the_build_context_keeps_every_file_of_the_shipped_packages() -> None:
    shipped = shipped_files()
    assert "commerce/catalog.json" in shipped and "commerce/chain/artifacts/ElysiumItems.json" in shipped
    dropped = [p for p in shipped if IGNORE.excluded(p)]
    assert dropped == []
    assert IgnoreRules.parse("**/*.json").excluded("commerce/catalog.json")  # the check can fail


def test_ignore_patterns_follow_dockers_matching() -> None:
    rules = IgnoreRules.parse("# c\n*.md\n!README.md\n/build\ndocs/**/*.png\nlogs/?.txt\n")
    assert rules.excluded("CHANGES.md") and not rules.excluded("README.md") and not rules.excluded("a/CHANGES.md")
    assert rules.excluded("build/x/y") and not rules.excluded("src/build")
    assert rules.excluded("docs/a/b/c.png") and rules.excluded("docs/c.png") and not rules.excluded("docs/c.svg")
    assert rules.excluded("logs/1.txt") and not rules.excluded("logs/10.txt")
    with pytest.raises(DockerfileError, match="line 1"):
        IgnoreRules.parse("[a-\n")


# --- the build and the run, replayed ------------------------------------------------------------


SYSTEM_PATH = "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    workdir: Path  # an empty folder the services run in, as the image's WORKDIR
    logs: Path  # where the tests keep what the services print on stderr

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, **more: str) -> dict[str, str]:
        """The runtime stage's environment, with this virtual environment in place of the image's."""
        final = parse(DOCKERFILE_TEXT).final
        env = {"PATH": f"{self.bin}:{SYSTEM_PATH}", "LANG": "C.UTF-8"}  # nothing of the caller's tools
        for key, value in stage_values(final, "ENV").items():
            if key != "PATH":
                env[key] = value
        env.update(more)
        return env

    def python(self, code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / "python"), "-c", code], cwd=self.workdir, env=self.env(),
                              capture_output=True, text=True, timeout=60)


def build_context(df: Dockerfile, into: Path) -> Path:
    """Apply the build stage's ``COPY`` lines to the repository as ``.dockerignore`` filters it;
    return the stage's ``WORKDIR`` in ``into``."""
    stage = df.stages[0]
    workdir = into
    context = context_files(ROOT, IGNORE)
    for instruction in stage.instructions:
        if instruction.keyword == "WORKDIR":
            workdir = into / instruction.args.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY" and not instruction.flag("from"):
            words = instruction.exec_form or tuple(instruction.args.split())
            target = workdir / words[-1]
            for source in _copy_sources(instruction):
                files = [p for p in context if p == source or p.startswith(source + "/")]
                assert files, f"COPY line {instruction.line}: {source} is not in the build context"
                for path in files:
                    relative = Path(path).relative_to(source) if path != source else Path(Path(path).name)
                    (target / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(ROOT / path, target / relative)
    return workdir


def required_distributions(wheel_dist: metadata.Distribution, site: str) -> list[metadata.Distribution]:
    """The installed distributions ``wheel_dist`` needs, transitively, markers and extras evaluated."""
    installed = {canonicalize_name(d.metadata["Name"]): d for d in metadata.distributions(path=[site])}
    wanted: dict[str, metadata.Distribution] = {}
    pending: list[tuple[metadata.Distribution, frozenset[str]]] = [(wheel_dist, frozenset())]
    while pending:
        dist, extras = pending.pop()
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in {"", *extras}):
                continue
            name = canonicalize_name(req.name)
            assert name in installed, f"{req.name}, needed by {dist.metadata['Name']}, is not installed"
            if name not in wanted or req.extras:
                wanted[name] = installed[name]
                pending.append((installed[name], frozenset(req.extras)))
    return list(wanted.values())


def link_distributions(dists: list[metadata.Distribution], site: str, into: Path) -> None:
    """A folder of links to the top-level files and folders of ``dists`` in ``site``."""
    into.mkdir()
    for dist in dists:
        assert dist.files is not None, f"{dist.metadata['Name']} has no RECORD"
        for top in {PurePosixPath(str(f)).parts[0] for f in dist.files}:
            if top != ".." and not (into / top).exists():
                (into / top).symlink_to(Path(site) / top)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("image")
    df = parse(DOCKERFILE_TEXT)
    source = build_context(df, root / "context")
    wheels = root / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--no-cache-dir", "--quiet", "--wheel-dir", str(wheels), str(source)], check=True, timeout=120)
    wheel = next(wheels.glob("elysium-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
                    "--no-index", "--no-cache-dir", "--quiet", str(wheel)], check=True, timeout=120)
    site = sysconfig.get_paths()["purelib"]
    venv_site = next(venv.glob("lib/python*/site-packages"))
    ours = next(iter(metadata.distributions(path=[str(venv_site)], name="elysium")))
    deps = required_distributions(ours, site)
    names = {canonicalize_name(d.metadata["Name"]) for d in deps}
    assert not names & EMBEDDED_DISTRIBUTIONS and "elysium" not in names and "pytest" not in names, names
    link_distributions(deps, site, root / "dependencies")
    (venv_site / "dependencies.pth").write_text(f"{root / 'dependencies'}\n")
    workdir = root / "workdir"
    workdir.mkdir()
    (root / "logs").mkdir()
    return Installed(wheel, venv, workdir, root / "logs")


def test_the_environment_holds_the_wheel_and_its_dependencies_only(image: Installed) -> None:
    names = set(zipfile.ZipFile(image.wheel).namelist())
    for data in ("commerce/catalog.json", "matchmaker/openapi.json", "commerce/chain/artifacts/ElysiumItems.json",
                 "commerce/chain/artifacts/ElysiumRights.json", "loadtest/scenarios/smoke.toml"):
        assert data in names, data
    assert not any(n.startswith(("tests/", "benchmarks/", "contracts/", "k8s/")) for n in names)
    done = image.python(
        "import importlib, importlib.metadata as m, json, commerce.chain.artifacts as a, elysium\n"
        "missing = []\n"
        "for name in ('secantus', 'eth_tester', 'eth', 'pytest', 'hypothesis', 'tests'):\n"
        "    try: importlib.import_module(name)\n"
        "    except ModuleNotFoundError: missing.append(name)\n"
        "print(json.dumps({'elysium': elysium.__file__, 'missing': missing,\n"
        "  'modes': sorted(e.name for e in m.entry_points(group='elysium.modes')),\n"
        "  'dists': [d.metadata['Name'] for d in m.distributions() if d.metadata['Name'] == 'elysium'],\n"
        "  'artifacts': [a.load_artifact(n)['contractName'] for n in a.ARTIFACT_NAMES]}))")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["elysium"].startswith(str(image.venv)), found
    assert found["missing"] == ["secantus", "eth_tester", "eth", "pytest", "hypothesis", "tests"]
    assert found["modes"] == sorted(PROJECT["project"]["entry-points"]["elysium.modes"])
    assert found["dists"] == ["elysium"]
    assert found["artifacts"] == ["ElysiumItems", "ElysiumRights"]


def test_every_service_command_answers_help_from_the_wheel(image: Installed) -> None:
    elysium = shutil.which("elysium", path=image.env()["PATH"])
    assert elysium == str(image.bin / "elysium")
    running = {name: subprocess.Popen([elysium, name, "--help"], cwd=image.workdir, env=image.env(),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in SERVICES}
    for name, proc in running.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (name, err)
        assert out.startswith(f"usage: elysium {name}") and "--port" in out, (name, out)


def service_env(name: str, port: int, redis_url: str, mongo_url: str, db: str, keys_dir: Path,
                ports: dict[str, int]) -> dict[str, str]:
    """What each service needs to start, as a deployment sets it (docs/deploy.md); ``ports``: the others'."""
    common = {f"ELYSIUM_{name.upper()}_PORT": str(port), "ELYSIUM_HEALTHCHECK_PORT": str(port),
              "ELYSIUM_REDIS_URL": redis_url}
    return common | {
        "gameserver": {"ELYSIUM_JOIN_PUBLIC_KEY_FILE": str(keys_dir / "join.pub"), "ELYSIUM_SERVER_ID": "image-1",
                       "ELYSIUM_MODES": ",".join(PROJECT["project"]["entry-points"]["elysium.modes"]),
                       "ELYSIUM_DRAIN_TIMEOUT_S": "5"},
        "matchmaker": {"ELYSIUM_MONGO_URL": mongo_url, "ELYSIUM_MATCHMAKER_DB": f"{db}_mm",
                       "ELYSIUM_PLAYER_PUBLIC_KEY_FILE": str(keys_dir / "player.pub"),
                       "ELYSIUM_JOIN_PRIVATE_KEY_FILE": str(keys_dir / "join.key")},
        "spectator": {"ELYSIUM_SPECTATOR_ID": "image-relay"},
        "commerce": {"ELYSIUM_MONGO_URL": mongo_url, "ELYSIUM_COMMERCE_DB": f"{db}_co",
                     "ELYSIUM_PLAYER_PRIVATE_KEY_FILE": str(keys_dir / "player.key"),
                     "ELYSIUM_ARGON2_MEMORY_KIB": "1024", "ELYSIUM_ARGON2_TIME_COST": "1"},
        "butler": {"ELYSIUM_MONGO_URL": mongo_url, "ELYSIUM_BUTLER_DB": f"{db}_bu",
                   "ELYSIUM_PLAYER_PUBLIC_KEY_FILE": str(keys_dir / "player.pub"),
                   "ELYSIUM_BUTLER_COMMERCE_URL": "http://127.0.0.1:9", "ELYSIUM_BUTLER_MATCHMAKER_URL":
                   "http://127.0.0.1:9"},
        "gateway": {f"ELYSIUM_{other.upper()}_URL": f"http://127.0.0.1:{ports[other]}"
                    for other in ("commerce", "matchmaker", "spectator", "butler")},
    }[name]


def read_line(proc: subprocess.Popen[bytes], deadline: float) -> bytes:
    """The first line ``proc`` prints, read without blocking past ``deadline``."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    got = b""
    while b"\n" not in got:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"no listening line in time; so far {got!r}")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise AssertionError(f"the process ended (status {proc.wait()}) before listening: {got!r}")
        got += chunk
    return got.split(b"\n", 1)[0]


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read()


@pytest.fixture
def started(image: Installed, redis_url: str, mongo_url: str, mongo_db_name: str,
            keys_dir: Path) -> Iterator[dict[str, tuple[subprocess.Popen[bytes], int, str]]]:
    """Every service started at once from the image's environment as ``elysium <service>``, each
    with its listening port and the stderr file its logs go to."""
    final = parse(DOCKERFILE_TEXT).final
    entrypoint = final.having("ENTRYPOINT")[-1].exec_form
    assert entrypoint is not None
    running: dict[str, tuple[subprocess.Popen[bytes], int, str]] = {}
    try:
        ports = {name: procs.free_port() for name in SERVICES}
        for name in SERVICES:
            port = ports[name]
            env = image.env(**service_env(name, port, redis_url, mongo_url, mongo_db_name, keys_dir, ports))
            program = shutil.which(entrypoint[0], path=env["PATH"])
            assert program == str(image.bin / "elysium")
            errors = str(image.logs / f"{name}.stderr")
            with open(errors, "wb") as sink:
                running[name] = (subprocess.Popen([program, *entrypoint[1:], name], cwd=image.workdir, env=env,
                                                  stdout=subprocess.PIPE, stderr=sink), port, errors)
        yield running
    finally:
        for proc, _, _ in running.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def test_every_service_starts_from_the_wheel_serves_and_stops_on_sigterm(
        image: Installed, started: dict[str, tuple[subprocess.Popen[bytes], int, str]]) -> None:
    deadline = time.monotonic() + 30
    check = parse(DOCKERFILE_TEXT).final.having("HEALTHCHECK")[-1].exec_form
    assert check is not None
    for name, (proc, port, errors) in started.items():
        try:
            line = json.loads(read_line(proc, deadline))
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}; its log: {Path(errors).read_text()[-2000:]}") from None
        check_listening(line, name)
        assert line["port"] == port and line["host"] == "0.0.0.0", line
        probe = subprocess.run(check, cwd=image.workdir, env=image.env(ELYSIUM_HEALTHCHECK_PORT=str(port)),
                               capture_output=True, text=True, timeout=30)
        assert probe.returncode == 0, (name, probe.stderr)
        assert get(f"http://127.0.0.1:{port}/readyz")[0] == 200, name
        assert get(f"http://127.0.0.1:{port}/metrics")[0] == 200, name
    # The package data behind the APIs, read from the installed wheel.
    status, body = get(f"http://127.0.0.1:{started['commerce'][1]}/v1/catalog")
    assert status == 200 and json.loads(body)["items"], body[:200]
    for name in SERVICES:
        status, body = get(f"http://127.0.0.1:{started[name][1]}/v1/openapi.json")
        assert status == 200 and json.loads(body)["openapi"].startswith("3."), name
    for proc, _, _ in started.values():
        proc.send_signal(signal.SIGTERM)
    for name, (proc, _, errors) in started.items():
        assert proc.wait(20) == 0, (name, Path(errors).read_text()[-2000:])
    # A read-only root filesystem is enough: no service wrote into its working folder.
    assert list(image.workdir.iterdir()) == []


def test_the_healthcheck_fails_when_nothing_answers(image: Installed) -> None:
    check = parse(DOCKERFILE_TEXT).final.having("HEALTHCHECK")[-1].exec_form
    assert check is not None
    probe = subprocess.run(check, cwd=image.workdir, env=image.env(ELYSIUM_HEALTHCHECK_PORT=str(procs.free_port())),
                           capture_output=True, text=True, timeout=30)
    assert probe.returncode == 1, probe
