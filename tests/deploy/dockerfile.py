"""A small reader of Dockerfiles and ``.dockerignore`` files, for the image tests.

It reads the subset of the Dockerfile reference the project uses and refuses the rest with a
line number (a rule checked against a misread file would check nothing): comments and parser
directives, line continuations, ``ARG`` before and inside stages, ``FROM ... AS name``, flags
(``--mount=...``, ``--from=...``), the exec (JSON) and shell forms, ``ENV``/``LABEL`` pairs and
``HEALTHCHECK [flags] CMD ...``. Heredocs and a changed escape character are refused.

``.dockerignore`` follows Docker's matching: a path is left out of the build context when the
last pattern matching it, or one of its parent folders, is not a ``!`` exception; ``*`` and
``?`` stay inside one path segment and ``**`` spans any number of them.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

KEYWORDS = frozenset({"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
                      "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"})
FLAGGED = frozenset({"ADD", "COPY", "FROM", "HEALTHCHECK", "RUN"})
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}"
                       r"|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


class DockerfileError(ValueError):
    """The file is not one this reader understands; the message names the line."""


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str  # the text after the keyword and its flags, continuations joined
    line: int  # where the instruction starts (1-based)
    flags: tuple[tuple[str, str], ...] = ()  # ("mount", "type=bind,from=build,...") in order
    exec_form: tuple[str, ...] | None = None  # the JSON array form, when used

    def flag(self, name: str) -> list[str]:
        return [value for key, value in self.flags if key == name]


@dataclass
class Stage:
    base: str  # the FROM image as written
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def having(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    global_args: dict[str, str | None]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def resolved_base(self, stage: Stage) -> str:
        """The stage's FROM with the global ``ARG`` defaults substituted."""
        return substitute(stage.base, self.global_args, stage.line)


