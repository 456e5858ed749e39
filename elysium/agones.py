"""What the game server and the matchmaker agree on under Agones (docs/agones.md).

A game server labels its GameServer with its free seats through the SDK, whose label calls
take a key without a prefix and store it under ``agones.dev/sdk-``; the matchmaker selects on
the stored label when it allocates, and annotates the allocation with the match it is for.
"""

from __future__ import annotations

SDK_LABEL_PREFIX = "agones.dev/sdk-"  # what the SDK puts before every key it is given
SEATS_LABEL_KEY = "seats-free"  # the key the game server gives the SDK
SEATS_LABEL = SDK_LABEL_PREFIX + SEATS_LABEL_KEY  # the label on the GameServer the matchmaker selects on
MATCH_ANNOTATION = "elysium.dev/match-id"  # on an allocation: the match it was made for
