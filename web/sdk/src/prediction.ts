/**
 * Client-side prediction of the local player with reconciliation (docs/protocol.md,
 * "Prediction and reconciliation" and "The movement rule"): the predicted position is the
 * server's last position for our seat with every input it has not yet acknowledged applied
 * again, one movement step each, with the arena's own rule (speed, map clamp, obstacle
 * push-out). Positions stay floats in cm and are never rounded between steps.
 */
import { seqAfter, type ArenaMap } from "./protocol";

export interface MovementRules {
  widthCm: number;
  heightCm: number;
  radiusCm: number;
  speedCmS: number;
  tickHz: number;
  obstaclesCm: [number, number, number, number][];
}

export function rulesFromMap(map: ArenaMap, tickHz: number): MovementRules {
  return {
    widthCm: map.width_cm,
    heightCm: map.height_cm,
    radiusCm: map.player_radius_cm,
    speedCmS: map.player_speed_cm_s,
    tickHz,
    obstaclesCm: map.obstacles_cm,
  };
}

/** The farthest one step can move a player (cm). */
export function stepLength(rules: MovementRules): number {
  return rules.speedCmS / rules.tickHz;
}

/** One step of a living player's position under move (mx, my), exactly as the server steps it. */
export function step(rules: MovementRules, x: number, y: number, mx: number, my: number): [number, number] {
  const len2 = mx * mx + my * my;
  if (len2 > 1) {
    const len = Math.sqrt(len2);
    mx /= len;
    my /= len;
  }
  const d = rules.speedCmS / rules.tickHz;
  x += mx * d;
  y += my * d;
  const r = rules.radiusCm;
  x = Math.min(Math.max(x, r), rules.widthCm - r);
  y = Math.min(Math.max(y, r), rules.heightCm - r);
  for (const [bx0, by0, bx1, by1] of rules.obstaclesCm) {
    const x0 = bx0 - r, y0 = by0 - r, x1 = bx1 + r, y1 = by1 + r;
    if (x > x0 && x < x1 && y > y0 && y < y1) {
      const pen = [x - x0, x1 - x, y - y0, y1 - y];
      let side = 0;
      for (let i = 1; i < 4; i++) if (pen[i] < pen[side]) side = i;
      if (side === 0) x = x0;
      else if (side === 1) x = x1;
      else if (side === 2) y = y0;
      else y = y1;
    }
  }
  return [x, y];
}

interface Pending {
  seq: number;
  mx: number;
  my: number;
}

/** The local player's predicted position. */
export class Predictor {
  rules: MovementRules;
  x = 0;
  y = 0;
  alive = false;
  /** False until a server position for our seat is known. */
  ready = false;
  private pending: Pending[] = [];
  /** At most this many unacknowledged inputs are replayed (older ones are dropped). */
  static readonly MAX_PENDING = 64;

  constructor(rules: MovementRules) {
    this.rules = rules;
  }

  /** Forget everything (a keyframe after a resume): predict from this server state. */
  reset(xCm: number, yCm: number, alive: boolean): void {
    this.x = xCm;
    this.y = yCm;
    this.alive = alive;
    this.ready = true;
    this.pending = [];
  }

  /** An input was sent: remember it and move the prediction one step. */
  applyInput(seq: number, mx: number, my: number): void {
    this.pending.push({ seq, mx, my });
    if (this.pending.length > Predictor.MAX_PENDING) this.pending.shift();
    if (this.ready && this.alive) [this.x, this.y] = step(this.rules, this.x, this.y, mx, my);
  }

  /**
   * The server's state for our seat after a tick (its position in cm, alive, and the last
   * input seq it applied, -1 for none): drop what it acknowledged and replay the rest.
   */
  reconcile(serverX: number, serverY: number, alive: boolean, ackSeq: number): void {
    this.pending = this.pending.filter((p) => seqAfter(p.seq, ackSeq));
    let x = serverX;
    let y = serverY;
    if (alive) for (const p of this.pending) [x, y] = step(this.rules, x, y, p.mx, p.my);
    this.x = x;
    this.y = y;
    this.alive = alive;
    this.ready = true;
  }

  /** How many sent inputs the server has not acknowledged. */
  get unacknowledged(): number {
    return this.pending.length;
  }
}
