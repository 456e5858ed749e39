/**
 * The world view a renderer draws: a plain snapshot of one moment, in floating centimetres
 * and radians, the same for a player (own seat predicted, others interpolated) and a
 * spectator (everyone interpolated). Built by `GameClient.view()` and `SpectatorClient.view()`.
 */
import type { ArenaMap, Columns } from "./protocol";

export interface PlayerView {
  seat: number;
  id: string;
  name: string;
  team: number;
  connected: boolean;
  /** Centimetres from the map's top-left corner. */
  x: number;
  y: number;
  /** Radians, 0 = +x, increasing towards +y. */
  aim: number;
  hp: number;
  alive: boolean;
  score: number;
  kills: number;
  deaths: number;
  /** The viewer's own seat. */
  self: boolean;
}

export interface ProjectileView {
  id: number;
  owner: number;
  x: number;
  y: number;
  vx: number;
  vy: number;
}

export type EffectKind = "hit" | "death" | "respawn";
export interface EffectView {
  kind: EffectKind;
  seat: number;
  by?: number;
  dmg?: number;
  x: number;
  y: number;
  /** Milliseconds since it happened (effects older than `EFFECT_MS` are dropped). */
  ageMs: number;
}
export const EFFECT_MS = 700;

export interface WorldView {
  match: string;
  mode: string;
  state: string;
  /** The (fractional) tick drawn. */
  tick: number;
  tickHz: number;
  /** The arena map, or null when the mode's map is not an arena's. */
  map: ArenaMap | null;
  players: PlayerView[];
  projectiles: ProjectileView[];
  effects: EffectView[];
  selfSeat: number | null;
  /** The seat the camera follows (a spectator's choice, or the player's own seat). */
  followSeat: number | null;
}

/** Where each named column sits in a player row (after the seat) and an object row. */
export interface ColumnIndex {
  x: number;
  y: number;
  aim: number;
  hp: number;
  alive: number;
  score: number;
  kills: number;
  deaths: number;
  team: number;
  oId: number;
  oOwner: number;
  oX: number;
  oY: number;
  oVx: number;
  oVy: number;
  oSpawn: number;
}

/** The arena's columns (protocol v1), used when a hello carries none. */
export const ARENA_COLUMNS: Columns = {
  player: ["x_cm", "y_cm", "aim_mrad", "hp", "alive", "score", "kills", "deaths", "team"],
  motion: 3,
  object: ["id", "owner", "x_cm", "y_cm", "vx_cm_s", "vy_cm_s", "spawn_tick"],
};

export function columnIndex(columns: Columns): ColumnIndex {
  const p = (n: string) => columns.player.indexOf(n);
  const o = (n: string) => columns.object.indexOf(n);
  return {
    x: p("x_cm"), y: p("y_cm"), aim: p("aim_mrad"), hp: p("hp"), alive: p("alive"), score: p("score"),
    kills: p("kills"), deaths: p("deaths"), team: p("team"),
    oId: o("id"), oOwner: o("owner"), oX: o("x_cm"), oY: o("y_cm"), oVx: o("vx_cm_s"), oVy: o("vy_cm_s"), oSpawn: o("spawn_tick"),
  };
}

/** The map as an arena map when it has the arena's geometry, else null. */
export function arenaMapOf(map: Record<string, unknown> | null | undefined): ArenaMap | null {
  if (!map || typeof map.width_cm !== "number" || typeof map.height_cm !== "number") return null;
  return { obstacles_cm: [], spawns_cm: [], player_radius_cm: 50, ...map } as unknown as ArenaMap;
}
