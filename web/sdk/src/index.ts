/**
 * @elysium/sdk — the platform as a browser sees it: the HTTP APIs on one origin, server-sent
 * event streams, the game protocol (msgpack over websockets) with prediction and
 * interpolation, and the spectator relay. See README.md.
 */
export * from "./http";
export * from "./sse";
export * from "./protocol";
export { Replica } from "./replica";
export * from "./view";
export * from "./prediction";
export * from "./interpolation";
export { MatchWorld } from "./world";
export { GameClient, JoinError, type ArenaInput, type GameClientEvents, type GameClientOptions, type MatchEnd, type WebSocketFactory, type WebSocketLike } from "./game";
export * from "./watch";
