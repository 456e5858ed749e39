/**
 * `/arena/play`: the match the lobby handed over (`state.arena.assignment`), played on a
 * canvas. Without an assignment it points back to the lobby.
 */
import { useEffect, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { useAppDispatch, useAppSelector } from "../../../store";
import { assignmentCleared } from "../../../features/arena/arenaSlice";
import { ChatPanel } from "./ChatPanel";
import { GameCanvas } from "./GameCanvas";
import { MatchResult, readBalances, type Balances } from "./MatchResult";
import { Scoreboard } from "./Scoreboard";
import { useGameClient, type GameSnapshot } from "./useGameClient";
import "./game.css";

function statusWords(s: GameSnapshot): string {
  switch (s.phase) {
    case "connecting":
      return "Connecting to the game server…";
    case "waiting":
      return `Waiting for players (${s.players.length} here)…`;
    case "running": {
      const left = s.timeLimitS !== null ? Math.max(0, Math.ceil(s.timeLimitS - s.tick / s.tickHz)) : null;
      const clock = left !== null ? ` · ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")} left` : "";
      const limit = s.scoreLimit !== null ? ` · first to ${s.scoreLimit}` : "";
      return `Match running${clock}${limit}`;
    }
    case "reconnecting":
      return "Connection lost; taking your seat back…";
    case "finished":
      return "Match over.";
    case "closed":
      return s.message ?? "Disconnected.";
    default:
      return "";
  }
}

export function GamePage() {
  const assignment = useAppSelector((s) => s.arena.assignment);
  const signedIn = useAppSelector((s) => !!s.session.accessToken);
  if (!assignment) {
    return (
      <main id="main" className="game-page">
        <h1>Arena match</h1>
        <p className="game-empty">
          No match — <Link to="/arena">go to the lobby</Link>
        </p>
      </main>
    );
  }
  return <Match key={assignment.matchId} signedIn={signedIn} />;
}

function Match({ signedIn }: { signedIn: boolean }) {
  const assignment = useAppSelector((s) => s.arena.assignment);
  const dispatch = useAppDispatch();
  const navigate = useNavigate();
  const { client, snap } = useGameClient(assignment);
  const [follow, setFollow] = useState(true);
  const [before, setBefore] = useState<Balances | null>(null);

  useEffect(() => {
    if (!signedIn) return;
    readBalances().then(setBefore, () => setBefore(null));
  }, [signedIn]);

  const over = snap.phase === "finished" || snap.phase === "closed" || snap.phase === "failed";
  const leave = () => {
    client?.leave();
    dispatch(assignmentCleared());
    navigate("/arena");
  };
  const back = () => {
    dispatch(assignmentCleared());
    navigate("/arena");
  };
  const teams = snap.players.some((p) => p.team > 0);

  return (
    <main id="main" className="game-page">
      <div className="game-head">
        <h1>Arena match</h1>
        <div className="game-actions">
          <label className="game-check">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
            Camera follows me
          </label>
          {over ? (
            <button type="button" onClick={back}>
              Back to the lobby
            </button>
          ) : (
            <button type="button" className="game-leave" onClick={leave}>
              Leave match
            </button>
          )}
        </div>
      </div>
      <p role="status" className="game-status" data-testid="game-status">
        {statusWords(snap)}
        {snap.rttMs !== null && snap.phase === "running" ? ` · ping ${Math.round(snap.rttMs)} ms` : ""}
      </p>
      {snap.phase === "failed" && <p role="alert">{snap.message}</p>}
      <div className="game-layout">
        <div className="game-stage">{client && <GameCanvas client={client} follow={follow} />}</div>
        <aside className="game-side">
          {snap.result && <MatchResult result={snap.result} selfSeat={snap.selfSeat} before={before} />}
          <Scoreboard players={snap.players} teams={teams} />
          {client && <ChatPanel client={client} lines={snap.chat} error={snap.chatError} disabled={snap.phase !== "running" && snap.phase !== "waiting"} />}
          <p className="game-help">Move with W A S D or the arrow keys, aim with the mouse, fire with space or a click.</p>
        </aside>
      </div>
    </main>
  );
}
