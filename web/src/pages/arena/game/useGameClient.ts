/**
 * One match's `GameClient` for the game page: connects with the assignment's join token
 * (asking the matchmaker for a fresh one when the token was spent or expired: a reload, a
 * second mount), and keeps what the page shows besides the canvas — the phase, the
 * scoreboard, chat, the result, the round trip and errors — as React state, refreshed a few
 * times a second (the canvas reads the client itself, every frame).
 */
import { useEffect, useRef, useState } from "react";
import { GameClient, JoinError, type ChatLine, type MatchEnd, type PlayerView } from "@elysium/sdk";
import { api } from "../../../api";
import type { Assignment } from "../../../features/arena/arenaSlice";
import { assignmentOf, type Ticket } from "../../../features/arena/arenaSlice";

export type Phase = "connecting" | "waiting" | "running" | "reconnecting" | "finished" | "closed" | "failed";

export interface GameSnapshot {
  phase: Phase;
  players: PlayerView[];
  selfSeat: number | null;
  tick: number;
  tickHz: number;
  timeLimitS: number | null;
  scoreLimit: number | null;
  rttMs: number | null;
  chat: ChatLine[];
  result: MatchEnd | null;
  /** Why the game stopped or what went wrong, in words for the player. */
  message: string | null;
  /** A chat line the server refused, in its words. */
  chatError: string | null;
}

const REFRESH_MS = 250;
const TOKEN_SPENT = new Set(["token_reused", "token_rejected"]);

const initial: GameSnapshot = {
  phase: "connecting", players: [], selfSeat: null, tick: 0, tickHz: 20, timeLimitS: null, scoreLimit: null,
  rttMs: null, chat: [], result: null, message: null, chatError: null,
};

async function freshToken(a: Assignment): Promise<Assignment | null> {
  if (!a.ticketId) return null;
  const ticket = await api.request<Ticket>("matchmaker", `/v1/tickets/${encodeURIComponent(a.ticketId)}`);
  const next = assignmentOf(ticket);
  return next && next.matchId === a.matchId ? next : null;
}

export function useGameClient(assignment: Assignment | null): { client: GameClient | null; snap: GameSnapshot } {
  const [client, setClient] = useState<GameClient | null>(null);
  const [snap, setSnap] = useState<GameSnapshot>(initial);
  const chatErrorRef = useRef<string | null>(null);

  const matchId = assignment?.matchId ?? null;
  const assignmentRef = useRef(assignment);
  assignmentRef.current = assignment;

  useEffect(() => {
    const a = assignmentRef.current;
    if (!a) return;
    let stopped = false;
    const c = new GameClient(a.wsUrl);
    setClient(c);
    setSnap(initial);
    chatErrorRef.current = null;
    let phase: Phase = "connecting";
    let message: string | null = null;

    const refresh = () => {
      if (stopped) return;
      const view = c.view();
      const map = c.world.map;
      if (phase === "connecting" || phase === "waiting" || phase === "running") {
        if (c.welcome) phase = c.running ? "running" : c.world.replica.state === "finished" ? "finished" : "waiting";
      }
      setSnap({
        phase, players: view.players, selfSeat: c.seat, tick: Math.max(0, c.world.replica.tick), tickHz: c.world.tickHz,
        timeLimitS: map ? map.time_limit_s : null, scoreLimit: map ? map.score_limit : null,
        rttMs: c.rttMs, chat: [...c.chatLog], result: c.result, message, chatError: chatErrorRef.current,
      });
    };

    const offs = [
      c.on("end", () => {
        phase = "finished";
        refresh();
      }),
      c.on("chat", (line) => {
        if (line.from === c.seat) chatErrorRef.current = null; // our line went out
        refresh();
      }),
      c.on("error", (e) => {
        if (["too_long", "empty", "muted", "chat_rate_limited", "internal"].includes(e.code) && e.ref !== undefined) {
          chatErrorRef.current = e.code === "chat_rate_limited" ? "You are sending chat lines too fast." : e.code === "muted" ? "You are muted in chat." : e.msg;
          refresh();
        }
      }),
      c.on("reconnecting", () => {
        phase = "reconnecting";
        refresh();
      }),
      c.on("welcome", () => {
        if (phase === "reconnecting") phase = "connecting";
      }),
      c.on("shutdown", () => {
        message = "The game server is shutting down.";
      }),
      c.on("close", (info) => {
        if (phase !== "finished") {
          phase = c.result ? "finished" : "closed";
          message = info.message;
        }
        refresh();
      }),
    ];

    const join = async (token: string, retried: boolean): Promise<void> => {
      try {
        await c.connect({ token });
        refresh();
      } catch (exc) {
        if (stopped) return;
        const code = exc instanceof JoinError ? exc.code : "";
        if (!retried && TOKEN_SPENT.has(code)) {
          try {
            const next = await freshToken(assignmentRef.current ?? a);
            if (next && !stopped) return join(next.joinToken, true);
          } catch {
            /* the first error is the one to show */
          }
        }
        phase = "failed";
        message = code === "room_closed" ? "This match is over." : code === "banned" ? "This account is banned." : (exc as Error).message || "The game server is unreachable.";
        refresh();
      }
    };
    join(a.joinToken, false);
    const timer = setInterval(refresh, REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
      offs.forEach((off) => off());
      c.close();
    };
  }, [matchId]);

  return { client, snap };
}
