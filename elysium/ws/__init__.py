"""The websocket edge every Elysium websocket service shares.

Framing, the raw endpoint, the message envelope with its error codes, the fan-out policy for
slow readers and the client-side state replica live here once; the game server, the relay,
the load tester and the tests build on them.
"""