def substitute(text: str, values: dict[str, str | None], line: int) -> str:
    """``$NAME``, ``${NAME}`` and ``${NAME:-default}`` replaced from ``values``."""

    def one(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        value = values.get(name)
        if value:
            return value
        if match.group("default") is not None:
            return match.group("default")
        raise DockerfileError(f"line {line}: ${name} has no value")

    return _VARIABLE.sub(one, text)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, joined text) of each instruction; comments and blank lines dropped."""
    found: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    directives_allowed = True
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#"):
            directive = re.fullmatch(r"#\s*([A-Za-z]+)\s*=\s*(\S+)\s*", stripped)
            if directives_allowed and directive and directive.group(1).lower() == "escape" \
                    and directive.group(2) != "\\":
                raise DockerfileError(f"line {number}: only the default escape character is understood")
            continue  # comments may also sit between continued lines
        directives_allowed = False
        if not stripped:
            continue  # blank lines end nothing, not even a continued instruction
        if not parts:
            start = number
        if "<<" in raw and re.search(r"<<-?[\"']?[A-Za-z_]", raw):
            raise DockerfileError(f"line {number}: heredocs are not understood")
        if stripped.endswith("\\"):
            parts.append(stripped[:-1].strip())
            continue
        parts.append(stripped)
        found.append((start, " ".join(p for p in parts if p)))
        parts = []
    if parts:
        raise DockerfileError(f"line {start}: the file ends inside a continued instruction")
    return found


def _split_flags(rest: str, line: int) -> tuple[tuple[tuple[str, str], ...], str]:
    flags: list[tuple[str, str]] = []
    while rest.startswith("--"):
        token, _, after = rest.partition(" ")
        name, eq, value = token[2:].partition("=")
        if not name or not eq:
            raise DockerfileError(f"line {line}: flag {token!r} is not --name=value")
        flags.append((name, value))
        rest = after.lstrip()
    return tuple(flags), rest


def _exec_form(rest: str, line: int) -> tuple[str, ...] | None:
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except json.JSONDecodeError as exc:
        raise DockerfileError(f"line {line}: malformed JSON array: {exc.msg}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DockerfileError(f"line {line}: the exec form must be a JSON array of strings")
    return tuple(value)


def parse(text: str) -> Dockerfile:
    """The stages of a Dockerfile; :class:`DockerfileError` for anything not understood."""
    global_args: dict[str, str | None] = {}
    stages: list[Stage] = []
    for line, joined in _logical_lines(text):
        keyword, _, rest = joined.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword not in KEYWORDS:
            raise DockerfileError(f"line {line}: unknown instruction {keyword!r}")
        if not rest:
            raise DockerfileError(f"line {line}: {keyword} has no arguments")
        flags: tuple[tuple[str, str], ...] = ()
        if keyword in FLAGGED:
            flags, rest = _split_flags(rest, line)
        if keyword == "HEALTHCHECK":
            head, _, command = rest.partition(" ")
            if head.upper() == "CMD":
                rest = command.strip()
            elif head.upper() != "NONE" or command:
                raise DockerfileError(f"line {line}: HEALTHCHECK needs CMD <command> or NONE")
        instruction = Instruction(keyword, rest, line, flags, _exec_form(rest, line)
                                  if keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK", "RUN", "SHELL") else None)
        if keyword == "FROM":
            words = rest.split()
            if len(words) == 3 and words[1].upper() == "AS":
                stages.append(Stage(words[0], words[2], line))
            elif len(words) == 1:
                stages.append(Stage(words[0], None, line))
            else:
                raise DockerfileError(f"line {line}: FROM needs IMAGE [AS NAME]")
            stages[-1].instructions.append(instruction)
        elif not stages:
            if keyword != "ARG":
                raise DockerfileError(f"line {line}: only ARG may come before the first FROM")
            name, value = arg_default(instruction)
            global_args[name] = value
        else:
            stages[-1].instructions.append(instruction)
    if not stages:
        raise DockerfileError("the file has no FROM")
    return Dockerfile(global_args, stages)


def arg_default(instruction: Instruction) -> tuple[str, str | None]:
    """``ARG NAME[=default]`` as (NAME, default or None)."""
    words = shlex.split(instruction.args)
    if len(words) != 1:
        raise DockerfileError(f"line {instruction.line}: ARG declares one variable")
    name, eq, value = words[0].partition("=")
    return name, (value if eq else None)


def pairs(instruction: Instruction) -> dict[str, str]:
    """The ``KEY=value`` pairs of an ``ENV`` or ``LABEL`` (quotes removed; ``ENV KEY value`` too)."""
    words = shlex.split(instruction.args)
    if instruction.keyword == "ENV" and words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    found: dict[str, str] = {}
    for word in words:
        key, eq, value = word.partition("=")
        if not eq or not key:
            raise DockerfileError(f"line {instruction.line}: {word!r} is not KEY=value")
        found[key] = value
    return found


def stage_values(stage: Stage, keyword: str) -> dict[str, str]:
    """Every ``ENV`` (or ``LABEL``) of the stage, later ones winning."""
    found: dict[str, str] = {}
    for instruction in stage.having(keyword):
        found.update(pairs(instruction))
    return found


# --- .dockerignore ------------------------------------------------------------------------------


def _segment_regex(segment: str) -> str:
    out = []
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = segment.find("]", i + 1)
            if end < 0:
                raise ValueError(f"unclosed [ in {segment!r}")
            body = segment[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
            i = end
        elif c == "\\" and i + 1 < len(segment):
            i += 1
            out.append(re.escape(segment[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = [p for p in pattern.split("/") if p not in ("", ".")]
    if not parts:
        raise ValueError(f"pattern {pattern!r} matches nothing")
    regex = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            regex += ".*" if last else "(?:[^/]+/)*"
        else:
            regex += _segment_regex(part) + ("" if last else "/")
    return re.compile(regex)


@dataclass(frozen=True)
class IgnoreRules:
    rules: tuple[tuple[bool, re.Pattern[str]], ...]  # (is an exception, pattern), in file order

    @classmethod
    def parse(cls, text: str) -> IgnoreRules:
        rules: list[tuple[bool, re.Pattern[str]]] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exception = line.startswith("!")
            pattern = line[1:].strip() if exception else line
            try:
                rules.append((exception, _pattern_regex(pattern.lstrip("/"))))
            except ValueError as exc:
                raise DockerfileError(f".dockerignore line {number}: {exc}") from None
        return cls(tuple(rules))

    def excluded(self, path: str) -> bool:
        """Whether the build context leaves out ``path`` (relative, with ``/``)."""
        parts = PurePosixPath(path).parts
        candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        verdict = False
        for exception, regex in self.rules:
            if any(regex.fullmatch(c) for c in candidates):
                verdict = not exception
        return verdict
