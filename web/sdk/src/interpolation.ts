/**
 * Interpolation of entities the client does not predict: each applied tick's motion columns
 * are kept with the tick number, and the renderer draws the world as it was a little in the
 * past (`delayTicks` behind the newest tick the clock estimates has arrived), between the
 * two ticks around that moment. A jump longer than a few movement steps (a respawn) is
 * drawn as a jump, not a slide.
 */

export interface Motion {
  x: number;
  y: number;
  aim: number;
}

interface Sample {
  tick: number;
  motion: Map<number, Motion>;
}

/** Maps local time to server ticks from the arrival times of ticks. */
export class TickClock {
  private offsetMs: number | null = null;
  tickMs: number;

  constructor(tickHz: number, speed = 1) {
    this.tickMs = 1000 / (tickHz * speed);
  }

  setRate(tickHz: number, speed = 1): void {
    this.tickMs = 1000 / (tickHz * speed);
    this.offsetMs = null;
  }

  /** A tick arrived at local time `nowMs`. */
  observe(tick: number, nowMs: number): void {
    const offset = nowMs - tick * this.tickMs;
    if (this.offsetMs === null || Math.abs(offset - this.offsetMs) > 4 * this.tickMs) {
      this.offsetMs = offset; // first sample, or a jump (seek, stall): start again
    } else if (offset < this.offsetMs) {
      this.offsetMs = offset * 0.5 + this.offsetMs * 0.5; // an early tick: lean towards it
    } else {
      this.offsetMs += (offset - this.offsetMs) * 0.05;
    }
  }

  /** The (fractional) tick that should have arrived by `nowMs`, or null before any. */
  tickAt(nowMs: number): number | null {
    return this.offsetMs === null ? null : (nowMs - this.offsetMs) / this.tickMs;
  }

  reset(): void {
    this.offsetMs = null;
  }
}

function lerpAngle(a: number, b: number, t: number): number {
  let d = b - a;
  while (d > Math.PI) d -= 2 * Math.PI;
  while (d < -Math.PI) d += 2 * Math.PI;
  return a + d * t;
}

export class Interpolator {
  private samples: Sample[] = [];
  /** How many ticks behind the newest the view is drawn. */
  delayTicks: number;
  /** A move longer than this (cm) between two ticks is drawn as a jump. */
  snapCm: number;
  static readonly KEEP = 32;

  constructor(delayTicks = 1, snapCm = 150) {
    this.delayTicks = delayTicks;
    this.snapCm = snapCm;
  }

  clear(): void {
    this.samples = [];
  }

  /** The replica's motion after tick `tick` (x, y in cm, aim in rad, per seat). */
  push(tick: number, motion: Map<number, Motion>): void {
    const last = this.samples[this.samples.length - 1];
    if (last && tick < last.tick) this.samples = []; // a keyframe took the replica back (a seek)
    if (last && tick === last.tick) this.samples.pop();
    this.samples.push({ tick, motion });
    if (this.samples.length > Interpolator.KEEP) this.samples.shift();
  }

  get newestTick(): number | null {
    return this.samples.length ? this.samples[this.samples.length - 1].tick : null;
  }

  /** The render tick for an estimate of the newest tick arrived (clamped into what is held). */
  renderTick(arrivedTick: number | null): number | null {
    if (!this.samples.length) return null;
    const newest = this.samples[this.samples.length - 1].tick;
    const oldest = this.samples[0].tick;
    const want = (arrivedTick ?? newest) - this.delayTicks;
    return Math.min(newest, Math.max(oldest, want));
  }

  /** Every seat's motion at `tick` (fractional), between the samples around it. */
  sample(tick: number): Map<number, Motion> {
    const out = new Map<number, Motion>();
    const s = this.samples;
    if (!s.length) return out;
    const first = s[0];
    const last = s[s.length - 1];
    if (tick <= first.tick || tick >= last.tick) {
      const src = tick <= first.tick ? first : last;
      for (const [seat, m] of src.motion) out.set(seat, { ...m });
      return out;
    }
    let i = s.length - 1;
    while (i > 0 && s[i - 1].tick > tick) i--;
    // s[i - 1].tick <= tick < s[i].tick
    const a = s[i - 1];
    const b = s[i];
    const t = (tick - a.tick) / (b.tick - a.tick);
    for (const [seat, mb] of b.motion) {
      const ma = a.motion.get(seat);
      if (!ma || Math.hypot(mb.x - ma.x, mb.y - ma.y) > this.snapCm * (b.tick - a.tick)) {
        out.set(seat, t < 0.5 && ma ? { ...ma } : { ...mb });
        continue;
      }
      out.set(seat, { x: ma.x + (mb.x - ma.x) * t, y: ma.y + (mb.y - ma.y) * t, aim: lerpAngle(ma.aim, mb.aim, t) });
    }
    return out;
  }
}
