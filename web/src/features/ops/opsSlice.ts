import { createSlice, type PayloadAction } from "@reduxjs/toolkit";
import { operatorToken } from "../session/sessionSlice";

// What the admin APIs answer (docs/operations.md, "The operator console").

/** A live game server from the matchmaker's registry (`GET /v1/admin/servers`). */
export interface AdminServer {
  server_id: string;
  http_url: string;
  ws_url: string;
  region: string;
  modes: string[];
  rooms: number;
  players: number;
  capacity: number;
  seats_free?: number;
  draining: boolean;
  last_seen: number; // ms since the epoch
}

/** One seated player of a room, with what the game server knows of their lateness. */
export interface AdminPlayer {
  seat: number;
  player_id: string;
  name: string;
  team: number;
  connected: boolean;
  score: number | null;
  dropped_for_s: number | null;
  in_match_s: number;
  last_input_seq: number;
  last_applied_seq: number;
  inputs_waiting: number;
  send_backlog_bytes: number;
  slow_for_s: number | null;
  rtt_ms: number | null;
}

/** A room of one game server (`GET /v1/admin/rooms` on that server). */
export interface AdminRoom {
  match_id: string;
  mode: string;
  state: string;
  tick: number;
  tick_hz: number;
  age_s: number;
  seats: number;
  late_ticks: number;
  skipped_ticks: number;
  players: AdminPlayer[];
}

/** One queue mode (`GET /v1/admin/queues`). */
export interface AdminQueue {
  mode: string;
  tickets_waiting: number;
  players_waiting: number;
  regions: Record<string, number>;
  oldest_wait_s: number | null;
  recent_matched_tickets: number;
  wait_p50_s: number | null;
  wait_p90_s: number | null;
}

/** A live match as the relay lists it (`GET /v1/matches`). */
export interface RelayMatch {
  match_id: string;
  mode: string;
  state: string;
  players: { seat: number; id: string; name: string; team: number; score: number }[];
  tick: number;
  elapsed_s: number;
  viewers: number;
}

/** A ban or mute in force. */
export interface InForce {
  until: string | null;
  reason: string;
  action_id: string;
  by: string;
  at: string;
}

/** An account as the admin search shows it (`GET /v1/admin/accounts`). */
export interface AdminAccount {
  account_id: string;
  username: string | null;
  display_name: string;
  guest: boolean;
  created_at: string;
  banned: InForce | null;
  muted: InForce | null;
}

/** What the last `elysium audit` found (`GET /v1/admin/audit/latest`). */
export interface AuditResult {
  ok: boolean;
  at: string;
  took_s: number | null;
  counts: Record<string, number>;
  problem_count: number;
  problems: string[];
  chain_checked: boolean;
}

export type Section = "servers" | "rooms" | "queues" | "relays" | "accounts" | "audit";

export interface OpsState {
  servers: AdminServer[] | null; // null: not read yet
  rooms: Record<string, AdminRoom[]>; // by server id
  queues: AdminQueue[] | null;
  relays: RelayMatch[] | null;
  accounts: { query: string; items: AdminAccount[]; next: string | null; searched: boolean };
  audit: AuditResult | null | undefined; // undefined: not read yet; null: the audit never ran
  errors: Partial<Record<Section, string>>;
  updatedAt: Partial<Record<Section, number>>; // ms since the epoch of the last good read
  // The Idempotency-Key of each money- or item-moving action not yet settled, by what the action
  // is (so a retry of the same action sends the same key).
  pending: Record<string, string>;
}

export const initialOpsState: OpsState = {
  servers: null,
  rooms: {},
  queues: null,
  relays: null,
  accounts: { query: "", items: [], next: null, searched: false },
  audit: undefined,
  errors: {},
  updatedAt: {},
  pending: {},
};

type At = { at?: number };

function fresh(state: OpsState, section: Section, at?: number) {
  delete state.errors[section];
  state.updatedAt[section] = at ?? Date.now();
}

