// The butler page's moves: one chat turn streamed into the store, confirmations, conversations.
import { ApiError, streamSSE } from "@elysium/sdk";
import { api } from "../../api";
import { problemText } from "../../components/ErrorAlert";
import { refreshNavbar } from "../../components/Navbar";
import {
  conversationOpened, conversationRemoved, conversationsLoaded, proposalConfirmed, proposalConfirming, proposalFailed,
  streamEvent, turnFailed, turnStarted, type ConversationSummary, type Entry,
} from "../../features/butler/butlerSlice";
import { refreshSession } from "../../features/session/sessionSlice";
import type { AppDispatch, RootState } from "../../store";

const FRESH_MARGIN_MS = 5_000;

/** A token that will still be valid when the stream opens (a stream's request skips the 401 retry). */
async function freshToken(dispatch: AppDispatch, getState: () => RootState): Promise<void> {
  const { expiresAt } = getState().session;
  if (expiresAt !== null && expiresAt - Date.now() < FRESH_MARGIN_MS) await dispatch(refreshSession());
}

function codeOf(err: unknown): string {
  return err instanceof ApiError ? err.code || "error" : "error";
}

/**
 * Sends `message` and feeds the stream's events to the store as they arrive. `signal` stops it
 * (leaving the page, or the Stop button); the butler still stores the turn.
 */
export async function sendMessage(dispatch: AppDispatch, getState: () => RootState, message: string,
                                  signal: AbortSignal): Promise<void> {
  const conversationId = getState().butler.activeId;
  dispatch(turnStarted(message));
  const body = conversationId ? { message, conversation_id: conversationId } : { message };
  let attempt = 0;
  for (;;) {
    try {
      await freshToken(dispatch, getState);
      for await (const ev of streamSSE(api, "butler", "/v1/chat", { method: "POST", body, signal })) {
        let data: Record<string, unknown> = {};
        try {
          const parsed = JSON.parse(ev.data);
          if (parsed && typeof parsed === "object") data = parsed;
        } catch {
          continue; // not JSON: not one of the butler's events
        }
        dispatch(streamEvent({ event: ev.event, data }));
      }
      // A stream that ended without done or error (the connection dropped) ends the turn here.
      dispatch(turnFailed({ code: "stream-ended", detail: "The connection to the butler closed before the reply was finished." }));
      return;
    } catch (err) {
      if ((err as Error).name === "AbortError") {
        dispatch(turnFailed({ code: "stopped", detail: "Stopped. The butler keeps what it had said in the conversation." }));
        return;
      }
      // A 401 before the stream opened: one refresh and one more try.
      if (err instanceof ApiError && err.status === 401 && attempt === 0 && (await dispatch(refreshSession()))) {
        attempt++;
        continue;
      }
      dispatch(turnFailed({ code: codeOf(err), detail: problemText(err, "butler") }));
      return;
    }
  }
}

/** `POST /v1/chat/confirm`, the proposal's id as the Idempotency-Key (a retry repeats the same key). */
export async function confirmProposal(dispatch: AppDispatch, proposalId: string): Promise<void> {
  dispatch(proposalConfirming(proposalId));
  try {
    const answer = await api.request<{ result: unknown }>("butler", "/v1/chat/confirm", {
      method: "POST", body: { proposal_id: proposalId }, idempotencyKey: proposalId,
    });
    dispatch(proposalConfirmed({ id: proposalId, result: answer.result }));
    refreshNavbar();
  } catch (err) {
    const retry = err instanceof ApiError && (err.status === 0 || err.problem.retry_confirm === true);
    dispatch(proposalFailed({ id: proposalId, code: codeOf(err), detail: problemText(err, "butler"), retry }));
  }
}

export async function loadConversations(dispatch: AppDispatch, cursor?: string): Promise<void> {
  const page = await api.request<{ items: ConversationSummary[]; next_cursor: string | null }>("butler", "/v1/conversations", {
    query: { limit: 20, cursor },
  });
  dispatch(conversationsLoaded({ ...page, append: cursor !== undefined }));
}

export async function openConversation(dispatch: AppDispatch, id: string): Promise<void> {
  const doc = await api.request<{ id: string; entries: Entry[] }>("butler", `/v1/conversations/${encodeURIComponent(id)}`);
  dispatch(conversationOpened({ id: doc.id, entries: doc.entries }));
}

export async function deleteConversation(dispatch: AppDispatch, id: string): Promise<void> {
  try {
    await api.request("butler", `/v1/conversations/${encodeURIComponent(id)}`, { method: "DELETE" });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err; // already gone is gone
  }
  dispatch(conversationRemoved(id));
}
