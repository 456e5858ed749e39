import { useRef, useState } from "react";
import { useAppDispatch, useAppSelector } from "../../store";
import { browseFailed, browseLoading, gamesListed, knownRegions, type GameView } from "../../features/arena/arenaSlice";
import { errorText, hostGame, joinGame, listGames } from "../../features/arena/lobbyApi";
import { openGameOf, seatIn } from "../../features/arena/seat";
import { modeHint } from "../../features/arena/modes";
import { RegionField } from "./RegionField";
import { GameRoom } from "./GameRoom";

/** Hosting, browsing and joining custom games; the game the caller sits in is `GameRoom`. */
export function CustomGames() {
  const dispatch = useAppDispatch();
  const { queues, game, gameNotice, browse, browseNext, browseStatus } = useAppSelector((s) => s.arena);
  const signedIn = useAppSelector((s) => !!s.session.accessToken);
  const regions = knownRegions(queues);
  const modes = queues.map((q) => q.mode);

  const [mode, setMode] = useState("");
  const [region, setRegion] = useState<string | null>(null);
  const [seats, setSeats] = useState<number | "">("");
  const [ranked, setRanked] = useState(false);
  const [isPublic, setIsPublic] = useState(true);
  const [password, setPassword] = useState("");
  const [joinCode, setJoinCode] = useState("");
  const [joinPassword, setJoinPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const joinPasswordRef = useRef<HTMLInputElement>(null);

  const chosenMode = mode || modes[0] || "";
  const chosenRegion = region ?? regions[0];
  const hint = modeHint(chosenMode);
  const chosenSeats = seats === "" ? hint.maxPlayers : seats;

  const seated = (view: GameView) => seatIn(dispatch, view);

  const act = async (what: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await what();
    } catch (exc) {
      // Already seated (e.g. after a reload): open that game rather than refuse.
      if (!(await openGameOf(dispatch, exc))) setError(errorText(exc));
    } finally {
      setBusy(false);
    }
  };

  const browseGames = (append: boolean) =>
    act(async () => {
      dispatch(browseLoading());
      try {
        const page = await listGames(chosenMode, chosenRegion, append ? browseNext : null);
        dispatch(gamesListed({ ...page, append }));
      } catch (exc) {
        dispatch(browseFailed());
        throw exc;
      }
    });

  if (game) return <GameRoom />;

  return (
    <section className="arena-panel arena-custom" aria-labelledby="arena-custom-title">
      <h2 id="arena-custom-title">Custom games</h2>
      {gameNotice && <p role="status">{gameNotice}</p>}
      {error && <p role="alert">{error}</p>}

      <form
        className="arena-form"
        aria-labelledby="arena-host-title"
        onSubmit={(e) => {
          e.preventDefault();
          void act(async () =>
            seated(
              await hostGame({ mode: chosenMode, region: chosenRegion, seats: chosenSeats, public: isPublic, ranked, password: password || null }),
            ),
          );
        }}
      >
        <h3 id="arena-host-title">Host a game</h3>
        <label>
          Mode
          <select value={chosenMode} onChange={(e) => { setMode(e.target.value); setSeats(""); }}>
            {modes.map((m) => (
              <option key={m} value={m}>
                {modeHint(m).label}
              </option>
            ))}
          </select>
        </label>
        <RegionField value={chosenRegion} regions={regions} onChange={setRegion} />
        <label>
          Players
          <input
            type="number"
            min={hint.minPlayers}
            max={hint.maxPlayers}
            value={chosenSeats}
            onChange={(e) => setSeats(e.target.value === "" ? "" : Number(e.target.value))}
            required
          />
        </label>
        <label className="arena-check">
          <input type="checkbox" checked={ranked} onChange={(e) => setRanked(e.target.checked)} />
          Ranked (counts for ratings; standard rules only)
        </label>
        <label className="arena-check">
          <input type="checkbox" checked={isPublic} onChange={(e) => setIsPublic(e.target.checked)} />
          List it in the lobby (otherwise only the code finds it)
        </label>
        <label>
          Password (optional)
          <input type="password" value={password} maxLength={64} autoComplete="new-password" onChange={(e) => setPassword(e.target.value)} />
        </label>
        <button type="submit" disabled={busy || !signedIn || !chosenMode}>
          Host game
        </button>
      </form>

      <form
        className="arena-form"
        aria-labelledby="arena-join-title"
        onSubmit={(e) => {
          e.preventDefault();
          void act(async () => seated(await joinGame(joinCode, joinPassword)));
        }}
      >
        <h3 id="arena-join-title">Join by code</h3>
        <label>
          Game code
          <input value={joinCode} onChange={(e) => setJoinCode(e.target.value.toUpperCase())} maxLength={6} autoComplete="off" required />
        </label>
        <label>
          Game password
          <input ref={joinPasswordRef} type="password" value={joinPassword} maxLength={64} autoComplete="off" onChange={(e) => setJoinPassword(e.target.value)} />
        </label>
        <button type="submit" disabled={busy || !signedIn || joinCode.trim().length !== 6}>
          Join game
        </button>
      </form>

      <div className="arena-browse">
        <h3>Open games ({chosenMode || "any mode"}, {chosenRegion})</h3>
        <button type="button" onClick={() => void browseGames(false)} disabled={busy || !signedIn || !chosenMode}>
          Find games
        </button>
        {browseStatus === "ready" && browse.length === 0 && <p role="status">No open games in this mode and region right now.</p>}
        <ul className="arena-list">
          {browse.map((g) => (
            <li key={g.code} data-testid="game-row" className="arena-game-row">
              <span>
                <strong className="arena-code">{g.code}</strong> {g.mode} · {g.players}/{g.seats} players · host {g.host_name}
                {g.ranked ? " · ranked" : ""}
                {g.password ? " · password" : ""}
              </span>
              <button
                type="button"
                aria-label={`Join game ${g.code}`}
                disabled={busy}
                onClick={() => {
                  if (g.password) {
                    setJoinCode(g.code);
                    joinPasswordRef.current?.focus();
                  } else {
                    void act(async () => seated(await joinGame(g.code, "")));
                  }
                }}
              >
                Join
              </button>
            </li>
          ))}
        </ul>
        {browseNext && (
          <button type="button" onClick={() => void browseGames(true)} disabled={busy}>
            More games
          </button>
        )}
      </div>
    </section>
  );
}
