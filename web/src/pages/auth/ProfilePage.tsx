import { useEffect, useState, type FormEvent } from "react";
import { api } from "../../api";
import { ErrorAlert, fieldErrors } from "../../components/ErrorAlert";
import { profileLoaded, type Profile } from "../../features/session/sessionSlice";
import { useSession } from "../../features/session/useSession";
import { useAppDispatch } from "../../store";
import { SignInFirst } from "../../components/SignInFirst";
import { Field } from "./forms";
import { MatchesTable, RatingsTable, type PublicProfile } from "./stats";
import "./auth.css";

function EditProfile({ profile }: { profile: Profile }) {
  const dispatch = useAppDispatch();
  const [displayName, setDisplayName] = useState(profile.display_name);
  const [avatarUrl, setAvatarUrl] = useState(profile.avatar_url ?? "");
  const [region, setRegion] = useState(profile.region ?? "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState("");
  const fields = fieldErrors(error);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved("");
    try {
      const changes: Record<string, string | null> = {};
      if (displayName !== profile.display_name) changes.display_name = displayName;
      if ((avatarUrl || null) !== profile.avatar_url) changes.avatar_url = avatarUrl.trim() || null;
      if ((region || null) !== profile.region) changes.region = region.trim() || null;
      if (Object.keys(changes).length === 0) {
        setSaved("Nothing to save.");
        return;
      }
      const next = await api.request<Profile>("commerce", "/v1/me", { method: "PATCH", body: changes });
      dispatch(profileLoaded(next));
      setSaved("Profile saved.");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} className="card" aria-labelledby="profile-edit-title">
      <h2 id="profile-edit-title">Edit your profile</h2>
      <ErrorAlert error={error} service="commerce" />
      <p role="status" className="status-message">{saved}</p>
      <Field id="profile-display-name" label="Display name" required maxLength={32} value={displayName}
             error={fields.display_name} onChange={(e) => setDisplayName(e.target.value)} />
      <Field id="profile-avatar" label="Avatar URL" type="url" placeholder="https://…" value={avatarUrl}
             hint="An https address of an image" error={fields.avatar_url} onChange={(e) => setAvatarUrl(e.target.value)} />
      <Field id="profile-region" label="Region" value={region} hint="For example eu or us-east" error={fields.region}
             onChange={(e) => setRegion(e.target.value)} />
      <button type="submit" disabled={busy}>{busy ? "Saving…" : "Save"}</button>
    </form>
  );
}

export function ProfilePage() {
  const { signedIn, profile, accountId, reloadProfile } = useSession();
  const [stats, setStats] = useState<PublicProfile | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    if (!signedIn || !accountId) return;
    reloadProfile().catch(setError);
    api.request<PublicProfile>("commerce", `/v1/players/${encodeURIComponent(accountId)}`).then(setStats, setError);
  }, [signedIn, accountId, reloadProfile]);

  if (!signedIn) return <SignInFirst title="Profile" what="see your profile" />;
  return (
    <main id="main">
      <h1>Your profile</h1>
      <ErrorAlert error={error} service="commerce" />
      {!profile ? (
        <p role="status">Loading your profile…</p>
      ) : (
        <div className="auth-columns">
          <section className="card" aria-labelledby="profile-account-title">
            <div className="auth-profile-head">
              {profile.avatar_url && <img className="auth-avatar" src={profile.avatar_url} alt="" />}
              <h2 id="profile-account-title">{profile.display_name}</h2>
            </div>
            <dl className="auth-facts">
              <dt>Login</dt>
              <dd>{profile.guest ? "Guest account (no password yet; add one in Settings)" : `Username ${profile.username}`}</dd>
              <dt>Wallet</dt>
              <dd>{profile.eth_address ? <code>{profile.eth_address}</code> : "No wallet linked"}</dd>
              <dt>Member since</dt>
              <dd>{new Date(profile.created_at).toLocaleDateString()}</dd>
              {profile.roles.length > 0 && (<><dt>Roles</dt><dd>{profile.roles.join(", ")}</dd></>)}
            </dl>
          </section>
          <EditProfile key={profile.account_id} profile={profile} />
        </div>
      )}
      <section aria-labelledby="profile-ratings-title">
        <h2 id="profile-ratings-title">Ratings</h2>
        {stats ? <RatingsTable ratings={stats.ratings} /> : <p className="muted">Loading…</p>}
      </section>
      <section aria-labelledby="profile-matches-title">
        <h2 id="profile-matches-title">Recent matches</h2>
        {stats && accountId ? <MatchesTable matches={stats.recent_matches} playerId={accountId} /> : <p className="muted">Loading…</p>}
      </section>
    </main>
  );
}
