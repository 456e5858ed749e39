/**
 * The arena lobby's state: the queue modes and regions (`GET /v1/queues`), the player's
 * current ticket and its live status (the ticket's event stream), the custom game they sit
 * in and the public games of the lobby browser, their party, and the `assignment` the game
 * page reads once a ticket is matched (`state.arena.assignment`).
 *
 * The shapes below are the matchmaker's answers (docs/matchmaker.md); reducers only store
 * what the API said, and `assignmentOf` is the one place a matched ticket becomes a hand-over.
 */
import { createSlice, type PayloadAction } from "@reduxjs/toolkit";

/** A ticket's status as players see it (`forming` is shown as `queued`; a custom game's is `hosted`). */
export type TicketStatus = "queued" | "hosted" | "matched" | "cancelled" | "expired";

/** `match` of a matched ticket: where to play and the caller's own join token. */
export interface TicketMatch {
  match_id: string;
  server_id: string;
  address: string;
  region: string;
  team: number;
  roster: [string, number][];
  join_token: string;
  join_token_expires_ms: number;
}

export interface Ticket {
  id: string;
  mode: string;
  status: TicketStatus;
  /** The custom game's code when this is a game's ticket. */
  game: string | null;
  players: string[];
  leader: string;
  party: string | null;
  regions: Record<string, number>;
  accept_fallback: boolean;
  created_ms: number;
  expires_ms: number;
  reason?: string;
  match?: TicketMatch;
}

/** One mode of `GET /v1/queues`. */
export interface QueueInfo {
  mode: string;
  players_waiting: number;
  /** Waiting players per nearest region. */
  regions: Record<string, number>;
  recent_matched_tickets: number;
  wait_p50_s: number | null;
  wait_p90_s: number | null;
}

export type GameState = "open" | "locked" | "starting" | "started" | "ended";

/** What the lobby browser shows of a custom game. */
export interface GameSummary {
  code: string;
  mode: string;
  region: string;
  public: boolean;
  /** Whether the game has a password (never the password). */
  password: boolean;
  seats: number;
  players: number;
  host: string;
  host_name: string;
  state: GameState;
  options: Record<string, unknown>;
  ranked: boolean;
  created_ms: number;
  expires_ms: number;
}

export interface GameMember {
  id: string;
  name: string;
  since_ms: number;
}

/** One game as `GET /v1/games/{code}` answers it. */
export interface GameView extends GameSummary {
  members: GameMember[];
  /** The game's ticket, for members: its `matched` read carries their join token. */
  ticket?: string;
  match?: { match_id: string; server_id: string; address: string; region: string };
}

export interface PartyView {
  code: string;
  leader: string;
  members: { id: string; name?: string }[];
  expires_ms: number;
  /** The party's ticket while it has one (members follow it; the leader queues it). */
  ticket: { id: string; status: TicketStatus; mode: string } | null;
}

/** What the game page needs to join a match: read it from `state.arena.assignment`. */
export interface Assignment {
  matchId: string;
  /** The game server's websocket address (not proxied: the browser connects to it directly). */
  wsUrl: string;
  joinToken: string;
  /** When the join token stops working (ms since the epoch); re-read `ticketId` for a fresh one. */
  joinTokenExpiresMs: number;
  mode: string;
  serverId: string;
  region: string;
  team: number;
  roster: [string, number][];
  /** The matched ticket: `GET /v1/tickets/{ticketId}` signs a fresh join token at every read. */
  ticketId: string;
  /** The custom game's code, or null for a queued match. */
  game: string | null;
}

export type LoadStatus = "idle" | "loading" | "ready" | "error";

export interface ArenaState {
  queues: QueueInfo[];
  queuesStatus: LoadStatus;
  queuesError: string | null;
  /** The caller's current (or last) ticket, as the API last described it. */
  ticket: Ticket | null;
  /** The custom game the caller sits in. */
  game: GameView | null;
  /** The lobby browser's games (public, open, with a free seat) and the next page's cursor. */
  browse: GameSummary[];
  browseNext: string | null;
  browseStatus: LoadStatus;
  party: PartyView | null;
  /** Why the caller is no longer in their custom game, when they did not leave it themselves. */
  gameNotice: string | null;
  assignment: Assignment | null;
}

export const initialState: ArenaState = {
  queues: [],
  queuesStatus: "idle",
  queuesError: null,
  ticket: null,
  game: null,
  browse: [],
  browseNext: null,
  browseStatus: "idle",
  party: null,
  gameNotice: null,
  assignment: null,
};

