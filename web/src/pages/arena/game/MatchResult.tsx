/**
 * The match's end: the result rows the server sent, and the rewards commerce paid, read as
 * the change of the player's wallet (`GET /v1/me/wallet` before the match and again after
 * the end, polled a while because rewards are paid once the result reaches commerce).
 */
import { useEffect, useState } from "react";
import { ApiError, type MatchEnd } from "@elysium/sdk";
import { api } from "../../../api";

export interface Balances {
  soft: number;
  premium: number;
}

export async function readBalances(): Promise<Balances> {
  const w = await api.request<{ balances: Partial<Balances> }>("commerce", "/v1/me/wallet");
  return { soft: w.balances.soft ?? 0, premium: w.balances.premium ?? 0 };
}

const REASONS: Record<string, string> = {
  score: "the score limit was reached",
  time: "time ran out",
  shutdown: "the server shut down",
  abandoned: "every player left",
  error: "the game failed",
};

export function rewardWords(before: Balances, after: Balances): string {
  const parts: string[] = [];
  const soft = after.soft - before.soft;
  const premium = after.premium - before.premium;
  if (soft) parts.push(`${soft > 0 ? "+" : ""}${soft} coins`);
  if (premium) parts.push(`${premium > 0 ? "+" : ""}${premium} gems`);
  return parts.length ? `Rewards: ${parts.join(", ")}.` : "No rewards for this match.";
}

export function MatchResult({ result, selfSeat, before }: { result: MatchEnd; selfSeat: number | null; before: Balances | null }) {
  const [rewards, setRewards] = useState<string>(before ? "Waiting for the rewards…" : "");
  useEffect(() => {
    if (!before) return;
    let stopped = false;
    let tries = 0;
    const poll = async () => {
      tries += 1;
      try {
        const after = await readBalances();
        if (stopped) return;
        if (after.soft !== before.soft || after.premium !== before.premium || tries >= 10) {
          setRewards(rewardWords(before, after));
          return;
        }
      } catch (exc) {
        if (stopped) return;
        if (exc instanceof ApiError && exc.status === 0) {
          setRewards("The store is unreachable; your wallet shows the rewards once it is back.");
          return;
        }
      }
      if (!stopped) timer = setTimeout(poll, 2000);
    };
    let timer = setTimeout(poll, 1000);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [before]);

  const mine = result.results.find((r) => r.seat === selfSeat);
  const place = mine ? result.results.indexOf(mine) + 1 : null;
  return (
    <section className="game-result" aria-labelledby="game-result-title" data-testid="match-result">
      <h2 id="game-result-title">Match over</h2>
      <p>
        The match ended because {REASONS[result.reason] ?? result.reason}.
        {place !== null && ` You placed ${place} of ${result.results.length}.`}
      </p>
      <table className="game-table">
        <caption>Result</caption>
        <thead>
          <tr>
            <th scope="col">Place</th>
            <th scope="col">Player</th>
            <th scope="col">Score</th>
            <th scope="col">Kills</th>
            <th scope="col">Deaths</th>
            <th scope="col">Time played</th>
          </tr>
        </thead>
        <tbody>
          {result.results.map((r, i) => (
            <tr key={r.seat} className={r.seat === selfSeat ? "game-self" : undefined}>
              <td>{i + 1}</td>
              <th scope="row">{r.name}</th>
              <td>{r.score}</td>
              <td>{r.kills ?? ""}</td>
              <td>{r.deaths ?? ""}</td>
              <td>{Math.round(r.time_played_s)} s</td>
            </tr>
          ))}
        </tbody>
      </table>
      {rewards && <p role="status" data-testid="rewards">{rewards}</p>}
    </section>
  );
}
