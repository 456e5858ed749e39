"""Short codes players type or read aloud: party codes and custom-game join codes.

Six characters from an alphabet without the look-alikes 0/O and 1/I: 32**6 (about a
billion) codes, so a random one is almost always free; the scripts that store a code
refuse one already taken and the caller draws again.
"""

from __future__ import annotations

import re
import secrets

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 6
CODE_RE = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
DRAWS = 5  # codes tried before giving up (a clash even twice in a row is a one in 10**18 event)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class NoFreeCode(RuntimeError):
    """Every code drawn was taken (the code space is nearly full: our bug or an attack)."""
