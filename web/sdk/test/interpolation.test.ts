import { describe, expect, it } from "vitest";
import { Interpolator, TickClock, type Motion } from "../src";

const at = (x: number, y = 0, aim = 0) => new Map<number, Motion>([[0, { x, y, aim }]]);

describe("Interpolator", () => {
  it("draws between the two ticks around the render tick", () => {
    const i = new Interpolator(1, 150);
    i.push(10, at(0));
    i.push(11, at(30));
    i.push(12, at(60));
    expect(i.sample(10.5).get(0)!.x).toBeCloseTo(15, 9);
    expect(i.sample(11.25).get(0)!.x).toBeCloseTo(37.5, 9);
    expect(i.sample(99).get(0)!.x).toBe(60); // never extrapolates
    expect(i.sample(0).get(0)!.x).toBe(0);
    expect(i.renderTick(12.4)).toBeCloseTo(11.4, 9);
  });

  it("turns the short way round and jumps on a respawn instead of sliding", () => {
    const i = new Interpolator(1, 150);
    i.push(1, at(0, 0, 3.0));
    i.push(2, at(3000, 0, -3.0));
    const m = i.sample(1.75).get(0)!;
    expect(m.x).toBe(3000);
    const j = new Interpolator(1, 150);
    j.push(1, at(0, 0, 3.0));
    j.push(2, at(10, 0, -3.0));
    const a = j.sample(1.5).get(0)!.aim;
    expect(Math.abs(Math.abs(a) - Math.PI)).toBeLessThan(0.01);
  });

  it("starts again when the replica goes back (a seek)", () => {
    const i = new Interpolator(1, 150);
    i.push(100, at(0));
    i.push(101, at(30));
    i.push(5, at(900));
    expect(i.newestTick).toBe(5);
    expect(i.sample(100).get(0)!.x).toBe(900);
  });
});

describe("TickClock", () => {
  it("maps local time to ticks and follows the earliest arrivals", () => {
    const c = new TickClock(20);
    c.observe(10, 1000);
    expect(c.tickAt(1000)).toBeCloseTo(10, 9);
    expect(c.tickAt(1025)).toBeCloseTo(10.5, 9);
    c.observe(11, 1040); // 10 ms early
    expect(c.tickAt(1050)!).toBeGreaterThan(11);
    c.observe(500, 1100); // a jump: start again
    expect(c.tickAt(1100)).toBeCloseTo(500, 9);
  });
  it("runs faster for a fast replay", () => {
    const c = new TickClock(20, 4);
    c.observe(0, 0);
    expect(c.tickAt(50)).toBeCloseTo(4, 9);
  });
});
