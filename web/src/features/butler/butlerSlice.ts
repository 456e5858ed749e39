import { createSlice, type PayloadAction } from "@reduxjs/toolkit";

// The ButlerConsigliere's state: the conversation list, the open conversation's transcript as
// the player sees it (built from the chat stream's events, or from a stored conversation's
// entries), proposals and their confirmation, tool activity, token usage and the settings.

export interface ConversationSummary {
  id: string;
  title: string;
  created_at: string;
  updated_at: string;
  messages: number;
}

export interface Proposal {
  id: string;
  tool: string;
  category: string;
  terms: Record<string, unknown>;
  summary: string;
  expires_at: string;
}

export type ToolOutcome = "running" | "ok" | "error" | "proposed";
export type ProposalStatus = "open" | "confirming" | "confirmed" | "dismissed" | "failed";

export type ChatItem =
  | { kind: "user"; key: number; text: string }
  | { kind: "assistant"; key: number; text: string }
  | { kind: "tool"; key: number; callId: string; tool: string; outcome: ToolOutcome }
  | { kind: "proposal"; key: number; proposal: Proposal; status: ProposalStatus; result?: unknown; error?: { code: string; detail: string; retry: boolean } }
  | { kind: "error"; key: number; code: string; detail: string };

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

export interface ButlerSettings {
  persona: string;
  tone: "friendly" | "formal" | "concise" | "playful";
  language: string;
  auto_approve: string[];
  daily_token_budget: number;
}

export interface ButlerState {
  conversations: ConversationSummary[];
  nextCursor: string | null;
  activeId: string | null;
  items: ChatItem[];
  /** A turn is streaming: the chat box waits. */
  streaming: boolean;
  /** The assistant bubble the next text delta extends, if the turn is still writing it. */
  openText: number | null;
  /** Whether the current turn has shown any text yet (so `done`'s message is not shown twice). */
  turnHadText: boolean;
  /** Tokens spent by the turns of this visit, and by the last turn. */
  usage: Usage;
  lastUsage: Usage | null;
  settings: ButlerSettings | null;
  nextKey: number;
}

export const initialState: ButlerState = {
  conversations: [], nextCursor: null, activeId: null, items: [], streaming: false, openText: null,
  turnHadText: false, usage: { prompt_tokens: 0, completion_tokens: 0 }, lastUsage: null, settings: null, nextKey: 1,
};

/** One server-sent event of `POST /v1/chat`, its data already parsed. */
export interface StreamEvent {
  event: string;
  data: Record<string, unknown>;
}

/** A stored conversation's entry (`GET /v1/conversations/{id}`). */
export type Entry = Record<string, unknown> & { role: string };

const str = (v: unknown, fallback = ""): string => (typeof v === "string" ? v : v === undefined || v === null ? fallback : String(v));

function usageOf(v: unknown): Usage {
  const u = (v && typeof v === "object" ? v : {}) as Record<string, unknown>;
  const n = (x: unknown) => (typeof x === "number" && Number.isFinite(x) && x > 0 ? x : 0);
  return { prompt_tokens: n(u.prompt_tokens), completion_tokens: n(u.completion_tokens) };
}

function proposalOf(d: Record<string, unknown>): Proposal {
  return {
    id: str(d.id), tool: str(d.tool), category: str(d.category), summary: str(d.summary),
    terms: d.terms && typeof d.terms === "object" ? (d.terms as Record<string, unknown>) : {},
    expires_at: str(d.expires_at),
  };
}

