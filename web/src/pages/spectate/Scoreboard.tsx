import type { SpectatorClient } from "@elysium/sdk";
import { useAppDispatch, useAppSelector } from "../../store";
import { followChosen } from "../../features/spectate/spectateSlice";

/** The players and their scores, best first, and the picker of the player the camera follows. */
export function Scoreboard({ client }: { client: SpectatorClient | null }) {
  const dispatch = useAppDispatch();
  const watch = useAppSelector((s) => s.spectate.watch);
  const rows = watch?.scoreboard ?? [];
  const follow = watch?.followSeat ?? null;
  const teams = rows.some((r) => r.team > 0);
  const choose = (seat: number | null) => {
    client?.setFollow(seat);
    dispatch(followChosen(seat));
  };
  return (
    <aside className="spectate-board" aria-labelledby="spectate-board-title">
      <h2 id="spectate-board-title">Scoreboard</h2>
      <div className="spectate-controls">
        <label>
          Follow
          <select value={follow === null ? "" : String(follow)} onChange={(e) => choose(e.target.value === "" ? null : Number(e.target.value))}>
            <option value="">Whole arena</option>
            {rows.map((r) => (
              <option key={r.seat} value={String(r.seat)}>
                {r.name || r.id}
              </option>
            ))}
          </select>
        </label>
      </div>
      {rows.length ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Player</th>
              {teams && <th scope="col">Team</th>}
              <th scope="col">Score</th>
              <th scope="col">K</th>
              <th scope="col">D</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.seat} data-testid="scoreboard-row" className={r.seat === follow ? "spectate-followed" : undefined}>
                <th scope="row">
                  {r.name || r.id}
                  {r.connected ? "" : " (away)"}
                </th>
                {teams && <td>{r.team + 1}</td>}
                <td>{r.score}</td>
                <td>{r.kills}</td>
                <td>{r.deaths}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p>No players yet.</p>
      )}
    </aside>
  );
}
