"""The authoritative, tick-based game server."""
