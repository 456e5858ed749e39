/**
 * Draws an arena world (`WorldView` from the SDK) on a 2D canvas: the floor and its
 * obstacles, projectiles, players with their aim, health and names, and the hit, death and
 * respawn effects. The game page and the spectator view both use it. The camera fits the
 * whole map, or follows a seat at `zoom` when `view.followSeat` is set and `follow` is on.
 */
import type { PlayerView, WorldView } from "@elysium/sdk";

export interface DrawOptions {
  /** Canvas size in CSS pixels (the context is expected to be scaled for the device). */
  width: number;
  height: number;
  /** Follow `view.followSeat` instead of fitting the whole map. */
  follow?: boolean;
  /** Map metres across the canvas's shorter side when following (default 24). */
  spanM?: number;
  /** Draw names above players (default true). */
  names?: boolean;
}

export const TEAM_COLOURS = ["#4ea3ff", "#ff7a59", "#6fdc8c", "#f5c542", "#c792ea", "#5ce1e6", "#ff6fa8", "#b0b8c4"];
const SELF = "#ffffff";
const FLOOR = "#141a22";
const GRID = "#1d2530";
const WALL = "#3a4757";

function colourOf(p: PlayerView, teams: boolean): string {
  if (p.self) return SELF;
  return TEAM_COLOURS[(teams ? p.team : p.seat) % TEAM_COLOURS.length];
}

/** The transform from map centimetres to canvas pixels for this view and size. */
export function cameraOf(view: WorldView, opts: DrawOptions): { scale: number; ox: number; oy: number } {
  const map = view.map;
  const w = map ? map.width_cm : 6400;
  const h = map ? map.height_cm : 6400;
  const followed = opts.follow && view.followSeat !== null ? view.players.find((p) => p.seat === view.followSeat) : undefined;
  if (followed) {
    const span = (opts.spanM ?? 24) * 100;
    const scale = Math.min(opts.width, opts.height) / span;
    // Centre on the player, but keep the map filling the view where it is larger than the view.
    const axis = (size: number, mapSize: number, at: number) => {
      const inMap = mapSize * scale;
      if (inMap <= size) return (size - inMap) / 2;
      return Math.min(0, Math.max(size - inMap, size / 2 - at * scale));
    };
    return { scale, ox: axis(opts.width, w, followed.x), oy: axis(opts.height, h, followed.y) };
  }
  const scale = Math.min(opts.width / w, opts.height / h);
  return { scale, ox: (opts.width - w * scale) / 2, oy: (opts.height - h * scale) / 2 };
}

export function drawArena(ctx: CanvasRenderingContext2D, view: WorldView, opts: DrawOptions): void {
  const { scale, ox, oy } = cameraOf(view, opts);
  const map = view.map;
  const W = map ? map.width_cm : 6400;
  const H = map ? map.height_cm : 6400;
  const r = map ? map.player_radius_cm : 50;
  const teams = view.players.some((p) => p.team > 0);
  ctx.save();
  ctx.fillStyle = "#0b0f14";
  ctx.fillRect(0, 0, opts.width, opts.height);
  ctx.translate(ox, oy);
  ctx.scale(scale, scale);

  ctx.fillStyle = FLOOR;
  ctx.fillRect(0, 0, W, H);
  ctx.strokeStyle = GRID;
  ctx.lineWidth = 2 / scale;
  ctx.beginPath();
  for (let x = 400; x < W; x += 400) {
    ctx.moveTo(x, 0);
    ctx.lineTo(x, H);
  }
  for (let y = 400; y < H; y += 400) {
    ctx.moveTo(0, y);
    ctx.lineTo(W, y);
  }
  ctx.stroke();
  ctx.fillStyle = WALL;
  for (const [x0, y0, x1, y1] of map?.obstacles_cm ?? []) ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
  ctx.strokeStyle = "#5b6b80";
  ctx.lineWidth = 6 / scale;
  ctx.strokeRect(0, 0, W, H);

  // Projectiles
  for (const pr of view.projectiles) {
    const owner = view.players.find((p) => p.seat === pr.owner);
    ctx.fillStyle = owner ? colourOf(owner, teams) : "#ffe08a";
    ctx.beginPath();
    ctx.arc(pr.x, pr.y, Math.max(12, r * 0.25), 0, Math.PI * 2);
    ctx.fill();
  }

  // Players
  for (const p of view.players) {
    const colour = colourOf(p, teams);
    ctx.globalAlpha = p.alive ? (p.connected ? 1 : 0.5) : 0.25;
    ctx.fillStyle = colour;
    ctx.beginPath();
    ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
    ctx.fill();
    if (p.self) {
      ctx.strokeStyle = "#ffd166";
      ctx.lineWidth = 12;
      ctx.stroke();
    }
    if (p.alive) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = 14;
      ctx.beginPath();
      ctx.moveTo(p.x, p.y);
      ctx.lineTo(p.x + Math.cos(p.aim) * r * 1.9, p.y + Math.sin(p.aim) * r * 1.9);
      ctx.stroke();
      const maxHp = map?.max_hp ?? 100;
      const frac = Math.max(0, Math.min(1, p.hp / maxHp));
      ctx.fillStyle = "#2b2f36";
      ctx.fillRect(p.x - r, p.y - r - 40, 2 * r, 16);
      ctx.fillStyle = frac > 0.5 ? "#6fdc8c" : frac > 0.25 ? "#f5c542" : "#ff5a5a";
      ctx.fillRect(p.x - r, p.y - r - 40, 2 * r * frac, 16);
    }
    ctx.globalAlpha = 1;
  }

  // Effects: a red ring on hits, a burst on deaths, a widening ring on respawns.
  for (const e of view.effects) {
    const t = Math.min(1, e.ageMs / 700);
    ctx.globalAlpha = 1 - t;
    if (e.kind === "hit") {
      ctx.strokeStyle = "#ff5a5a";
      ctx.lineWidth = 10;
      ctx.beginPath();
      ctx.arc(e.x, e.y, r * (1.1 + t), 0, Math.PI * 2);
      ctx.stroke();
    } else if (e.kind === "death") {
      ctx.strokeStyle = "#ffb347";
      ctx.lineWidth = 10;
      ctx.beginPath();
      for (let i = 0; i < 8; i++) {
        const a = (i * Math.PI) / 4;
        ctx.moveTo(e.x + Math.cos(a) * r * (0.5 + t), e.y + Math.sin(a) * r * (0.5 + t));
        ctx.lineTo(e.x + Math.cos(a) * r * (1.2 + 2 * t), e.y + Math.sin(a) * r * (1.2 + 2 * t));
      }
      ctx.stroke();
    } else {
      ctx.strokeStyle = "#6fdc8c";
      ctx.lineWidth = 8;
      ctx.beginPath();
      ctx.arc(e.x, e.y, r * (2.5 - 1.5 * t), 0, Math.PI * 2);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }

  ctx.restore();

  // Names in screen space, so text stays readable at any zoom.
  if (opts.names !== false) {
    ctx.save();
    ctx.font = "12px system-ui, sans-serif";
    ctx.textAlign = "center";
    for (const p of view.players) {
      const sx = ox + p.x * scale;
      const sy = oy + (p.y - r) * scale - 18;
      ctx.fillStyle = p.alive ? "#e8eef5" : "#8a96a6";
      ctx.fillText(p.self ? `${p.name} (you)` : p.name, sx, sy);
    }
    ctx.restore();
  }
}
