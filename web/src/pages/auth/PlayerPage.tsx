import { useCallback, useEffect, useState } from "react";
import { useParams } from "react-router-dom";
import { api } from "../../api";
import { ErrorAlert } from "../../components/ErrorAlert";
import { refreshNavbar } from "../../components/Navbar";
import { useSession } from "../../features/session/useSession";
import { SignInFirst } from "../../components/SignInFirst";
import { MatchesTable, RatingsTable, type PublicProfile } from "./stats";
import "./auth.css";

interface Person { id: string; display_name: string }

/** Where the viewer stands with this player. */
export type Relation = "self" | "friends" | "asked" | "asked-you" | "none";

export function relationOf(me: string, them: string, friends: Person[], incoming: Person[], outgoing: Person[]): Relation {
  if (me === them) return "self";
  if (friends.some((f) => f.id === them)) return "friends";
  if (outgoing.some((f) => f.id === them)) return "asked";
  if (incoming.some((f) => f.id === them)) return "asked-you";
  return "none";
}

export function PlayerPage() {
  const { playerId = "" } = useParams();
  const { signedIn, accountId } = useSession();
  const [player, setPlayer] = useState<PublicProfile | null>(null);
  const [relation, setRelation] = useState<Relation | null>(null);
  const [blocked, setBlocked] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  const id = encodeURIComponent(playerId);

  const loadRelation = useCallback(async () => {
    if (!accountId) return;
    const [f, r, b] = await Promise.all([
      api.request<{ friends: Person[] }>("commerce", "/v1/me/friends"),
      api.request<{ incoming: Person[]; outgoing: Person[] }>("commerce", "/v1/me/friends/requests"),
      api.request<{ blocks: Person[] }>("commerce", "/v1/me/blocks"),
    ]);
    setRelation(relationOf(accountId, playerId, f.friends, r.incoming, r.outgoing));
    setBlocked(b.blocks.some((p) => p.id === playerId));
  }, [accountId, playerId]);

  useEffect(() => {
    if (!signedIn) return;
    setPlayer(null);
    setError(null);
    api.request<PublicProfile>("commerce", `/v1/players/${id}`).then(setPlayer, setError);
    loadRelation().catch(setError);
  }, [signedIn, id, loadRelation]);

  async function act(label: string, method: string, path: string, body?: unknown) {
    setBusy(true);
    setActionError(null);
    setStatus("");
    try {
      await api.request("commerce", path, { method, body });
      await loadRelation();
      setStatus(label);
      refreshNavbar();
    } catch (err) {
      setActionError(err);
    } finally {
      setBusy(false);
    }
  }

  if (!signedIn) return <SignInFirst title="Player" what="see players' profiles" />;
  if (error && !player) {
    return (
      <main id="main">
        <h1>Player</h1>
        <ErrorAlert error={error} service="commerce" />
      </main>
    );
  }
  if (!player) {
    return (
      <main id="main">
        <h1>Player</h1>
        <p role="status">Loading…</p>
      </main>
    );
  }
  return (
    <main id="main">
      <div className="auth-profile-head">
        {player.avatar_url && <img className="auth-avatar" src={player.avatar_url} alt="" />}
        <h1>{player.display_name}</h1>
      </div>
      <p className="muted">Playing since {new Date(player.created_at).toLocaleDateString()}</p>
      <p role="status" className="status-message">{status}</p>
      <ErrorAlert error={actionError} service="commerce" />
      {relation && relation !== "self" && (
        <div className="row" aria-label="Actions" role="group">
          {relation === "none" && !blocked && (
            <button type="button" disabled={busy} onClick={() => act("Friend request sent.", "POST", "/v1/me/friends/requests", { player_id: playerId })}>Add friend</button>
          )}
          {relation === "asked" && (
            <button type="button" className="button-secondary" disabled={busy} onClick={() => act("Friend request withdrawn.", "DELETE", `/v1/me/friends/requests/${id}`)}>Withdraw friend request</button>
          )}
          {relation === "asked-you" && (
            <>
              <button type="button" disabled={busy} onClick={() => act("You are now friends.", "POST", `/v1/me/friends/requests/${id}/accept`)}>Accept friend request</button>
              <button type="button" className="button-secondary" disabled={busy} onClick={() => act("Friend request declined.", "POST", `/v1/me/friends/requests/${id}/decline`)}>Decline</button>
            </>
          )}
          {relation === "friends" && (
            <>
              <span className="badge">Friends</span>
              <button type="button" className="button-secondary" disabled={busy} onClick={() => act("Friend removed.", "DELETE", `/v1/me/friends/${id}`)}>Remove friend</button>
            </>
          )}
          {blocked ? (
            <button type="button" className="button-secondary" disabled={busy} onClick={() => act("Player unblocked.", "DELETE", `/v1/me/blocks/${id}`)}>Unblock</button>
          ) : (
            <button type="button" className="button-danger" disabled={busy} onClick={() => act("Player blocked.", "POST", "/v1/me/blocks", { player_id: playerId })}>Block</button>
          )}
        </div>
      )}
      <section aria-labelledby="player-ratings-title">
        <h2 id="player-ratings-title">Ratings</h2>
        <RatingsTable ratings={player.ratings} />
      </section>
      <section aria-labelledby="player-matches-title">
        <h2 id="player-matches-title">Recent matches</h2>
        <MatchesTable matches={player.recent_matches} playerId={player.id} />
      </section>
    </main>
  );
}
