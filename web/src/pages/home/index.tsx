import { useEffect, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { api } from "../../api";
import { ErrorAlert } from "../../components/ErrorAlert";
import { playAsGuest } from "../../features/session/sessionSlice";
import { useAppDispatch } from "../../store";
import { useSession } from "../../features/session/useSession";
import "./home.css";

const AREAS: { to: string; title: string; text: string }[] = [
  { to: "/arena", title: "Play", text: "Queue for a ranked match, join a party or start a custom game with friends." },
  { to: "/watch", title: "Watch", text: "Follow live matches as they happen, or replay the ones that just ended." },
  { to: "/market", title: "Market", text: "Buy and sell items with other players; every price has its history." },
  { to: "/inventory", title: "Inventory", text: "See what you own, list it for sale, or take it on chain." },
  { to: "/trades", title: "Trades", text: "Offer items and currency to another player and settle it in one step." },
  { to: "/butler", title: "Butler", text: "Ask in plain words: check your wallet, find a bargain, queue for a match." },
];

const NOW_QUERY = `query HomeNow {
  liveMatches(first: 50) { live { matchId mode viewers players { name } } }
  queues { mode playersWaiting waitP50S }
}`;

interface Now {
  liveMatches: { live: { matchId: string; mode: string | null; viewers: number | null; players: { name: string | null }[] }[] } | null;
  queues: { mode: string; playersWaiting: number; waitP50S: number | null }[] | null;
}

/** What is happening right now: live matches to watch and players in the queues. */
function RightNow() {
  const [now, setNow] = useState<Now | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    const ctl = new AbortController();
    api.graphql<Now>(NOW_QUERY, {}, ctl.signal).then(setNow, (err) => {
      if ((err as Error).name !== "AbortError") setFailed(true);
    });
    return () => ctl.abort();
  }, []);
  if (failed) return <p className="muted">Live activity is unavailable right now.</p>;
  if (!now) return <p className="muted">Looking for live matches…</p>;
  const live = now.liveMatches?.live ?? [];
  const waiting = (now.queues ?? []).reduce((n, q) => n + q.playersWaiting, 0);
  return (
    <div className="home-now">
      <p data-testid="home-now">
        {live.length === 1 ? "1 live match" : `${live.length} live matches`} · {waiting === 1 ? "1 player" : `${waiting} players`} in the queues
      </p>
      {live.length > 0 && (
        <ul className="home-live">
          {live.slice(0, 3).map((m) => (
            <li key={m.matchId} data-testid="home-live-match">
              <Link to={`/watch/${encodeURIComponent(m.matchId)}`}>Watch {m.mode ?? "a match"}</Link>
              <span className="muted"> · {m.players.map((p) => p.name).filter(Boolean).join(", ") || "players"}</span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function HomePage() {
  const { signedIn, displayName } = useSession();
  const dispatch = useAppDispatch();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function guest() {
    setBusy(true);
    setError(null);
    try {
      await dispatch(playAsGuest());
      navigate("/arena");
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <main id="main" className="home">
      <section className="home-hero" aria-labelledby="home-title">
        <h1 id="home-title">{signedIn && displayName ? `Welcome back, ${displayName}` : "Elysium"}</h1>
        <ErrorAlert error={error} service="commerce" />
        <p className="home-lead">Real-time matches in the arena, a player-run market, and a butler who handles the errands.</p>
        <div className="row">
          <Link to="/arena" className="button home-play">Play now</Link>
          {!signedIn && <button type="button" className="button-secondary" disabled={busy} onClick={guest}>Play as a guest</button>}
          {!signedIn && <Link to="/register" className="button button-secondary">Create an account</Link>}
          {!signedIn && <Link to="/login" className="button button-secondary">Sign in</Link>}
        </div>
      </section>
      <section aria-labelledby="home-now-title" className="card home-now-card">
        <h2 id="home-now-title">Right now</h2>
        <RightNow />
      </section>
      <section aria-labelledby="home-areas-title">
        <h2 id="home-areas-title">What you can do</h2>
        <ul className="grid home-areas">
          {AREAS.map((a) => (
            <li key={a.to} className="card home-area">
              <h3><Link to={a.to}>{a.title}</Link></h3>
              <p>{a.text}</p>
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
