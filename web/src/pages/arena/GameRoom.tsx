import { useEffect, useState } from "react";
import { ApiError } from "@elysium/sdk";
import { useAppDispatch, useAppSelector } from "../../store";
import { gameLeft, gameUpdated, ticketUpdated } from "../../features/arena/arenaSlice";
import { errorText, getGame, getTicket, kickMember, leaveGame, setLocked, startGame } from "../../features/arena/lobbyApi";

const GAME_EVERY_MS = 2000;

const STATE_TEXT: Record<string, string> = {
  open: "open: waiting for players",
  locked: "locked: no one else may join",
  starting: "starting",
  started: "started",
  ended: "ended",
};

/**
 * The custom game the caller sits in: members, and the host's kick, lock and start. The
 * game is read every 2 s (members come and go); once it has started, the game's ticket is
 * read for the caller's join token, and the lobby hands the match to the game page.
 */
export function GameRoom() {
  const dispatch = useAppDispatch();
  const game = useAppSelector((s) => s.arena.game)!;
  const me = useAppSelector((s) => s.session.accountId);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const isHost = game.host === me;
  const code = game.code;
  const started = game.state === "started";
  const ticketId = game.ticket ?? null;

  useEffect(() => {
    let stop = false;
    const poll = async () => {
      try {
        const view = await getGame(code);
        if (stop) return;
        if (!view.ticket) {
          dispatch(gameLeft(`You are no longer in game ${code}: the host removed you`));
          return;
        }
        dispatch(gameUpdated(view));
      } catch (exc) {
        if (!stop && exc instanceof ApiError && exc.status === 404) dispatch(gameLeft(`Game ${code} has ended`));
      }
    };
    const timer = setInterval(poll, GAME_EVERY_MS);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [code, dispatch]);

  // Started: the game's ticket now carries this member's join token.
  useEffect(() => {
    if (!started || !ticketId) return;
    let stop = false;
    getTicket(ticketId)
      .then((t) => !stop && dispatch(ticketUpdated(t)))
      .catch((exc) => !stop && setError(errorText(exc)));
    return () => {
      stop = true;
    };
  }, [started, ticketId, dispatch]);

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

  const open = game.state === "open" || game.state === "locked";
  return (
    <section className="arena-panel arena-room" aria-labelledby="arena-room-title">
      <h2 id="arena-room-title">
        Custom game <span className="arena-code" data-testid="game-code">{code}</span>
      </h2>
      <p role="status" data-testid="game-state">
        {game.mode} in {game.region}, {game.ranked ? "ranked" : "unranked"}
        {game.password ? ", with a password" : ""}: {STATE_TEXT[game.state] ?? game.state} ({game.members.length}/{game.seats} players)
      </p>
      <ul className="arena-list" aria-label="Players in the game">
        {game.members.map((m) => (
          <li key={m.id} data-testid="member-row" className="arena-game-row">
            <span>
              {m.name || m.id}
              {m.id === game.host && " (host)"}
              {m.id === me && " (you)"}
            </span>
            {isHost && m.id !== me && open && (
              <button
                type="button"
                aria-label={`Kick ${m.name || m.id}`}
                disabled={busy}
                onClick={() =>
                  void act(async () => {
                    await kickMember(code, m.id);
                    dispatch(gameUpdated(await getGame(code)));
                    setNotice(`${m.name || m.id} was removed`);
                  })
                }
              >
                Kick
              </button>
            )}
          </li>
        ))}
      </ul>
      <div className="arena-actions">
        {isHost && open && (
          <>
            <button
              type="button"
              disabled={busy}
              onClick={() => void act(async () => void dispatch(gameUpdated(await setLocked(code, game.state !== "locked"))))}
            >
              {game.state === "locked" ? "Unlock" : "Lock"}
            </button>
            <button
              type="button"
              disabled={busy}
              onClick={() =>
                void act(async () => {
                  const view = await startGame(code);
                  dispatch(gameUpdated(view));
                  if (view.ticket) dispatch(ticketUpdated(await getTicket(view.ticket)));
                })
              }
            >
              Start game
            </button>
          </>
        )}
        {!started && (
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              void act(async () => {
                await leaveGame(code);
                dispatch(gameLeft(`You left game ${code}`));
              })
            }
          >
            Leave game
          </button>
        )}
      </div>
      {notice && <p role="status">{notice}</p>}
      {error && <p role="alert">{error}</p>}
    </section>
  );
}
