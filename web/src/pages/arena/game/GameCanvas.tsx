/**
 * The match on a canvas: drawn every animation frame from the client's world view (own seat
 * predicted, others interpolated), sized to its box and the screen's pixel ratio. Keyboard
 * (WASD or arrows move, space fires) and mouse (aim, click or hold to fire) feed the client.
 * For the browser tests the canvas carries `data-fps` (frames drawn in the last second,
 * updated once a second) and `data-self-x`/`data-self-y` (the player's position in cm).
 */
import { useEffect, useRef } from "react";
import type { GameClient, WorldView } from "@elysium/sdk";
import { FpsMeter, aimOf, isFireKey, isMoveKey, moveOf } from "./controls";
import { cameraOf, drawArena, type DrawOptions } from "./render";

// requestAnimationFrame, or a 60 Hz timer where there is none (a test's document).
const nextFrame = (cb: (now: number) => void): number =>
  typeof requestAnimationFrame === "function" ? requestAnimationFrame(cb) : (setTimeout(() => cb(performance.now()), 16) as unknown as number);
const cancelFrame = (id: number) => (typeof cancelAnimationFrame === "function" ? cancelAnimationFrame(id) : clearTimeout(id));

function typingInto(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
}

export function GameCanvas({ client, follow }: { client: GameClient; follow: boolean }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const followRef = useRef(follow);
  followRef.current = follow;

  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    const ctx = canvas.getContext?.("2d") ?? null;
    const held = new Set<string>();
    const pointer = { x: 0, y: 0, known: false };
    let size = { w: 0, h: 0, dpr: 1 };
    let firing = false;
    const fps = new FpsMeter();
    let frame = 0;
    let lastSelf = "";

    const opts = (): DrawOptions => ({ width: size.w, height: size.h, follow: followRef.current, spanM: 30 });

    const resize = () => {
      const rect = canvas.getBoundingClientRect();
      const dpr = window.devicePixelRatio || 1;
      const w = Math.max(1, Math.round(rect.width));
      const h = Math.max(1, Math.round(rect.height));
      size = { w, h, dpr };
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    };
    resize();
    const ro = typeof ResizeObserver !== "undefined" ? new ResizeObserver(resize) : null;
    ro?.observe(canvas);

    const aimNow = (drawn?: WorldView) => {
      if (!pointer.known) return;
      const self = client.selfPosition();
      if (!self) return;
      const cam = cameraOf(drawn ?? client.view(), opts());
      client.setInput({ aim: aimOf(cam.ox + self.x * cam.scale, cam.oy + self.y * cam.scale, pointer.x, pointer.y) });
    };

    const updateMove = () => client.setInput({ ...moveOf(held), fire: firing || [...held].some(isFireKey) });

    const keydown = (e: KeyboardEvent) => {
      if (typingInto(e.target)) return;
      const k = e.code || e.key;
      if (isMoveKey(k) || isMoveKey(e.key) || isFireKey(k) || isFireKey(e.key)) {
        e.preventDefault();
        held.add(isMoveKey(k) || isFireKey(k) ? k : e.key);
        if ((isFireKey(k) || isFireKey(e.key)) && !e.repeat) client.fire();
        updateMove();
      }
    };
    const keyup = (e: KeyboardEvent) => {
      held.delete(e.code);
      held.delete(e.key);
      updateMove();
    };
    const blur = () => {
      held.clear();
      firing = false;
      updateMove();
    };
    const move = (e: PointerEvent) => {
      const rect = canvas.getBoundingClientRect();
      pointer.x = e.clientX - rect.left;
      pointer.y = e.clientY - rect.top;
      pointer.known = true;
      aimNow();
    };
    const down = (e: PointerEvent) => {
      if (e.button !== 0) return;
      canvas.focus();
      move(e);
      firing = true;
      client.fire();
      updateMove();
    };
    const up = () => {
      firing = false;
      updateMove();
    };

    const draw = (now: number) => {
      frame = nextFrame(draw);
      const view = client.view(now);
      if (ctx) {
        ctx.setTransform(size.dpr, 0, 0, size.dpr, 0, 0);
        drawArena(ctx, view, opts());
      }
      if (followRef.current) aimNow(view); // the camera moved under a still pointer
      if (fps.frame(now)) canvas.dataset.fps = String(fps.fps);
      const self = client.selfPosition();
      const s = self ? `${self.x.toFixed(1)},${self.y.toFixed(1)}` : "";
      if (s !== lastSelf) {
        lastSelf = s;
        canvas.dataset.selfX = self ? self.x.toFixed(1) : "";
        canvas.dataset.selfY = self ? self.y.toFixed(1) : "";
      }
    };
    frame = nextFrame(draw);

    window.addEventListener("keydown", keydown);
    window.addEventListener("keyup", keyup);
    window.addEventListener("blur", blur);
    canvas.addEventListener("pointermove", move);
    canvas.addEventListener("pointerdown", down);
    window.addEventListener("pointerup", up);
    return () => {
      cancelFrame(frame);
      ro?.disconnect();
      window.removeEventListener("keydown", keydown);
      window.removeEventListener("keyup", keyup);
      window.removeEventListener("blur", blur);
      canvas.removeEventListener("pointermove", move);
      canvas.removeEventListener("pointerdown", down);
      window.removeEventListener("pointerup", up);
    };
  }, [client]);

  return (
    <canvas
      ref={ref}
      className="game-canvas"
      data-testid="game-canvas"
      data-fps="0"
      data-self-x=""
      data-self-y=""
      tabIndex={0}
      role="application"
      aria-label="The arena. Move with W A S D or the arrow keys, aim with the mouse, fire with space or a click."
    />
  );
}
