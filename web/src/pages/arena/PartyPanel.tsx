import { useEffect, useState } from "react";
import { ApiError } from "@elysium/sdk";
import { useAppDispatch, useAppSelector } from "../../store";
import { partyLeft, partyUpdated, ticketUpdated } from "../../features/arena/arenaSlice";
import { createParty, errorText, getParty, getTicket, joinParty, leaveParty } from "../../features/arena/lobbyApi";

const PARTY_EVERY_MS = 3000;

/**
 * A party queues together: the leader presses Play, and every member follows the party's
 * ticket (read from the party, then followed like one's own) to the same match.
 */
export function PartyPanel() {
  const dispatch = useAppDispatch();
  const party = useAppSelector((s) => s.arena.party);
  const ticket = useAppSelector((s) => s.arena.ticket);
  const me = useAppSelector((s) => s.session.accountId);
  const [code, setCode] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const partyCode = party?.code ?? null;
  const partyTicket = party?.ticket && party.ticket.status === "queued" ? party.ticket.id : null;
  const currentTicket = ticket?.id ?? null;

  useEffect(() => {
    if (!partyCode) return;
    let stop = false;
    const poll = async () => {
      try {
        const view = await getParty(partyCode);
        if (!stop) dispatch(partyUpdated(view));
      } catch (exc) {
        if (stop) return;
        if (exc instanceof ApiError && (exc.status === 404 || exc.status === 403)) {
          dispatch(partyLeft());
          setNotice("The party has ended or you are no longer in it");
        }
      }
    };
    const timer = setInterval(poll, PARTY_EVERY_MS);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [partyCode, dispatch]);

  // A member who did not queue picks the party's ticket up here; the lobby then follows it.
  useEffect(() => {
    if (!partyTicket || partyTicket === currentTicket) return;
    let stop = false;
    getTicket(partyTicket)
      .then((t) => !stop && dispatch(ticketUpdated(t)))
      .catch(() => undefined);
    return () => {
      stop = true;
    };
  }, [partyTicket, currentTicket, dispatch]);

  const act = async (what: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      await what();
    } catch (exc) {
      setError(errorText(exc));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="arena-panel arena-party" aria-labelledby="arena-party-title">
      <h2 id="arena-party-title">Party</h2>
      {party ? (
        <>
          <p>
            Party code <strong className="arena-code" data-testid="party-code">{party.code}</strong>: share it with friends.
          </p>
          <ul className="arena-list" aria-label="Party members">
            {party.members.map((m) => (
              <li key={m.id} data-testid="party-member">
                {m.name || m.id}
                {m.id === party.leader && " (leader)"}
                {m.id === me && " (you)"}
              </li>
            ))}
          </ul>
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              void act(async () => {
                const out = await leaveParty(party.code);
                dispatch(partyLeft());
                setNotice(out.disbanded ? "You left; the party is disbanded" : "You left the party");
              })
            }
          >
            Leave party
          </button>
        </>
      ) : (
        <>
          <button type="button" disabled={busy} onClick={() => void act(async () => void dispatch(partyUpdated(await createParty())))}>
            Create a party
          </button>
          <form
            className="arena-form arena-inline"
            onSubmit={(e) => {
              e.preventDefault();
              void act(async () => void dispatch(partyUpdated(await joinParty(code))));
            }}
          >
            <label>
              Party code
              <input value={code} onChange={(e) => setCode(e.target.value.toUpperCase())} maxLength={6} autoComplete="off" required />
            </label>
            <button type="submit" disabled={busy || code.trim().length !== 6}>
              Join party
            </button>
          </form>
        </>
      )}
      {notice && <p role="status">{notice}</p>}
      {error && <p role="alert">{error}</p>}
    </section>
  );
}
