"""The client half of game protocol v1, as every game client speaks it. No I/O here.

What a player sends besides the shared ``ping`` and ``leave`` (:mod:`elysium.ws.envelope`):
``join`` and ``input``, and the game's own error codes a client acts on. The game server
decodes these messages (``gameserver.protocol``); its reference client, its bots, the load
tester and the tests encode them here. ``docs/protocol.md`` is the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from elysium.ws.envelope import PROTOCOL_VERSION, pack

PLAY_PATH: Final = "/v1/play"

# Stable error codes of the game protocol, beside the shared ones.
NOT_JOINED: Final = "not_joined"
ALREADY_JOINED: Final = "already_joined"
TOKEN_REJECTED: Final = "token_rejected"
TOKEN_REUSED: Final = "token_reused"
WRONG_SERVER: Final = "wrong_server"
ROOM_FULL: Final = "room_full"
ROOM_CLOSED: Final = "room_closed"
NOT_IN_ROSTER: Final = "not_in_roster"
RESUME_REJECTED: Final = "resume_rejected"
JOIN_REJECTED: Final = "join_rejected"  # the mode refused the join's choice (a team, a loadout)
BANNED: Final = "banned"  # the account is banned: a join is refused, a seated player is removed (then close 1008)
KICKED: Final = "kicked"  # an operator removed the player from the match (then close 1008)

InputRow = tuple[int, float, float, float, bool]  # seq, move_x, move_y, aim, fire

SEQ_MODULUS: Final = 2**32  # sequence numbers are uint32 and wrap: after 2**32 - 1 comes 0
_SEQ_HALF: Final = 2**31


def seq_after(seq: int, last: int) -> bool:
    """Whether input ``seq`` is newer than ``last`` (-1: nothing yet), compared modulo 2**32.

    Serial number arithmetic (RFC 1982): ``seq`` is newer when it is at most 2**31 - 1
    steps ahead of ``last``, so numbering may wrap from 2**32 - 1 to 0 and carry on.
    """
    return last < 0 or 0 < (seq - last) % SEQ_MODULUS < _SEQ_HALF


def count_new(inputs: Sequence[Sequence[Any]], last: int) -> int:
    """How many of ``inputs`` (in order) are newer than ``last`` and the ones before them."""
    new = 0
    for row in inputs:
        if seq_after(row[0], last):
            new += 1
            last = row[0]
    return new


def encode_join(token: str | None = None, resume: str | None = None,
                choice: dict[str, int | float | bool | str] | None = None) -> bytes:
    msg: dict[str, Any] = {"t": "join", "v": PROTOCOL_VERSION}
    if choice is not None:
        msg["choice"] = choice
    if token is not None:
        msg["token"] = token
    if resume is not None:
        msg["resume"] = resume
    return pack(msg)


def encode_inputs(inputs: Sequence[Sequence[int | float | bool]]) -> bytes:
    """An ``input`` message: rows ``[seq, *fields]`` in the mode's schema order (``welcome.input``)."""
    return pack({"t": "input", "i": [list(row) for row in inputs]})


def encode_chat(text: str, ident: int | None = None) -> bytes:
    """A team ``chat`` message (``docs/protocol.md``, *Team chat*)."""
    msg: dict[str, Any] = {"t": "chat", "text": text}
    if ident is not None:
        msg["id"] = ident
    return pack(msg)
