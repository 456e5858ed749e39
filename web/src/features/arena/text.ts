/** The plain words the lobby shows for a ticket's state. */
import type { Ticket } from "./arenaSlice";

const REASONS: Record<string, string> = {
  cancelled: "you cancelled it",
  party_changed: "the party changed",
  banned: "a player is banned",
  game_empty: "everyone left the game",
};

export function ticketStatusText(t: Ticket, nowMs: number = Date.now()): string {
  const waited = Math.max(0, Math.round((nowMs - t.created_ms) / 1000));
  switch (t.status) {
    case "queued":
      return `Looking for a match of ${t.mode} (${waited} s so far)`;
    case "hosted":
      return `Seated in custom game ${t.game ?? ""}: waiting for the host to start`;
    case "matched":
      return `Match found: ${t.match?.match_id ?? t.mode}`;
    case "cancelled":
      return t.reason ? `Ticket cancelled: ${REASONS[t.reason] ?? t.reason}` : "Ticket cancelled";
    case "expired":
      return "No match was found in time: the ticket expired";
  }
}

/** Seconds as the queue table shows them ("–" when nothing was matched lately). */
export function seconds(value: number | null): string {
  return value === null ? "–" : `${value.toFixed(value < 10 ? 1 : 0)} s`;
}
