import { useEffect, useRef } from "react";
import type { SpectatorClient, WorldView } from "@elysium/sdk";
import { drawWorld } from "./draw";

/**
 * The watched world on a canvas, redrawn every animation frame from the spectator client's
 * view (interpolated between the ticks the relay sends). `data-tick` says the tick drawn,
 * for tests; the canvas keeps its last frame while a replay is paused.
 */
export function WatchCanvas({ client, label }: { client: SpectatorClient | null; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas || !client) return;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    let frame = 0;
    let lastTick = -1;
    const paint = () => {
      frame = requestAnimationFrame(paint);
      if (!client.hello) return;
      const rect = canvas.getBoundingClientRect();
      const dpr = globalThis.devicePixelRatio || 1;
      const cssW = Math.max(1, rect.width);
      const cssH = Math.max(1, rect.height);
      const w = Math.round(cssW * dpr);
      const h = Math.round(cssH * dpr);
      if (canvas.width !== w || canvas.height !== h) {
        canvas.width = w;
        canvas.height = h;
      }
      const view: WorldView = client.view();
      if (view.tick < 0) return;
      drawWorld(ctx, view, cssW, cssH, dpr);
      const tick = Math.floor(view.tick);
      if (tick !== lastTick) {
        lastTick = tick;
        canvas.dataset.tick = String(tick);
      }
    };
    frame = requestAnimationFrame(paint);
    return () => cancelAnimationFrame(frame);
  }, [client]);
  return <canvas ref={ref} className="spectate-canvas" data-testid="watch-canvas" role="img" aria-label={label} width={800} height={500} />;
}
