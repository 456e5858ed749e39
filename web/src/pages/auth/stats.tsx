import { Link } from "react-router-dom";

export interface Rating {
  mode: string;
  season: string | number;
  ordinal: number;
  mu: number;
  sigma: number;
  matches: number;
  wins: number;
}

export interface MatchPlayer {
  player_id: string;
  name: string;
  score?: number;
  placement?: number;
  won?: boolean;
}

export interface MatchSummary {
  match_id: string;
  mode: string;
  game_mode?: string;
  duration_s?: number;
  ended_at_ms?: number;
  players?: MatchPlayer[];
  replay?: { status: string } | null;
}

export interface PublicProfile {
  id: string;
  display_name: string;
  avatar_url: string | null;
  created_at: string;
  ratings: Rating[] | null;
  recent_matches: MatchSummary[] | null;
  unavailable: string[];
}

export function RatingsTable({ ratings }: { ratings: Rating[] | null }) {
  if (ratings === null) return <p className="muted">Ratings are unavailable right now.</p>;
  if (ratings.length === 0) return <p className="muted">No rated matches yet.</p>;
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">Ratings per mode and season</caption>
        <thead><tr><th scope="col">Mode</th><th scope="col">Season</th><th scope="col">Rating</th><th scope="col">Matches</th><th scope="col">Wins</th></tr></thead>
        <tbody>
          {ratings.map((r) => (
            <tr key={`${r.mode}/${r.season}`} data-testid="rating-row">
              <td>{r.mode}</td><td>{r.season}</td><td>{Math.round(r.ordinal * 10) / 10}</td><td>{r.matches}</td><td>{r.wins}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function MatchesTable({ matches, playerId }: { matches: MatchSummary[] | null; playerId: string }) {
  if (matches === null) return <p className="muted">Match history is unavailable right now.</p>;
  if (matches.length === 0) return <p className="muted">No matches played yet.</p>;
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">Recent matches</caption>
        <thead><tr><th scope="col">Ended</th><th scope="col">Mode</th><th scope="col">Result</th><th scope="col">Score</th><th scope="col">Replay</th></tr></thead>
        <tbody>
          {matches.map((m) => {
            const me = m.players?.find((p) => p.player_id === playerId);
            return (
              <tr key={m.match_id} data-testid="match-row">
                <td>{m.ended_at_ms ? new Date(m.ended_at_ms).toLocaleString() : "—"}</td>
                <td>{m.mode}</td>
                <td>{me?.won ? <span className="auth-win">Won</span> : me ? <span className="auth-loss">Lost</span> : "—"}</td>
                <td>{me?.score ?? "—"}</td>
                <td>{m.replay?.status === "available" ? <Link to={`/replays/${encodeURIComponent(m.match_id)}`}>Watch replay</Link> : <span className="muted">none</span>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