const FINAL: ReadonlySet<TicketStatus> = new Set(["matched", "cancelled", "expired"]);

/** Whether a ticket has reached the end of its life (the event stream ends after these). */
export function isFinal(ticket: Pick<Ticket, "status">): boolean {
  return FINAL.has(ticket.status);
}

/** The hand-over a matched ticket carries for the calling player, or null. */
export function assignmentOf(ticket: Ticket): Assignment | null {
  const m = ticket.match;
  if (ticket.status !== "matched" || !m || !m.join_token || !m.address) return null;
  return {
    matchId: m.match_id,
    wsUrl: m.address,
    joinToken: m.join_token,
    joinTokenExpiresMs: m.join_token_expires_ms,
    mode: ticket.mode,
    serverId: m.server_id,
    region: m.region,
    team: m.team,
    roster: m.roster,
    ticketId: ticket.id,
    game: ticket.game,
  };
}

/** Region names the lobby knows of: those any queue reports, else the local stack's `local`. */
export function knownRegions(queues: QueueInfo[]): string[] {
  const names = new Set<string>();
  for (const q of queues) for (const r of Object.keys(q.regions)) names.add(r);
  if (!names.size) names.add("local");
  return [...names].sort();
}

const arenaSlice = createSlice({
  name: "arena",
  initialState,
  reducers: {
    queuesLoading(state) {
      state.queuesStatus = "loading";
    },
    queuesLoaded(state, action: PayloadAction<{ modes: QueueInfo[] }>) {
      state.queues = action.payload.modes;
      state.queuesStatus = "ready";
      state.queuesError = null;
    },
    queuesFailed(state, action: PayloadAction<string>) {
      state.queuesStatus = "error";
      state.queuesError = action.payload;
    },
    /** Any fresh view of the caller's ticket (create, read, event, cancel). */
    ticketUpdated(state, action: PayloadAction<Ticket>) {
      const t = action.payload;
      // An event that arrives late for an older ticket does not replace the current one.
      if (state.ticket && state.ticket.id !== t.id && !isFinal(state.ticket) && t.created_ms < state.ticket.created_ms) return;
      state.ticket = t;
      const a = assignmentOf(t);
      if (a) state.assignment = a;
    },
    ticketCleared(state) {
      state.ticket = null;
    },
    gameUpdated(state, action: PayloadAction<GameView>) {
      state.game = action.payload;
      state.gameNotice = null;
    },
    /** The caller left their custom game, or (with a reason to show) was removed or it ended. */
    gameLeft(state, action: PayloadAction<string | undefined>) {
      if (state.ticket && state.game && state.ticket.id === state.game.ticket) state.ticket = null;
      state.game = null;
      state.gameNotice = action.payload ?? null;
    },
    browseLoading(state) {
      state.browseStatus = "loading";
    },
    gamesListed(state, action: PayloadAction<{ items: GameSummary[]; next: string | null; append?: boolean }>) {
      const { items, next, append } = action.payload;
      if (append) {
        const seen = new Set(state.browse.map((g) => g.code));
        state.browse.push(...items.filter((g) => !seen.has(g.code)));
      } else {
        state.browse = items;
      }
      state.browseNext = next;
      state.browseStatus = "ready";
    },
    browseFailed(state) {
      state.browseStatus = "error";
    },
    partyUpdated(state, action: PayloadAction<PartyView>) {
      state.party = action.payload;
    },
    partyLeft(state) {
      state.party = null;
    },
    /** Sets the hand-over directly (e.g. a fresh join token read by the game page). */
    assignmentSet(state, action: PayloadAction<Assignment>) {
      state.assignment = action.payload;
    },
    /** The game page is done with the assignment (the match ended or the player left). */
    assignmentCleared(state) {
      state.assignment = null;
      if (state.ticket && isFinal(state.ticket)) state.ticket = null;
      if (state.game && state.game.state === "started") state.game = null;
    },
  },
});

export const {
  queuesLoading,
  queuesLoaded,
  queuesFailed,
  ticketUpdated,
  ticketCleared,
  gameUpdated,
  gameLeft,
  browseLoading,
  gamesListed,
  browseFailed,
  partyUpdated,
  partyLeft,
  assignmentSet,
  assignmentCleared,
} = arenaSlice.actions;

export default arenaSlice.reducer;
