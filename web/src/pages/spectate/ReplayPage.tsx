import { useEffect, useRef, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { useAppDispatch, useAppSelector } from "../../store";
import { endTickKnown, REPLAY_SPEEDS, replayPaused, seekMax, watchFailed, watchStarted } from "../../features/spectate/spectateSlice";
import { useSpectator } from "../../features/spectate/useSpectator";
import { watchStatusText } from "../../features/spectate/text";
import { clock, listMatches, watchWords } from "../../features/spectate/relayApi";
import { WatchCanvas } from "./WatchCanvas";
import { Scoreboard } from "./Scoreboard";
import "./spectate.css";

const SEEK_SETTLE_MS = 300;

/**
 * `/replays/:matchId`: a finished match from the relay, with a seek bar, play and pause, and
 * the speeds the relay's replay takes. Each seek, resume or change of speed is a new watch
 * from the keyframe at or before the tick (keyframes come every 2 s); pausing closes the watch.
 */
export function ReplayPage() {
  const { matchId = "" } = useParams();
  const dispatch = useAppDispatch();
  const client = useSpectator(matchId, "replay", { from: "start", speed: 1 });
  const watch = useAppSelector((s) => s.spectate.watch);
  const [dragging, setDragging] = useState<number | null>(null);
  const settle = useRef<ReturnType<typeof setTimeout> | null>(null);

  // The seek bar's end: the relay's list knows the last tick of a finished match.
  useEffect(() => {
    let stop = false;
    listMatches(200)
      .then((body) => {
        const m = [...body.replays, ...body.live].find((x) => x.match_id === matchId);
        if (!stop && m && m.tick !== null) dispatch(endTickKnown(m.tick));
      })
      .catch(() => undefined); // the bar then grows as the replay plays
    return () => {
      stop = true;
    };
  }, [matchId, dispatch]);

  useEffect(() => () => {
    if (settle.current) clearTimeout(settle.current);
  }, []);

  const speed = watch?.speed ?? 1;
  const reopen = (from: number | "start", pace = speed) => {
    if (!client) return;
    dispatch(watchStarted({ matchId, kind: "replay", speed: pace }));
    client.options = { ...client.options, speed: pace };
    client.seek(from).catch((exc: Error & { code?: string }) => dispatch(watchFailed(watchWords(exc.code ?? "", exc.message))));
  };

  const start = watch?.startTick ?? 0;
  const max = watch ? Math.max(start, seekMax(watch)) : 0;
  const position = dragging ?? watch?.tick ?? start;
  const hz = watch?.tickHz || 20;
  const playing = watch?.status === "watching" || watch?.status === "connecting";
  const ended = watch?.status === "ended";

  const onSeek = (value: number) => {
    setDragging(value);
    if (settle.current) clearTimeout(settle.current);
    settle.current = setTimeout(() => {
      setDragging(null);
      reopen(value);
    }, SEEK_SETTLE_MS);
  };

  const toggle = () => {
    if (!client) return;
    if (playing) {
      client.close();
      dispatch(replayPaused());
    } else {
      reopen(ended || watch?.tick == null ? "start" : watch.tick);
    }
  };

  const setSpeed = (s: number) => {
    if (!client || s === speed) return;
    if (playing) reopen(watch?.tick ?? "start", s);
    else {
      client.options = { ...client.options, speed: s };
      dispatch(watchStarted({ matchId, kind: "replay", speed: s }));
      dispatch(replayPaused());
    }
  };

  const now = clock((position - start) / hz);
  const total = clock((max - start) / hz);
  return (
    <main id="main" className="spectate-page">
      <h1>Replay of {watch?.mode ?? "a match"}</h1>
      <p className="spectate-meta">
        Match {matchId} · <Link to="/watch">all matches</Link>
      </p>
      <div className="spectate-watch">
        <div className="spectate-stage">
          <WatchCanvas client={client} label={`The replay of match ${matchId}`} />
          <div className="spectate-controls">
            <label className="spectate-seek">
              <span>
                Position {now} of {total}
              </span>
              <input
                type="range"
                aria-label="Seek"
                min={start}
                max={Math.max(max, start + 1)}
                step={1}
                value={Math.min(Math.max(position, start), Math.max(max, start + 1))}
                aria-valuetext={`${now} of ${total}`}
                onChange={(e) => onSeek(Number(e.target.value))}
                disabled={!client}
              />
            </label>
            <button type="button" onClick={toggle} disabled={!client}>
              {playing ? "Pause" : ended ? "Play again" : "Play"}
            </button>
            <fieldset className="spectate-speeds">
              <legend>Speed</legend>
              {REPLAY_SPEEDS.map((s) => (
                <button key={s} type="button" aria-pressed={s === speed} onClick={() => setSpeed(s)} disabled={!client}>
                  {s}×
                </button>
              ))}
            </fieldset>
          </div>
          {watch && (
            <p role="status" data-testid="watch-status">
              {watchStatusText(watch)}
            </p>
          )}
          {watch?.error && <p role="alert">{watch.error}</p>}
        </div>
        <Scoreboard client={client} />
      </div>
    </main>
  );
}
