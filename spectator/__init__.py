"""The spectator relay: match feeds from Redis fanned out to watchers over websockets."""
