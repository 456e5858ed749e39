/**
 * One watch of a match through the SDK's `SpectatorClient`, wired to the spectate slice:
 * the hello, the end, a stream that ends early and the relay's refusals become state; the
 * tick and the scoreboard are copied from the client's world view four times a second (the
 * canvas draws from the client itself, every frame).
 */
import { useEffect, useRef, useState } from "react";
import { SpectatorClient, type WatchOptions, type WorldView } from "@elysium/sdk";
import { useAppDispatch } from "../../store";
import {
  helloReceived,
  progressed,
  streamEnded,
  watchEnded,
  watchFailed,
  watchStarted,
  watchStopped,
  type ScoreRow,
  type WatchKind,
} from "./spectateSlice";
import { watchWords } from "./relayApi";

const PROGRESS_EVERY_MS = 250;

export function scoreRows(view: WorldView): ScoreRow[] {
  return view.players.map((p) => ({
    seat: p.seat,
    id: p.id,
    name: p.name,
    team: p.team,
    score: p.score,
    kills: p.kills,
    deaths: p.deaths,
    connected: p.connected,
  }));
}

/** Opens the watch when the page mounts (and again if `matchId` changes); closes it when the page goes. */
export function useSpectator(matchId: string, kind: WatchKind, initial: WatchOptions): SpectatorClient | null {
  const dispatch = useAppDispatch();
  const [client, setClient] = useState<SpectatorClient | null>(null);
  const initialRef = useRef(initial);

  useEffect(() => {
    const opts = initialRef.current;
    const c = new SpectatorClient(matchId, opts);
    dispatch(watchStarted({ matchId, kind, delay: opts.delay, speed: opts.speed }));
    const offs = [
      c.on("hello", (h) =>
        dispatch(
          helloReceived({
            live: h.live,
            mode: h.mode,
            state: h.state,
            tick_hz: h.tick_hz,
            delay_s: h.delay_s,
            min_delay_s: h.min_delay_s,
            from: h.from,
            speed: h.speed,
            players: h.players,
          }),
        ),
      ),
      c.on("end", (e) => dispatch(watchEnded({ n: e.tick, reason: e.reason, scoreboard: scoreRows(c.view()) }))),
      c.on("streamEnded", (e) => dispatch(streamEnded({ reason: watchWords(e.reason), retry: e.retry }))),
      c.on("reconnecting", () => dispatch(watchStarted({ matchId, kind, delay: c.options.delay, speed: c.options.speed }))),
      c.on("close", (info) => {
        if (c.ended) return; // the end is already told
        if (info.error) dispatch(watchFailed(watchWords(info.error, info.message)));
        else if (info.code !== 1000) dispatch(watchFailed(info.message));
      }),
    ];
    c.connect().catch((exc: Error & { code?: string }) => {
      dispatch(watchFailed(watchWords(exc.code ?? "", exc.message || "The spectator relay is unreachable")));
    });
    const timer = setInterval(() => {
      if (!c.hello) return;
      const view = c.view();
      if (view.tick < 0) return;
      dispatch(progressed({ tick: Math.floor(view.tick), state: view.state, scoreboard: scoreRows(view) }));
    }, PROGRESS_EVERY_MS);
    setClient(c);
    return () => {
      clearInterval(timer);
      offs.forEach((off) => off());
      c.close();
      setClient(null);
      dispatch(watchStopped());
    };
  }, [matchId, kind, dispatch]);

  return client;
}
