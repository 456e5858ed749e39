/**
 * Client-side prediction of the local player with reconciliation (docs/protocol.md,
 * "Prediction and reconciliation" and "The movement rule"): the predicted position is the
 * server's last position for our seat with every input it has not yet acknowledged applied
 * again, one movement step each, with the arena's own rule (speed, map clamp, obstacle
 * push-out).
 *
 * Two details make the prediction exact rather than merely close:
 * - The step is computed in metres with the server's operations in the server's order, so
 *   from the same starting float it gives the same float, bit for bit. That matters where
 *   the push-out's depths tie (running diagonally into a box corner, which a keyboard's
 *   exact diagonals do): the side is decided by the last bits, and rounded wire
 *   centimetres cannot decide it.
 * - The client keeps its own unrounded position for every input it sent. When the server's
 *   (rounded) position for an acknowledged input agrees with ours to within the wire's
 *   rounding, ours is kept as the base; only a real misprediction (a dropped or merged input,
 *   a hit wall we did not know) resets the base to the server's position.
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

/** The rules in metres, as the server holds them. */
interface Metric {
  d: number;
  lo: number;
  hiX: number;
  hiY: number;
  boxes: [number, number, number, number][];
}

const metricCache = new WeakMap<MovementRules, Metric>();

function metric(rules: MovementRules): Metric {
  let m = metricCache.get(rules);
  if (!m) {
    const r = rules.radiusCm / 100;
    m = {
      d: (rules.speedCmS / 100) * (1 / rules.tickHz),
      lo: r,
      hiX: rules.widthCm / 100 - r,
      hiY: rules.heightCm / 100 - r,
      boxes: rules.obstaclesCm.map(([x0, y0, x1, y1]) => [x0 / 100 - r, y0 / 100 - r, x1 / 100 + r, y1 / 100 + r]),
    };
    metricCache.set(rules, m);
  }
  return m;
}

/** One step of a living player, positions in metres (the server's own arithmetic). */
export function stepMetres(rules: MovementRules, x: number, y: number, mx: number, my: number): [number, number] {
  const m = metric(rules);
  const len2 = mx * mx + my * my;
  if (len2 > 1) {
    const len = Math.sqrt(len2);
    mx /= len;
    my /= len;
  }
  x += mx * m.d;
  y += my * m.d;
  x = Math.min(Math.max(x, m.lo), m.hiX);
  y = Math.min(Math.max(y, m.lo), m.hiY);
  for (const [x0, y0, x1, y1] of m.boxes) {
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

/** One step of a living player's position under move (mx, my), in centimetres. */
export function step(rules: MovementRules, xCm: number, yCm: number, mx: number, my: number): [number, number] {
  const [x, y] = stepMetres(rules, xCm / 100, yCm / 100, mx, my);
  return [x * 100, y * 100];
}

interface Sent {
  seq: number;
  mx: number;
  my: number;
  /** Our predicted position after this input (metres). */
  x: number;
  y: number;
}

/** The local player's predicted position. */
export class Predictor {
  rules: MovementRules;
  /** Position in metres before the first unacknowledged input. */
  private baseX = 0;
  private baseY = 0;
  alive = false;
  /** False until a server position for our seat is known. */
  ready = false;
  private sent: Sent[] = [];
  /** Predictions that disagreed with the server beyond its rounding (for diagnostics). */
  corrections = 0;
  /** The largest distance (cm) between a prediction and the server's position for the same input. */
  maxError = 0;
  /** At most this many unacknowledged inputs are replayed (older ones are dropped). */
  static readonly MAX_PENDING = 64;

  constructor(rules: MovementRules) {
    this.rules = rules;
  }

  /** Predicted position (cm). */
  get x(): number {
    return (this.sent.length ? this.sent[this.sent.length - 1].x : this.baseX) * 100;
  }

  get y(): number {
    return (this.sent.length ? this.sent[this.sent.length - 1].y : this.baseY) * 100;
  }

  /** Forget everything (a keyframe, a start): predict from this server state (cm). */
  reset(xCm: number, yCm: number, alive: boolean): void {
    this.baseX = xCm / 100;
    this.baseY = yCm / 100;
    this.alive = alive;
    this.ready = true;
    this.sent = [];
  }

  /** An input was sent: remember it and move the prediction one step. */
  applyInput(seq: number, mx: number, my: number): void {
    const last = this.sent[this.sent.length - 1];
    let x = last ? last.x : this.baseX;
    let y = last ? last.y : this.baseY;
    if (this.ready && this.alive) [x, y] = stepMetres(this.rules, x, y, mx, my);
    this.sent.push({ seq, mx, my, x, y });
    if (this.sent.length > Predictor.MAX_PENDING) {
      const dropped = this.sent.shift()!;
      this.baseX = dropped.x;
      this.baseY = dropped.y;
    }
  }

  /**
   * The server's state for our seat after a tick (its position in cm, alive, and the last
   * input seq it applied, -1 for none): drop what it acknowledged and replay the rest.
   */
  reconcile(serverX: number, serverY: number, alive: boolean, ackSeq: number): void {
    let acked: Sent | undefined;
    while (this.sent.length && !seqAfter(this.sent[0].seq, ackSeq)) acked = this.sent.shift();
    const agrees = acked !== undefined && acked.seq === ackSeq && alive && this.alive &&
      Math.abs(acked.x * 100 - serverX) <= 0.5 + 1e-9 && Math.abs(acked.y * 100 - serverY) <= 0.5 + 1e-9;
    if (acked !== undefined && acked.seq === ackSeq && alive && this.alive) {
      this.maxError = Math.max(this.maxError, Math.hypot(acked.x * 100 - serverX, acked.y * 100 - serverY));
    }
    if (agrees) {
      this.baseX = acked!.x;
      this.baseY = acked!.y;
    } else {
      if (this.ready && acked !== undefined) this.corrections += 1;
      this.baseX = serverX / 100;
      this.baseY = serverY / 100;
    }
    this.alive = alive;
    this.ready = true;
    let x = this.baseX;
    let y = this.baseY;
    for (const s of this.sent) {
      if (alive) [x, y] = stepMetres(this.rules, x, y, s.mx, s.my);
      s.x = x;
      s.y = y;
    }
  }

  /** How many sent inputs the server has not acknowledged. */
  get unacknowledged(): number {
    return this.sent.length;
  }
}
