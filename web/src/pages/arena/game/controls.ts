/**
 * The game page's controls, as pure functions: held keys to a movement vector (WASD and the
 * arrows; the server clamps a diagonal to length 1, and so does the prediction), the mouse
 * to an aim angle, and a frames-per-second meter for the canvas.
 */

const UP = new Set(["w", "W", "ArrowUp", "KeyW"]);
const DOWN = new Set(["s", "S", "ArrowDown", "KeyS"]);
const LEFT = new Set(["a", "A", "ArrowLeft", "KeyA"]);
const RIGHT = new Set(["d", "D", "ArrowRight", "KeyD"]);

/** Whether a key (its `key` or `code`) moves the player. */
export function isMoveKey(key: string): boolean {
  return UP.has(key) || DOWN.has(key) || LEFT.has(key) || RIGHT.has(key);
}

export function isFireKey(key: string): boolean {
  return key === " " || key === "Space" || key === "Spacebar";
}

/** The movement vector of the held keys: each axis −1, 0 or 1 (y grows downwards). */
export function moveOf(held: ReadonlySet<string>): { moveX: number; moveY: number } {
  // Opposite keys held together cancel out.
  const l = [...held].some((k) => LEFT.has(k));
  const r = [...held].some((k) => RIGHT.has(k));
  const u = [...held].some((k) => UP.has(k));
  const d = [...held].some((k) => DOWN.has(k));
  const x = l && r ? 0 : l ? -1 : r ? 1 : 0;
  const y = u && d ? 0 : u ? -1 : d ? 1 : 0;
  return { moveX: x, moveY: y };
}

/** The aim (radians, 0 = +x, towards +y) from the player's screen point to the pointer. */
export function aimOf(fromX: number, fromY: number, toX: number, toY: number): number {
  if (fromX === toX && fromY === toY) return 0;
  return Math.atan2(toY - fromY, toX - fromX);
}

/** Counts frames and says, once a second, how many there were in the last second. */
export class FpsMeter {
  private frames = 0;
  private since: number | null = null;
  fps = 0;

  /** A frame was drawn at `nowMs`; returns true when `fps` was just updated. */
  frame(nowMs: number): boolean {
    if (this.since === null) {
      this.since = nowMs;
      return false;
    }
    this.frames += 1;
    const elapsed = nowMs - this.since;
    if (elapsed >= 1000) {
      this.fps = Math.round((this.frames * 1000) / elapsed);
      this.frames = 0;
      this.since = nowMs;
      return true;
    }
    return false;
  }
}