function push(state: ButlerState, item: DistributiveOmit<ChatItem, "key">): number {
  const key = state.nextKey++;
  state.items.push({ ...item, key } as ChatItem);
  return key;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function findProposal(state: ButlerState, id: string) {
  for (const item of state.items) if (item.kind === "proposal" && item.proposal.id === id) return item;
  return undefined;
}

function endTurn(state: ButlerState, usage: unknown) {
  const u = usageOf(usage);
  state.usage.prompt_tokens += u.prompt_tokens;
  state.usage.completion_tokens += u.completion_tokens;
  state.lastUsage = u;
  state.streaming = false;
  state.openText = null;
  // A tool still "running" when the turn ends will not finish now.
  for (const item of state.items) if (item.kind === "tool" && item.outcome === "running") item.outcome = "error";
}

const butlerSlice = createSlice({
  name: "butler",
  initialState,
  reducers: {
    /** The player sent a message; its stream is about to open. */
    turnStarted(state, action: PayloadAction<string>) {
      push(state, { kind: "user", text: action.payload });
      state.streaming = true;
      state.openText = null;
      state.turnHadText = false;
    },
    /** One event of the chat stream. */
    streamEvent(state, action: PayloadAction<StreamEvent>) {
      const { event, data } = action.payload;
      switch (event) {
        case "conversation": {
          const id = str(data.id);
          state.activeId = id;
          if (id && !state.conversations.some((c) => c.id === id)) {
            const first = state.items.find((i) => i.kind === "user");
            const now = new Date().toISOString();
            state.conversations.unshift({ id, title: first?.kind === "user" ? first.text.slice(0, 80) : "New conversation", created_at: now, updated_at: now, messages: 0 });
          }
          break;
        }
        case "text": {
          const delta = str(data.delta);
          if (!delta) break;
          state.turnHadText = true;
          const open = state.openText !== null ? state.items.find((i) => i.key === state.openText) : undefined;
          if (open && open.kind === "assistant") open.text += delta;
          else state.openText = push(state, { kind: "assistant", text: delta });
          break;
        }
        case "tool_start":
          state.openText = null;
          push(state, { kind: "tool", callId: str(data.call_id), tool: str(data.tool), outcome: "running" });
          break;
        case "tool_end": {
          state.openText = null;
          const callId = str(data.call_id);
          const outcome = (["ok", "error", "proposed"].includes(str(data.outcome)) ? str(data.outcome) : "error") as ToolOutcome;
          const tool = [...state.items].reverse().find((i) => i.kind === "tool" && i.callId === callId);
          if (tool && tool.kind === "tool") tool.outcome = outcome;
          else push(state, { kind: "tool", callId, tool: str(data.tool), outcome });
          break;
        }
        case "proposal": {
          state.openText = null;
          const proposal = proposalOf(data);
          if (!findProposal(state, proposal.id)) push(state, { kind: "proposal", proposal, status: "open" });
          break;
        }
        case "done": {
          const message = str(data.message);
          if (!state.turnHadText && message) push(state, { kind: "assistant", text: message });
          endTurn(state, data.usage);
          break;
        }
        case "error":
          push(state, { kind: "error", code: str(data.code, "error"), detail: str(data.detail, "The butler could not answer.") });
          endTurn(state, data.usage);
          break;
        default:
          break; // an event type this client does not know is skipped
      }
    },
    /** The turn failed before or during its stream (a problem answer, or the connection dropped). */
    turnFailed(state, action: PayloadAction<{ code: string; detail: string }>) {
      if (!state.streaming) return;
      push(state, { kind: "error", code: action.payload.code, detail: action.payload.detail });
      endTurn(state, null);
    },
    newConversation(state) {
      state.activeId = null;
      state.items = [];
      state.streaming = false;
      state.openText = null;
    },
    conversationsLoaded(state, action: PayloadAction<{ items: ConversationSummary[]; next_cursor: string | null; append?: boolean }>) {
      const { items, next_cursor, append } = action.payload;
      if (append) {
        const known = new Set(state.conversations.map((c) => c.id));
        state.conversations.push(...items.filter((c) => !known.has(c.id)));
      } else {
        state.conversations = items;
      }
      state.nextCursor = next_cursor;
    },
    /** A stored conversation opened: its entries become the transcript. */
    conversationOpened(state, action: PayloadAction<{ id: string; entries: Entry[] }>) {
      state.activeId = action.payload.id;
      state.items = [];
      state.streaming = false;
      state.openText = null;
      for (const e of action.payload.entries) {
        switch (e.role) {
          case "user":
            push(state, { kind: "user", text: str(e.text) });
            break;
          case "assistant":
            push(state, { kind: "assistant", text: str(e.text) });
            break;
          case "tool": {
            const o = str(e.outcome);
            push(state, { kind: "tool", callId: str(e.call_id), tool: str(e.tool), outcome: (["ok", "error", "proposed"].includes(o) ? o : "error") as ToolOutcome });
            break;
          }
          case "proposal":
            push(state, { kind: "proposal", proposal: proposalOf(e), status: "open" });
            break;
          case "confirmation": {
            const p = findProposal(state, str(e.proposal_id));
            if (!p) break;
            if (e.outcome === "ok") {
              p.status = "confirmed";
              p.result = e.result;
            } else {
              p.status = "failed";
              p.error = { code: str(e.code, "error"), detail: str(e.detail), retry: false };
            }
            break;
          }
          case "error":
            push(state, { kind: "error", code: str(e.code, "error"), detail: str(e.detail) });
            break;
          default:
            break;
        }
      }
    },
    conversationRemoved(state, action: PayloadAction<string>) {
      state.conversations = state.conversations.filter((c) => c.id !== action.payload);
      if (state.activeId === action.payload) {
        state.activeId = null;
        state.items = [];
      }
    },
    proposalConfirming(state, action: PayloadAction<string>) {
      const p = findProposal(state, action.payload);
      if (p && (p.status === "open" || p.status === "failed")) {
        p.status = "confirming";
        delete p.error;
      }
    },
    proposalConfirmed(state, action: PayloadAction<{ id: string; result: unknown }>) {
      const p = findProposal(state, action.payload.id);
      if (p) {
        p.status = "confirmed";
        p.result = action.payload.result;
        delete p.error;
      }
    },
    /** The confirmation was refused; with `retry` (unavailable) the same proposal may be confirmed again. */
    proposalFailed(state, action: PayloadAction<{ id: string; code: string; detail: string; retry: boolean }>) {
      const { id, ...error } = action.payload;
      const p = findProposal(state, id);
      if (p) {
        p.status = error.retry ? "open" : "failed";
        p.error = error;
      }
    },
    proposalDismissed(state, action: PayloadAction<string>) {
      const p = findProposal(state, action.payload);
      if (p && p.status === "open") p.status = "dismissed";
    },
    settingsLoaded(state, action: PayloadAction<ButlerSettings>) {
      state.settings = action.payload;
    },
  },
});

export const {
  turnStarted, streamEvent, turnFailed, newConversation, conversationsLoaded, conversationOpened, conversationRemoved,
  proposalConfirming, proposalConfirmed, proposalFailed, proposalDismissed, settingsLoaded,
} = butlerSlice.actions;
export default butlerSlice.reducer;

export { toolLabel } from "./toolLabels";
