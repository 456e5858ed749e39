/**
 * @elysium/sdk — the platform as a browser sees it: the HTTP APIs on one origin, server-sent
 * event streams, the game protocol (msgpack over websockets) with prediction and
 * interpolation, and the spectator relay.
 */
export * from "./http";
export * from "./sse";
