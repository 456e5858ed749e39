import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { useAppDispatch, useAppSelector } from "../../store";
import { WATCH_DELAYS, watchFailed, watchStarted } from "../../features/spectate/spectateSlice";
import { useSpectator } from "../../features/spectate/useSpectator";
import { watchStatusText } from "../../features/spectate/text";
import { watchWords } from "../../features/spectate/relayApi";
import { WatchCanvas } from "./WatchCanvas";
import { Scoreboard } from "./Scoreboard";
import "./spectate.css";

/** `/watch/:matchId`: a live match through the relay, behind the delay the watcher picks. */
export function WatchPage() {
  const { matchId = "" } = useParams();
  const dispatch = useAppDispatch();
  const [delay, setDelay] = useState(0);
  const client = useSpectator(matchId, "live", { delay: 0 });
  const watch = useAppSelector((s) => s.spectate.watch);

  const changeDelay = (value: number) => {
    setDelay(value);
    if (!client) return;
    dispatch(watchStarted({ matchId, kind: "live", delay: value }));
    client.goLive(value).catch((exc: Error & { code?: string }) => dispatch(watchFailed(watchWords(exc.code ?? "", exc.message))));
  };

  const finished = watch?.live === false || watch?.status === "ended";
  return (
    <main id="main" className="spectate-page">
      <h1>Watching {watch?.mode ?? "a match"}</h1>
      <p className="spectate-meta">
        Match {matchId} · <Link to="/watch">all live matches</Link>
      </p>
      <div className="spectate-watch">
        <div className="spectate-stage">
          <WatchCanvas client={client} label={`The arena of match ${matchId}`} />
          <div className="spectate-controls">
            <label>
              Delay
              <select value={String(delay)} onChange={(e) => changeDelay(Number(e.target.value))} disabled={finished}>
                {WATCH_DELAYS.map((d) => (
                  <option key={d} value={String(d)}>
                    {d === 0 ? "As live as allowed" : `${d} s behind`}
                  </option>
                ))}
              </select>
            </label>
            {watch?.minDelay ? <span className="spectate-meta">This mode is shown at least {watch.minDelay} s behind.</span> : null}
          </div>
          {watch && (
            <p role="status" data-testid="watch-status">
              {watchStatusText(watch)}
            </p>
          )}
          {watch?.error && <p role="alert">{watch.error}</p>}
          {finished && (
            <p>
              <Link to={`/replays/${encodeURIComponent(matchId)}`}>Replay it with a seek bar and speeds</Link>
            </p>
          )}
        </div>
        <Scoreboard client={client} />
      </div>
    </main>
  );
}
