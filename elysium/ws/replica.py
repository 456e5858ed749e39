"""The client-side replica of a match: the state rebuilt from keyframes, deltas and events. Pure.

A player's client and a spectator's rebuild the same state the same way, in wire units,
exactly as ``docs/protocol.md`` describes (a keyframe replaces everything; a delta updates
the motion columns ``p``, the slow columns ``s``, objects and acks; events update the roster).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Replica:
    """The client-side copy of the replicated state, in wire units."""

    tick: int = -1
    players: dict[int, list[int]] = field(default_factory=dict)  # seat -> player columns
    objects: dict[int, list[int]] = field(default_factory=dict)  # object id -> object columns
    roster: dict[int, list[Any]] = field(default_factory=dict)  # seat -> [seat, id, name, team, connected]
    acks: dict[int, int] = field(default_factory=dict)
    motion: int = 3
    width: int = 9  # number of player columns

    def apply(self, msg: dict[str, Any]) -> None:
        kind = msg["t"]
        if kind == "keyframe":
            self.tick = msg["n"]
            self.players = {row[0]: list(row[1:]) for row in msg["players"]}
            self.objects = {row[0]: list(row) for row in msg["objects"]}
            self.roster = {row[0]: list(row) for row in msg["roster"]}
            self.acks = {seat: seq for seat, seq in msg["a"]}
        elif kind == "delta":
            self.tick = msg["n"]
            for row in msg.get("p", ()):
                cur = self.players.setdefault(row[0], [0] * self.width)
                cur[: self.motion] = row[1:]
            for row in msg.get("s", ()):
                cur = self.players.setdefault(row[0], [0] * self.width)
                cur[self.motion:] = row[1:]
            for seat in msg.get("gone", ()):
                self.players.pop(seat, None)
            for row in msg.get("o+", ()):
                self.objects[row[0]] = list(row)
            for ident in msg.get("o-", ()):
                self.objects.pop(ident, None)
            for seat, seq in msg.get("a", ()):
                self.acks[seat] = seq
        elif kind == "events":
            for ev in msg["e"]:
                if ev["k"] == "join":
                    self.roster[ev["who"]] = [ev["who"], ev["id"], ev["name"], ev["team"], True]
                elif ev["k"] == "leave":
                    self.roster.pop(ev["who"], None)
                elif ev["k"] in ("drop", "back") and ev["who"] in self.roster:
                    self.roster[ev["who"]][4] = ev["k"] == "back"
