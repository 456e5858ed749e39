/** Draws a watched world with the game page's own renderer, the camera on the followed player if any. */
import type { WorldView } from "@elysium/sdk";
import { drawArena } from "../arena/game/render";

/** `cssW`/`cssH`: the canvas's size in CSS pixels; `dpr`: device pixels per CSS pixel. */
export function drawWorld(ctx: CanvasRenderingContext2D, view: WorldView, cssW: number, cssH: number, dpr: number): void {
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  drawArena(ctx, view, { width: cssW, height: cssH, follow: view.followSeat !== null });
}
