import { describe, expect, it } from "vitest";
import reducer, {
  conversationOpened, conversationRemoved, initialState, newConversation, proposalConfirmed, proposalConfirming,
  proposalDismissed, proposalFailed, streamEvent, toolLabel, turnFailed, turnStarted, type ButlerState, type StreamEvent,
} from "../src/features/butler/butlerSlice";

const proposal = {
  id: "p1", tool: "buy_listing", category: "spend", terms: { listing_id: "l1", price: 40, currency: "soft" },
  summary: "Buy Speed Boots for 40 soft", expires_at: "2026-12-02T17:00:00+00:00",
};

function run(state: ButlerState, events: StreamEvent[]): ButlerState {
  return events.reduce((s, e) => reducer(s, streamEvent(e)), state);
}

const CONV = "0123456789abcdef01234567";

describe("the butler's transcript from a chat stream", () => {
  it("joins text deltas into one reply, shows tool activity as it happens and ends the turn", () => {
    let s = reducer(initialState, turnStarted("what is in my wallet"));
    expect(s.streaming).toBe(true);
    s = run(s, [
      { event: "conversation", data: { id: CONV } },
      { event: "tool_start", data: { call_id: "c1", tool: "get_wallet", arguments: {} } },
    ]);
    expect(s.activeId).toBe(CONV);
    expect(s.conversations[0]).toMatchObject({ id: CONV, title: "what is in my wallet" });
    const chip = s.items[1];
    expect(chip).toMatchObject({ kind: "tool", tool: "get_wallet", outcome: "running" });
    expect(toolLabel("get_wallet", "running")).toBe("Looking up your wallet…");
    s = run(s, [
      { event: "tool_end", data: { call_id: "c1", tool: "get_wallet", outcome: "ok", result: { soft: 10 } } },
      { event: "text", data: { delta: "You have " } },
      { event: "text", data: { delta: "10 soft." } },
      { event: "done", data: { message: "You have 10 soft.", usage: { prompt_tokens: 12, completion_tokens: 5 } } },
    ]);
    expect(s.items.map((i) => i.kind)).toEqual(["user", "tool", "assistant"]);
    expect(s.items[1]).toMatchObject({ outcome: "ok" });
    expect(s.items[2]).toMatchObject({ text: "You have 10 soft." });
    expect(s.streaming).toBe(false);
    expect(s.usage).toEqual({ prompt_tokens: 12, completion_tokens: 5 });
    // A second turn adds to the visit's usage and starts a new reply bubble.
    s = run(reducer(s, turnStarted("thanks")), [
      { event: "conversation", data: { id: CONV } },
      { event: "text", data: { delta: "Any time." } },
      { event: "done", data: { message: "Any time.", usage: { prompt_tokens: 3, completion_tokens: 2 } } },
    ]);
    expect(s.items.filter((i) => i.kind === "assistant")).toHaveLength(2);
    expect(s.usage).toEqual({ prompt_tokens: 15, completion_tokens: 7 });
    expect(s.lastUsage).toEqual({ prompt_tokens: 3, completion_tokens: 2 });
    expect(s.conversations).toHaveLength(1);
  });

  it("text after a tool call is a new bubble; done's message shows when no text streamed", () => {
    let s = reducer(initialState, turnStarted("hi"));
    s = run(s, [
      { event: "conversation", data: { id: CONV } },
      { event: "text", data: { delta: "Let me look." } },
      { event: "tool_start", data: { call_id: "c1", tool: "get_inventory", arguments: {} } },
      { event: "tool_end", data: { call_id: "c1", tool: "get_inventory", outcome: "ok", result: {} } },
      { event: "text", data: { delta: "You own nothing." } },
      { event: "done", data: { message: "Let me look.You own nothing.", usage: {} } },
    ]);
    expect(s.items.filter((i) => i.kind === "assistant").map((i) => i.kind === "assistant" && i.text)).toEqual(["Let me look.", "You own nothing."]);
    s = run(reducer(initialState, turnStarted("hi")), [
      { event: "conversation", data: { id: CONV } },
      { event: "done", data: { message: "Hello.", usage: {} } },
    ]);
    expect(s.items[1]).toMatchObject({ kind: "assistant", text: "Hello." });
  });

  it("shows a proposal as a card with its exact terms, and follows its confirmation", () => {
    let s = run(reducer(initialState, turnStarted("buy the boots")), [
      { event: "conversation", data: { id: CONV } },
      { event: "tool_start", data: { call_id: "c1", tool: "buy_listing", arguments: { listing_id: "l1" } } },
      { event: "tool_end", data: { call_id: "c1", tool: "buy_listing", outcome: "proposed", result: null } },
      { event: "proposal", data: proposal },
      { event: "done", data: { message: "Confirm in the app.", usage: {} } },
    ]);
    const card = s.items.find((i) => i.kind === "proposal");
    expect(card).toMatchObject({ status: "open", proposal: { id: "p1", terms: { price: 40 }, summary: proposal.summary } });
    expect(s.items.find((i) => i.kind === "tool")).toMatchObject({ outcome: "proposed" });
    s = reducer(s, proposalConfirming("p1"));
    expect(s.items.find((i) => i.kind === "proposal")).toMatchObject({ status: "confirming" });
    s = reducer(s, proposalFailed({ id: "p1", code: "unavailable", detail: "commerce did not answer", retry: true }));
    expect(s.items.find((i) => i.kind === "proposal")).toMatchObject({ status: "open", error: { code: "unavailable" } });
    s = reducer(reducer(s, proposalConfirming("p1")), proposalConfirmed({ id: "p1", result: { purchase_id: "x" } }));
    const done = s.items.find((i) => i.kind === "proposal");
    expect(done).toMatchObject({ status: "confirmed", result: { purchase_id: "x" } });
    expect(done && "error" in done && done.error).toBeFalsy();
    // A confirmed proposal cannot be dismissed.
    s = reducer(s, proposalDismissed("p1"));
    expect(s.items.find((i) => i.kind === "proposal")).toMatchObject({ status: "confirmed" });
  });

  it("a refused confirmation (terms-changed) stays failed; an open one can be dismissed", () => {
    let s = run(reducer(initialState, turnStarted("buy")), [
      { event: "conversation", data: { id: CONV } },
      { event: "proposal", data: proposal },
      { event: "proposal", data: { ...proposal, id: "p2" } },
      { event: "done", data: { message: "", usage: {} } },
    ]);
    s = reducer(reducer(s, proposalConfirming("p1")), proposalFailed({ id: "p1", code: "terms-changed", detail: "the price changed", retry: false }));
    s = reducer(s, proposalDismissed("p2"));
    const [p1, p2] = s.items.filter((i) => i.kind === "proposal");
    expect(p1).toMatchObject({ status: "failed", error: { code: "terms-changed", detail: "the price changed" } });
    expect(p2).toMatchObject({ status: "dismissed" });
  });

  it("an error event ends the turn, counts its usage and settles tools left running", () => {
    const s = run(reducer(initialState, turnStarted("hi")), [
      { event: "conversation", data: { id: CONV } },
      { event: "tool_start", data: { call_id: "c1", tool: "search_market", arguments: {} } },
      { event: "error", data: { code: "provider-unavailable", detail: "the model did not answer", usage: { prompt_tokens: 7 } } },
    ]);
    expect(s.streaming).toBe(false);
    expect(s.items.at(-1)).toMatchObject({ kind: "error", code: "provider-unavailable" });
    expect(s.items.find((i) => i.kind === "tool")).toMatchObject({ outcome: "error" });
    expect(s.usage.prompt_tokens).toBe(7);
  });

  it("a turn refused before its stream shows the problem once", () => {
    let s = reducer(initialState, turnStarted("hi"));
    s = reducer(s, turnFailed({ code: "rate-limited", detail: "slow down" }));
    s = reducer(s, turnFailed({ code: "rate-limited", detail: "slow down" }));
    expect(s.items.filter((i) => i.kind === "error")).toHaveLength(1);
    expect(s.streaming).toBe(false);
  });

  it("skips unknown events and keeps a malformed usage from counting", () => {
    const s = run(reducer(initialState, turnStarted("hi")), [
      { event: "conversation", data: { id: CONV } },
      { event: "heartbeat", data: {} },
      { event: "done", data: { message: "ok", usage: { prompt_tokens: "9", completion_tokens: -3 } } },
    ]);
    expect(s.items.map((i) => i.kind)).toEqual(["user", "assistant"]);
    expect(s.usage).toEqual({ prompt_tokens: 0, completion_tokens: 0 });
  });
});

