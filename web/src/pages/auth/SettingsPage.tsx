import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { api } from "../../api";
import { ErrorAlert, fieldErrors } from "../../components/ErrorAlert";
import { profileLoaded, type Profile, type TokenPair } from "../../features/session/sessionSlice";
import { useSession } from "../../features/session/useSession";
import { useAppDispatch } from "../../store";
import { SignInFirst } from "../../components/SignInFirst";
import { Field } from "./forms";
import "./auth.css";

/** Changing the password revokes every login of the account, this one too: sign in again with the new one. */
function ChangePassword({ username }: { username: string }) {
  const { signIn } = useSession();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [confirm, setConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const fields = fieldErrors(error);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setDone("");
    if (next !== confirm) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    setBusy(true);
    setError(null);
    try {
      await api.request("commerce", "/v1/me/password", { body: { current_password: current, new_password: next } });
      const pair = await api.request<TokenPair>("commerce", "/v1/sessions", { body: { username, password: next }, token: null });
      await signIn(pair);
      setCurrent("");
      setNext("");
      setConfirm("");
      setDone("Password changed. Your other devices are signed out.");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} className="card" aria-labelledby="settings-password-title">
      <h2 id="settings-password-title">Change password</h2>
      <ErrorAlert error={error} service="commerce" />
      <p role="status" className="status-message">{done}</p>
      <Field id="settings-current-password" label="Current password" type="password" autoComplete="current-password"
             required value={current} onChange={(e) => setCurrent(e.target.value)} />
      <Field id="settings-new-password" label="New password" type="password" autoComplete="new-password" required
             hint="At least 8 characters" error={fields.new_password} value={next} onChange={(e) => setNext(e.target.value)} />
      <Field id="settings-confirm-password" label="Repeat the new password" type="password" autoComplete="new-password"
             required value={confirm} error={mismatch ? "The two passwords differ" : undefined}
             onChange={(e) => setConfirm(e.target.value)} />
      <button type="submit" disabled={busy}>{busy ? "Changing…" : "Change password"}</button>
    </form>
  );
}

/** A guest account gets a username and password (`POST /v1/me/credentials`), keeping everything it owns. */
function AddCredentials() {
  const dispatch = useAppDispatch();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const fields = fieldErrors(error);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      dispatch(profileLoaded(await api.request<Profile>("commerce", "/v1/me/credentials", { body: { username, password } })));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} className="card" aria-labelledby="settings-credentials-title">
      <h2 id="settings-credentials-title">Add a username and password</h2>
      <p className="muted">Your guest account keeps its wallet, items and history.</p>
      <ErrorAlert error={error} service="commerce" />
      <Field id="settings-username" label="Username" autoComplete="username" required value={username}
             error={fields.username} onChange={(e) => setUsername(e.target.value)} />
      <Field id="settings-password" label="Password" type="password" autoComplete="new-password" required
             hint="At least 8 characters" error={fields.password} value={password} onChange={(e) => setPassword(e.target.value)} />
      <button type="submit" disabled={busy}>Save login</button>
    </form>
  );
}

export function SettingsPage() {
  const { signedIn, profile } = useSession();
  if (!signedIn) return <SignInFirst title="Settings" what="change your settings" />;
  return (
    <main id="main">
      <h1>Settings</h1>
      {!profile ? (
        <p role="status">Loading…</p>
      ) : (
        <div className="auth-columns">
          {profile.guest || !profile.username ? <AddCredentials /> : <ChangePassword username={profile.username} />}
          <section className="card" aria-labelledby="settings-more-title">
            <h2 id="settings-more-title">More settings</h2>
            <ul>
              <li><Link to="/profile">Display name, avatar and region</Link></li>
              <li><Link to="/butler/settings">The butler's persona, tone and budget</Link></li>
              <li><Link to="/wallet">Wallet and payments</Link></li>
            </ul>
            <p className="muted">Your friends see whether you are online, queueing, playing or watching.
              Block a player from their profile page to hide from them.</p>
          </section>
        </div>
      )}
    </main>
  );
}
