import { describe, expect, it } from "vitest";
import { Predictor, rulesFromMap, step, stepLength, stepMetres, type ArenaMap } from "../src";
import movement from "./fixtures/movement.json";

// One player of a real arena room running into every obstacle, along walls and into corners.
const rules = rulesFromMap(movement.map as unknown as ArenaMap, movement.tick_hz);
const steps = movement.steps as { seq: number; move: [number, number]; pos: [number, number]; wire: [number, number] }[];

describe("the movement rule", () => {
  it("steps exactly as the server does, tick after tick", () => {
    let [x, y] = (movement.start as [number, number]).map((v) => v / 100);
    let worst = 0;
    for (const s of steps) {
      [x, y] = stepMetres(rules, x, y, s.move[0], s.move[1]);
      worst = Math.max(worst, Math.abs(x * 100 - s.pos[0]), Math.abs(y * 100 - s.pos[1]));
    }
    expect(worst).toBeLessThan(1e-9);
  });

  it("from the rounded wire position, lands within 1 cm except where the push-out's depths tie", () => {
    // Rounded centimetres cannot decide a tie (a diagonal into a box corner): those ticks are
    // the reason the predictor keeps its own unrounded positions.
    let far = 0;
    for (let i = 1; i < steps.length; i++) {
      const [x, y] = step(rules, steps[i - 1].wire[0], steps[i - 1].wire[1], steps[i].move[0], steps[i].move[1]);
      if (Math.max(Math.abs(x - steps[i].pos[0]), Math.abs(y - steps[i].pos[1])) > 1) far += 1;
    }
    expect(far).toBeLessThanOrEqual(2);
  });

  it("the fixture really pushes out of obstacles and clamps at the walls", () => {
    const r = rules.radiusCm;
    const onBoxEdge = steps.filter((s) => rules.obstaclesCm.some(([x0, y0, x1, y1]) =>
      (Math.abs(s.pos[0] - (x0 - r)) < 1e-6 || Math.abs(s.pos[0] - (x1 + r)) < 1e-6 || Math.abs(s.pos[1] - (y0 - r)) < 1e-6 || Math.abs(s.pos[1] - (y1 + r)) < 1e-6) &&
      s.pos[0] >= x0 - r - 1e-6 && s.pos[0] <= x1 + r + 1e-6 && s.pos[1] >= y0 - r - 1e-6 && s.pos[1] <= y1 + r + 1e-6));
    const onWall = steps.filter((s) => s.pos[0] === r || s.pos[1] === r || s.pos[0] === rules.widthCm - r || s.pos[1] === rules.heightCm - r);
    expect(onBoxEdge.length).toBeGreaterThan(50);
    expect(onWall.length).toBeGreaterThan(50);
  });
});

/**
 * 100 ms round trip at 20 Hz: an input sent at client tick T is applied by the server in its
 * tick T (it arrives 50 ms later) and the delta of that tick arrives 50 ms after that, so at
 * client tick T the newest delta is the server's tick T - 2, acknowledging seq T - 2. The
 * predicted position must be where the server will put the player once it applies input T.
 */
function simulate(latencyTicks: (t: number) => number, predictor: Predictor, offsetCm = 0, warmup = 0): number {
  const start = movement.start as [number, number];
  predictor.reset(Math.round(start[0]) + offsetCm, Math.round(start[1]), true);
  let worst = 0;
  let delivered = -1;
  for (let t = 0; t < steps.length; t++) {
    const s = steps[t];
    // Deltas that have arrived by now, in order (a delta for server tick k leaves at k).
    const newest = t - latencyTicks(t);
    for (let k = delivered + 1; k <= newest; k++) {
      if (k >= 0) predictor.reconcile(steps[k].wire[0], steps[k].wire[1], true, steps[k].seq);
      delivered = k;
    }
    predictor.applyInput(s.seq, s.move[0], s.move[1]);
    if (t >= warmup) worst = Math.max(worst, Math.hypot(predictor.x - s.pos[0], predictor.y - s.pos[1]));
  }
  return worst;
}

describe("prediction with reconciliation", () => {
  it("stays under one movement step of the server with 100 ms of latency", () => {
    const worst = simulate(() => 2, new Predictor(rules));
    expect(worst).toBeLessThan(stepLength(rules));
    expect(worst).toBeLessThan(1e-6); // in fact exact: the server's own arithmetic
  });

  it("stays under one step with jittery latency (1 to 4 ticks, deltas in order)", () => {
    let lat = 2;
    const jitter = (t: number) => {
      lat = Math.max(1, Math.min(4, lat + [0, 1, -1, 0, 0, 1, -1][t % 7]));
      return lat;
    };
    const worst = simulate(jitter, new Predictor(rules));
    expect(worst).toBeLessThan(stepLength(rules));
  });

  it("corrects a misprediction at the next acknowledgement", () => {
    const p = new Predictor(rules);
    expect(simulate(() => 2, p, 500, 0)).toBeGreaterThan(400); // it starts half a metre off
    const q = new Predictor(rules);
    expect(simulate(() => 2, q, 500, 3)).toBeLessThan(stepLength(rules));
    expect(q.corrections).toBeGreaterThan(0);
  });

  it("drops acknowledged inputs (wrapping sequence numbers too)", () => {
    const p = new Predictor(rules);
    p.reset(1000, 1000, true);
    p.applyInput(4294967294, 1, 0);
    p.applyInput(4294967295, 1, 0);
    p.applyInput(0, 1, 0);
    expect(p.unacknowledged).toBe(3);
    p.reconcile(1030, 1000, true, 4294967295);
    expect(p.unacknowledged).toBe(1);
    expect(p.x).toBeCloseTo(1060, 9);
  });

  it("a dead player does not move until the server says so", () => {
    const p = new Predictor(rules);
    p.reconcile(1000, 1000, false, 3);
    p.applyInput(4, 1, 0);
    expect(p.x).toBe(1000);
    p.reconcile(600, 600, true, 4); // respawned somewhere else
    expect([p.x, p.y]).toEqual([600, 600]);
  });
});
