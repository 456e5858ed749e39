/** The relay's HTTP list through the gateway, and the words its failures show. */
import { ApiError } from "@elysium/sdk";
import { api } from "../../api";
import type { ListedMatch } from "./spectateSlice";

export const LIST_LIMIT = 50;

export const listMatches = (limit = LIST_LIMIT) =>
  api.request<{ live: ListedMatch[]; replays: ListedMatch[] }>("spectator", "/v1/matches", { query: { limit } });

export function relayErrorText(exc: unknown): string {
  if (exc instanceof ApiError) {
    if (exc.status === 0) return "The spectator relay is unreachable";
    return exc.problem.detail || exc.problem.title || exc.message;
  }
  return exc instanceof Error ? exc.message : String(exc);
}

/** What the relay's watch error codes and stream endings mean to a watcher. */
const WORDS: Record<string, string> = {
  unknown_match: "There is no live or replayable match with this id",
  seek_out_of_range: "That part of the match is no longer held",
  busy: "The relay is serving as many replays as it can; try again shortly",
  bad_request: "The relay refused the request",
  invalid_token: "Your sign-in could not be verified; sign in again",
  internal: "The relay could not start the stream; try again",
  feed_lost: "The match's feed is gone",
  feed_stalled: "The match stopped sending (its game server is gone)",
  feed_unavailable: "The relay lost its feed; it may come back",
  shutdown: "The relay is restarting",
};

export function watchWords(code: string, fallback?: string): string {
  return WORDS[code] ?? fallback ?? code;
}

/** "1:05" for 65 s. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
