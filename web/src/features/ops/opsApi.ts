// The admin APIs the operator console calls, each with the operator's service token.
import { api } from "../../api";
import type { AdminAccount, AdminQueue, AdminRoom, AdminServer, AuditResult, InForce, RelayMatch } from "./opsSlice";

const e = encodeURIComponent;

/** The game server `serverId`'s own HTTP API, through the gateway. */
function gameServer(serverId: string, path: string): string {
  return `/api/gameservers/${e(serverId)}${path}`;
}

export type ModerationAction = "ban" | "unban" | "mute" | "unmute";
export type Currency = "soft" | "premium";
export const CURRENCIES: Currency[] = ["soft", "premium"];

export const opsApi = {
  servers: (token: string) => api.request<{ servers: AdminServer[] }>("matchmaker", "/v1/admin/servers", { token }),
  rooms: (token: string, serverId: string) =>
    api.request<{ server_id: string; rooms: AdminRoom[] }>("gateway", gameServer(serverId, "/v1/admin/rooms"), { token }),
  kick: (token: string, serverId: string, matchId: string, playerId: string, reason: string) =>
    api.request<{ match_id: string; player_id: string; seat: number; reason: string }>(
      "gateway", gameServer(serverId, `/v1/admin/rooms/${e(matchId)}/players/${e(playerId)}/kick`),
      { method: "POST", token, body: { reason } }),
  queues: (token: string) => api.request<{ queues: AdminQueue[] }>("matchmaker", "/v1/admin/queues", { token }),
  relays: () => api.request<{ live: RelayMatch[]; replays: RelayMatch[] }>("spectator", "/v1/matches", { token: null }),
  accounts: (token: string, q: string, after?: string | null) =>
    api.request<{ accounts: AdminAccount[]; next: string | null }>("commerce", "/v1/admin/accounts",
      { token, query: { q, after } }),
  moderate: (token: string, accountId: string, action: ModerationAction, reason: string, key: string, durationS?: number) =>
    api.request<{ id: string; action: ModerationAction; reason: string; until: string | null; by: string; at: string }>(
      "commerce", `/v1/admin/accounts/${e(accountId)}/${action}`,
      { method: "POST", token, idempotencyKey: key, body: { reason, ...(durationS ? { duration_s: durationS } : {}) } }),
  moderation: (token: string, accountId: string) =>
    api.request<{ account_id: string; ban: InForce | null; mute: InForce | null }>(
      "commerce", `/v1/admin/accounts/${e(accountId)}/moderation`, { token }),
  grant: (token: string, accountId: string, currency: Currency, amount: number, reason: string, key: string) =>
    api.request<{ grant_id: string }>("commerce", "/v1/admin/grants",
      { method: "POST", token, idempotencyKey: key, body: { account_id: accountId, currency, amount, reason } }),
  audit: (token: string) => api.request<AuditResult | null>("commerce", "/v1/admin/audit/latest", { token }),
};

export interface TokenInfo {
  subject: string;
  scopes: string[];
  expiresAt: number | null; // ms since the epoch
}

/** What a service token says of itself (read, not verified: the services verify it). Null: not a JWT. */
export function readToken(token: string): TokenInfo | null {
  const parts = token.trim().split(".");
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]+$/.test(p))) return null;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4))) as Record<string, unknown>;
    if (!claims || typeof claims !== "object") return null;
    return {
      subject: typeof claims.sub === "string" ? claims.sub : "",
      scopes: typeof claims.scope === "string" ? claims.scope.split(" ").filter(Boolean) : [],
      expiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : null,
    };
  } catch {
    return null;
  }
}

/** The scopes the console needs (`elysium commerce admin-token` issues them all by default). */
export const CONSOLE_SCOPES = ["commerce:admin", "matchmaker:admin", "gameserver:admin"];