describe("a stored conversation", () => {
  it("becomes the same transcript, confirmations folded into their proposals", () => {
    const s = reducer(initialState, conversationOpened({
      id: CONV,
      entries: [
        { role: "user", text: "buy the boots", at: "t" },
        { role: "tool", tool: "buy_listing", call_id: "c1", outcome: "proposed", result: null, at: "t" },
        { role: "proposal", ...proposal, at: "t" },
        { role: "assistant", text: "Confirm in the app.", at: "t" },
        { role: "confirmation", proposal_id: "p1", outcome: "error", code: "terms-changed", detail: "price moved", at: "t" },
        { role: "error", code: "internal", detail: "oops", at: "t" },
      ],
    }));
    expect(s.activeId).toBe(CONV);
    expect(s.items.map((i) => i.kind)).toEqual(["user", "tool", "proposal", "assistant", "error"]);
    expect(s.items[2]).toMatchObject({ status: "failed", error: { code: "terms-changed" } });
  });

  it("is forgotten when deleted, and a new conversation starts empty", () => {
    let s = reducer(initialState, conversationOpened({ id: CONV, entries: [{ role: "user", text: "hi" }] }));
    s = { ...s, conversations: [{ id: CONV, title: "hi", created_at: "", updated_at: "", messages: 1 }] };
    s = reducer(s, conversationRemoved(CONV));
    expect(s.conversations).toHaveLength(0);
    expect(s.items).toHaveLength(0);
    s = reducer(reducer(s, turnStarted("x")), newConversation());
    expect(s.items).toHaveLength(0);
    expect(s.activeId).toBeNull();
  });
});