/** The key that names one action for its Idempotency-Key (same action, same key). */
export function actionName(kind: string, ...parts: (string | number)[]): string {
  return [kind, ...parts.map(String)].join("|");
}

const opsSlice = createSlice({
  name: "ops",
  initialState: initialOpsState,
  reducers: {
    serversLoaded(state, action: PayloadAction<{ servers: AdminServer[] } & At>) {
      state.servers = [...action.payload.servers].sort((a, b) => a.server_id.localeCompare(b.server_id));
      const live = new Set(state.servers.map((s) => s.server_id));
      for (const id of Object.keys(state.rooms)) if (!live.has(id)) delete state.rooms[id];
      fresh(state, "servers", action.payload.at);
    },
    roomsLoaded(state, action: PayloadAction<{ serverId: string; rooms: AdminRoom[] } & At>) {
      state.rooms[action.payload.serverId] = action.payload.rooms;
      fresh(state, "rooms", action.payload.at);
    },
    playerKicked(state, action: PayloadAction<{ serverId: string; matchId: string; playerId: string }>) {
      const { serverId, matchId, playerId } = action.payload;
      const room = state.rooms[serverId]?.find((r) => r.match_id === matchId);
      if (room) room.players = room.players.filter((p) => p.player_id !== playerId);
    },
    queuesLoaded(state, action: PayloadAction<{ queues: AdminQueue[] } & At>) {
      state.queues = action.payload.queues;
      fresh(state, "queues", action.payload.at);
    },
    relaysLoaded(state, action: PayloadAction<{ live: RelayMatch[] } & At>) {
      state.relays = [...action.payload.live].sort((a, b) => b.viewers - a.viewers || a.match_id.localeCompare(b.match_id));
      fresh(state, "relays", action.payload.at);
    },
    accountsLoaded(state, action: PayloadAction<{ query: string; accounts: AdminAccount[]; next: string | null; append?: boolean } & At>) {
      const { query, accounts, next, append } = action.payload;
      const keep = append && query === state.accounts.query ? state.accounts.items : [];
      const seen = new Set(keep.map((a) => a.account_id));
      state.accounts = { query, items: [...keep, ...accounts.filter((a) => !seen.has(a.account_id))], next, searched: true };
      fresh(state, "accounts", action.payload.at);
    },
    /** A moderation action answered: the account's ban or mute as it now stands. */
    accountModerated(state, action: PayloadAction<{ accountId: string; ban?: InForce | null; mute?: InForce | null }>) {
      const row = state.accounts.items.find((a) => a.account_id === action.payload.accountId);
      if (!row) return;
      if (action.payload.ban !== undefined) row.banned = action.payload.ban;
      if (action.payload.mute !== undefined) row.muted = action.payload.mute;
    },
    auditLoaded(state, action: PayloadAction<{ audit: AuditResult | null } & At>) {
      state.audit = action.payload.audit;
      fresh(state, "audit", action.payload.at);
    },
    loadFailed(state, action: PayloadAction<{ section: Section; message: string }>) {
      state.errors[action.payload.section] = action.payload.message;
    },
    /** An action that moves money or items starts: keep its key unless a retry of it already has one. */
    actionStarted(state, action: PayloadAction<{ name: string; key: string }>) {
      if (!state.pending[action.payload.name]) state.pending[action.payload.name] = action.payload.key;
    },
    /** The action got a definite answer (done, or refused for good): the next one needs a new key. */
    actionSettled(state, action: PayloadAction<string>) {
      delete state.pending[action.payload];
    },
  },
  extraReducers: (builder) => {
    // A new operator (or signing out of the console) starts from nothing.
    builder.addCase(operatorToken, () => initialOpsState);
  },
});

export const {
  serversLoaded, roomsLoaded, playerKicked, queuesLoaded, relaysLoaded, accountsLoaded, accountModerated, auditLoaded,
  loadFailed, actionStarted, actionSettled,
} = opsSlice.actions;
export default opsSlice.reducer;
