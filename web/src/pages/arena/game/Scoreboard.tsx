import type { PlayerView } from "@elysium/sdk";

/** Players by score (then fewer deaths, then seat), as the match's result orders them. */
export function ranked(players: PlayerView[]): PlayerView[] {
  return [...players].sort((a, b) => b.score - a.score || a.deaths - b.deaths || a.seat - b.seat);
}

export function Scoreboard({ players, teams }: { players: PlayerView[]; teams: boolean }) {
  return (
    <table className="game-table" data-testid="scoreboard">
      <caption>Scoreboard</caption>
      <thead>
        <tr>
          <th scope="col">Player</th>
          {teams && <th scope="col">Team</th>}
          <th scope="col">Score</th>
          <th scope="col">Kills</th>
          <th scope="col">Deaths</th>
          <th scope="col">Health</th>
        </tr>
      </thead>
      <tbody>
        {ranked(players).map((p) => (
          <tr key={p.seat} data-testid="score-row" className={p.self ? "game-self" : undefined}>
            <th scope="row">
              {p.name}
              {p.self ? " (you)" : ""}
              {!p.connected ? " (disconnected)" : ""}
            </th>
            {teams && <td>{p.team + 1}</td>}
            <td>{p.score}</td>
            <td>{p.kills}</td>
            <td>{p.deaths}</td>
            <td>{p.alive ? p.hp : "down"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
