import { useEffect } from "react";
import { Link } from "react-router-dom";
import { useAppDispatch, useAppSelector } from "../../store";
import { listFailed, listLoaded, listLoading, type ListedMatch } from "../../features/spectate/spectateSlice";
import { clock, listMatches, relayErrorText } from "../../features/spectate/relayApi";
import "./spectate.css";

const LIST_EVERY_MS = 3000;

function Players({ m }: { m: ListedMatch }) {
  if (!m.players.length) return <span>no players yet</span>;
  return (
    <span>
      {m.players
        .slice()
        .sort((a, b) => b.score - a.score)
        .map((p) => `${p.name || p.id} ${p.score}`)
        .join(", ")}
    </span>
  );
}

function teamScore(m: ListedMatch): string | null {
  if (m.score.length < 2) return null;
  return m.score.map(([team, total]) => `team ${team}: ${total}`).join(" · ");
}

/** The relay's live matches and replays, refreshed every 3 s, each with its watch link. */
export function LiveMatches() {
  const dispatch = useAppDispatch();
  const { live, replays, listStatus, listError } = useAppSelector((s) => s.spectate);

  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const body = await listMatches();
        if (!stop) dispatch(listLoaded(body));
      } catch (exc) {
        if (!stop) dispatch(listFailed(relayErrorText(exc)));
      }
    };
    dispatch(listLoading());
    void load();
    const timer = setInterval(load, LIST_EVERY_MS);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [dispatch]);

  return (
    <main id="main" className="spectate-page">
      <h1>Watch</h1>
      {listStatus === "error" && <p role="alert">{listError}</p>}
      <p role="status" className="spectate-summary">
        {listStatus === "ready" || live.length || replays.length
          ? `${live.length} live ${live.length === 1 ? "match" : "matches"}, ${replays.length} ${replays.length === 1 ? "replay" : "replays"}`
          : "Loading matches…"}
      </p>

      <section aria-labelledby="spectate-live-title">
        <h2 id="spectate-live-title">Live now</h2>
        {live.length > 0 && (
          <p>
            <Link to="/watch/_latest">Watch the newest match</Link>
          </p>
        )}
        {listStatus === "ready" && !live.length && <p>No match is being played right now.</p>}
        <ul className="spectate-list">
          {live.map((m) => (
            <li key={m.match_id} data-testid="live-match-row" className="spectate-row">
              <div className="spectate-row-main">
                <strong>{m.mode ?? "match"}</strong> <span className="spectate-state">{m.state}</span>
                <span className="spectate-meta">
                  {clock(m.elapsed_s)} played · {m.viewers} watching
                </span>
                <Players m={m} />
                {teamScore(m) && <span className="spectate-meta">{teamScore(m)}</span>}
              </div>
              <Link className="spectate-action" to={`/watch/${encodeURIComponent(m.match_id)}`} aria-label={`Watch ${m.mode ?? "match"} ${m.match_id}`}>
                Watch
              </Link>
            </li>
          ))}
        </ul>
      </section>

      <section aria-labelledby="spectate-replays-title">
        <h2 id="spectate-replays-title">Recent replays</h2>
        {listStatus === "ready" && !replays.length && <p>No finished match is kept for replay.</p>}
        <ul className="spectate-list">
          {replays.map((m) => (
            <li key={m.match_id} data-testid="replay-row" className="spectate-row">
              <div className="spectate-row-main">
                <strong>{m.mode ?? "match"}</strong>
                <span className="spectate-meta">
                  {clock(m.elapsed_s)} long{m.end_reason ? ` · ended by ${m.end_reason}` : ""}
                </span>
                <Players m={m} />
              </div>
              <Link className="spectate-action" to={`/replays/${encodeURIComponent(m.match_id)}`} aria-label={`Replay ${m.mode ?? "match"} ${m.match_id}`}>
                Replay
              </Link>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
