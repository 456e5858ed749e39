"""The game's rules and controls per queue mode, for the ``explain_rules`` tool. Pure data.

Condensed from the protocol reference (the arena's input row, map and options), the king of the
hill and cards pages, and the matchmaker's default queue modes. A mode the table does not hold is
said to be unknown, never guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModeRules:
    mode: str  # the queue mode's name, as the matchmaker takes it
    game: str  # the game mode the servers run for it
    players: str
    goal: str
    controls: str
    ending: str

    def body(self) -> dict[str, str]:
        return {"mode": self.mode, "game": self.game, "players": self.players, "goal": self.goal,
                "controls": self.controls, "ending": self.ending}


_ARENA_CONTROLS = ("move with move_x and move_y (-1 to 1 each), aim with aim (an angle in radians), fire with fire; "
                   "shots fly straight, hit the first player or obstacle, and the gun cools down between shots")
RULES: dict[str, ModeRules] = {r.mode: r for r in (
    ModeRules("arena", "arena", "2 to 10, free for all",
              "shoot the others: each hit takes health, a kill scores one point; the fallen respawn after a delay",
              _ARENA_CONTROLS, "the first to the score limit (10 kills by default) wins, else the time limit "
                               "(120 s by default) ends it and the most kills win"),
    ModeRules("duel", "arena", "2, one against one", "the arena's shooting, head to head", _ARENA_CONTROLS,
              "first to 5 kills, or the most kills after 90 s"),
    ModeRules("team-arena", "arena", "4 to 8, two teams of up to 4",
              "the arena's shooting in teams: a team scores its players' kills", _ARENA_CONTROLS,
              "the first team to 20 kills wins, else the team ahead at the time limit"),
    ModeRules("koth", "koth", "4 to 16, two teams of up to 8",
              "hold the hill: stand on it with only your team there to capture it (3 s); while your team holds "
              "it uncontested, each of you on it scores a point a second; the hill moves every 60 s",
              "walk (5 m/s), sprint (8 m/s while stamina lasts), shove every enemy within 2 m: they are knocked "
              "back and stunned for half a second; nobody dies",
              "the first team to 100 points wins, else the team ahead after 300 s, or a draw"),
    ModeRules("cards", "cards", "2 to 4 (or two pairs)",
              "win tricks: follow the led suit when you can; the highest trump, else the highest card of the led "
              "suit, takes the trick and scores a point",
              "play one legal card from your hand on your turn; a turn that times out plays your lowest legal card",
              "after the set number of rounds, or the round in which a side reaches the score limit (8 by default)"),
)}
MODES = tuple(RULES)


def explain(mode: str) -> dict[str, object]:
    """The rules of ``mode``, or a plain statement that it is not a mode the butler knows."""
    rules = RULES.get(mode.strip().lower())
    if rules is None:
        return {"known": False, "mode": mode[:64],
                "detail": f"there is no mode called that; the modes are {', '.join(MODES)}"}
    return {"known": True, **rules.body()}
