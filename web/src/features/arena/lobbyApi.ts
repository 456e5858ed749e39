/**
 * The matchmaker calls the lobby makes, through the gateway (`/api/matchmaker/...`) with the
 * shared `api` client, typed with the slice's shapes; and `followTicket`, which keeps a
 * ticket's status live from its event stream (falling back to reads when the stream breaks).
 */
import { ApiError, streamSSE } from "@elysium/sdk";
import { api } from "../../api";
import { isFinal, type GameSummary, type GameView, type PartyView, type QueueInfo, type Ticket } from "./arenaSlice";

const mm = "matchmaker" as const;

/**
 * The latency sent for each region, in ms. A browser cannot measure its round trip to game
 * servers it has not been assigned to yet, so every region gets the same nominal value and
 * the matchmaker's own rules (nearest first, then widening) decide.
 */
export const NOMINAL_LATENCY_MS = 50;

export function nominalRegions(regions: string[]): Record<string, number> {
  return Object.fromEntries(regions.map((r) => [r, NOMINAL_LATENCY_MS]));
}

export const getQueues = () => api.request<{ modes: QueueInfo[] }>(mm, "/v1/queues");

export const createTicket = (body: { mode: string; regions: Record<string, number>; party?: string | null; accept_fallback?: boolean }) =>
  api.request<Ticket>(mm, "/v1/tickets", { method: "POST", body });

export const getTicket = (id: string) => api.request<Ticket>(mm, `/v1/tickets/${encodeURIComponent(id)}`);

export const cancelTicket = (id: string) => api.request<Ticket>(mm, `/v1/tickets/${encodeURIComponent(id)}`, { method: "DELETE" });

export interface HostRequest {
  mode: string;
  region: string;
  seats: number;
  public: boolean;
  ranked: boolean;
  password: string | null;
}

export const hostGame = (body: HostRequest) => api.request<GameView>(mm, "/v1/games", { method: "POST", body });

export const listGames = (mode: string, region: string, cursor?: string | null) =>
  api.request<{ items: GameSummary[]; next: string | null }>(mm, "/v1/games", { query: { mode, region, cursor: cursor || undefined } });

const gamePath = (code: string) => `/v1/games/${encodeURIComponent(code.trim().toUpperCase())}`;

export const getGame = (code: string) => api.request<GameView>(mm, gamePath(code));

export const joinGame = (code: string, password: string) =>
  api.request<GameView>(mm, `${gamePath(code)}/join`, { method: "POST", body: password ? { password } : {} });

export const leaveGame = (code: string) =>
  api.request<{ left: string; host: string | null; ended: boolean }>(mm, `${gamePath(code)}/leave`, { method: "POST" });

export const kickMember = (code: string, player: string) =>
  api.request<{ left: string; host: string | null; ended: boolean }>(mm, `${gamePath(code)}/kick`, { method: "POST", body: { player } });

export const setLocked = (code: string, locked: boolean) =>
  api.request<GameView>(mm, `${gamePath(code)}/${locked ? "lock" : "unlock"}`, { method: "POST" });

export const startGame = (code: string) => api.request<GameView>(mm, `${gamePath(code)}/start`, { method: "POST" });

const partyPath = (code: string) => `/v1/parties/${encodeURIComponent(code.trim().toUpperCase())}`;

export const createParty = () => api.request<PartyView>(mm, "/v1/parties", { method: "POST" });
export const getParty = (code: string) => api.request<PartyView>(mm, partyPath(code));
export const joinParty = (code: string) => api.request<PartyView>(mm, `${partyPath(code)}/members`, { method: "POST" });
export const leaveParty = (code: string) =>
  api.request<{ left: boolean; disbanded: boolean; cancelled_ticket: string | null }>(mm, `${partyPath(code)}/members/me`, { method: "DELETE" });

/**
 * The problem's stable code (`already-in-game`): the body's `code`, else the last segment of
 * its `type` (`urn:elysium:problem:<code>` separates with colons, not slashes).
 */
export function problemCode(exc: unknown): string | null {
  if (!(exc instanceof ApiError)) return null;
  if (typeof exc.problem.code === "string") return exc.problem.code;
  const t = exc.problem.type || "";
  return t.slice(Math.max(t.lastIndexOf("/"), t.lastIndexOf(":")) + 1) || null;
}

/** The words an error shows: the problem's detail, or "X is unreachable" when the network failed. */
export function errorText(exc: unknown, service = "The matchmaker"): string {
  if (exc instanceof ApiError) {
    if (exc.status === 0) return `${service} is unreachable`;
    return exc.problem.detail || exc.problem.title || exc.message;
  }
  return exc instanceof Error ? exc.message : String(exc);
}

const POLL_MS = 2000;
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });

/**
 * Follows a ticket until it is final or `signal` aborts: every status change goes to
 * `onTicket`. The event stream is the live source; when it cannot be opened or breaks off
 * before the ticket ends, the ticket is read again (every 2 s) and the stream reopened.
 * Errors that will not pass (the ticket is unknown or not the caller's) go to `onError` and end it.
 */
export async function followTicket(
  id: string,
  onTicket: (t: Ticket) => void,
  onError: (exc: unknown) => void,
  signal: AbortSignal,
): Promise<void> {
  const path = `/v1/tickets/${encodeURIComponent(id)}/events`;
  while (!signal.aborted) {
    try {
      for await (const ev of streamSSE(api, mm, path, { signal })) {
        if (!ev.data) continue;
        const t = JSON.parse(ev.data) as Ticket;
        onTicket(t);
        if (isFinal(t)) return;
      }
    } catch (exc) {
      if (signal.aborted) return;
      if (exc instanceof ApiError && exc.status >= 400 && exc.status < 500) {
        onError(exc);
        return;
      }
    }
    // The stream ended or broke before the ticket did: read it, then listen again.
    await sleep(POLL_MS, signal);
    if (signal.aborted) return;
    try {
      const t = await getTicket(id);
      onTicket(t);
      if (isFinal(t)) return;
    } catch (exc) {
      if (exc instanceof ApiError && exc.status >= 400 && exc.status < 500) {
        onError(exc);
        return;
      }
    }
  }
}
