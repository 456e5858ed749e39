import { Link } from "react-router-dom";
import { useAppSelector } from "../../store";

/** Stands in for the game page (pages/arena/game/) until it lands: shows the match handed over. */
export function GamePage() {
  const assignment = useAppSelector((s) => s.arena.assignment);
  return (
    <main id="main">
      <h1>Play</h1>
      {assignment ? (
        <p role="status">
          Match {assignment.matchId} ({assignment.mode}) on {assignment.serverId}.
        </p>
      ) : (
        <p>
          No match yet: <Link to="/arena">find one in the lobby</Link>.
        </p>
      )}
    </main>
  );
}
