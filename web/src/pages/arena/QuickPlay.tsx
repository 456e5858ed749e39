import { useEffect, useState } from "react";
import { useAppDispatch, useAppSelector } from "../../store";
import { isFinal, knownRegions, ticketUpdated } from "../../features/arena/arenaSlice";
import { cancelTicket, createTicket, errorText, NOMINAL_LATENCY_MS, nominalRegions } from "../../features/arena/lobbyApi";
import { modeHint } from "../../features/arena/modes";
import { RegionField } from "./RegionField";
import { openGameOf } from "../../features/arena/seat";
import { seconds, ticketStatusText } from "../../features/arena/text";

/** Ticks once a second while `on`, so waiting times count up. */
export function useNow(on: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!on) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [on]);
  return now;
}

export function QuickPlay() {
  const dispatch = useAppDispatch();
  const { queues, queuesStatus, queuesError, ticket, party } = useAppSelector((s) => s.arena);
  const me = useAppSelector((s) => s.session.accountId);
  const signedIn = useAppSelector((s) => !!s.session.accessToken);
  const regions = knownRegions(queues);
  const [mode, setMode] = useState("");
  const [region, setRegion] = useState<string | null>(null);
  const [fallback, setFallback] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const chosenMode = mode || queues[0]?.mode || "";
  const chosenRegion = region ?? regions[0];
  const queued = !!ticket && !isFinal(ticket) && !ticket.game;
  const now = useNow(queued);
  const asParty = !!party && party.leader === me;
  const partyMember = !!party && party.leader !== me;

  const play = async () => {
    setBusy(true);
    setError(null);
    try {
      const t = await createTicket({
        mode: chosenMode,
        regions: nominalRegions([chosenRegion]),
        party: asParty ? party!.code : null,
        accept_fallback: fallback,
      });
      dispatch(ticketUpdated(t));
    } catch (exc) {
      if (!(await openGameOf(dispatch, exc))) setError(errorText(exc));
    } finally {
      setBusy(false);
    }
  };

  const cancel = async () => {
    if (!ticket) return;
    setBusy(true);
    setError(null);
    try {
      dispatch(ticketUpdated(await cancelTicket(ticket.id)));
    } catch (exc) {
      setError(errorText(exc));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="arena-panel arena-quickplay" aria-labelledby="arena-quickplay-title">
      <h2 id="arena-quickplay-title">Quick play</h2>
      {queuesStatus === "error" && <p role="alert">{queuesError}</p>}
      <form
        className="arena-form"
        onSubmit={(e) => {
          e.preventDefault();
          void play();
        }}
      >
        <label>
          Mode
          <select value={chosenMode} onChange={(e) => setMode(e.target.value)} disabled={queued}>
            {queues.map((q) => (
              <option key={q.mode} value={q.mode}>
                {modeHint(q.mode).label}
              </option>
            ))}
          </select>
        </label>
        <RegionField value={chosenRegion} regions={regions} onChange={setRegion} disabled={queued} />
        <label className="arena-check">
          <input type="checkbox" checked={fallback} onChange={(e) => setFallback(e.target.checked)} disabled={queued} />
          Accept a farther server after a long wait
        </label>
        <p className="arena-hint">
          The region's latency is sent as a nominal {NOMINAL_LATENCY_MS} ms: it cannot be measured before a game server is
          chosen.
        </p>
        {partyMember && <p className="arena-hint">Your party's leader queues the party.</p>}
        {queued ? (
          <button type="button" onClick={() => void cancel()} disabled={busy}>
            Cancel search
          </button>
        ) : (
          <button type="submit" disabled={busy || !signedIn || !chosenMode || partyMember}>
            {asParty ? "Play with party" : "Play"}
          </button>
        )}
      </form>
      {ticket && !ticket.game && (
        <p role="status" data-testid="ticket-status" className="arena-status">
          {ticketStatusText(ticket, now)}
        </p>
      )}
      {error && <p role="alert">{error}</p>}
      <table className="arena-table">
        <caption>Queues now</caption>
        <thead>
          <tr>
            <th scope="col">Mode</th>
            <th scope="col">Waiting</th>
            <th scope="col">Median wait</th>
            <th scope="col">90% within</th>
          </tr>
        </thead>
        <tbody>
          {queues.map((q) => (
            <tr key={q.mode} data-testid="queue-row">
              <th scope="row">{q.mode}</th>
              <td>{q.players_waiting}</td>
              <td>{seconds(q.wait_p50_s)}</td>
              <td>{seconds(q.wait_p90_s)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
