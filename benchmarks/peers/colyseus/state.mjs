// The replicated state, in @colyseus/schema classes, in the same units as Elysium's wire
// (docs/protocol.md): centimetres, cm/s and milliradians as integers.
import { schema, t } from "@colyseus/schema";

export const Player = schema({
  seat: t.uint8(),
  // Motion columns: change on every move.
  x: t.int16(), // cm
  y: t.int16(), // cm
  aim: t.int16(), // mrad, -3142..3142
  // Status columns.
  hp: t.uint8(),
  alive: t.boolean(),
  score: t.uint16(),
  kills: t.uint16(),
  deaths: t.uint16(),
  team: t.uint8(),
  // The last input sequence number applied for this seat (Elysium's delta key "a"); -1: none yet.
  ack: t.number(),
}, "Player");

// A projectile: like Elysium's object rows, it never changes while it lives.
export const Projectile = schema({
  id: t.uint32(),
  owner: t.uint8(),
  x: t.int16(), // cm, where it was fired
  y: t.int16(),
  vx: t.int16(), // cm/s
  vy: t.int16(),
  spawnTick: t.uint32(),
}, "Projectile");

export const ArenaState = schema({
  // First, so a client can read it from a patch without decoding the rest (load.mjs).
  ts: t.float64(), // server wall clock when the patch was sent, microseconds since the epoch
  tick: t.uint32(), // simulation steps since the match started (Elysium's "n")
  players: t.map(Player), // by seat
  projectiles: t.map(Projectile), // by id
}, "ArenaState");
