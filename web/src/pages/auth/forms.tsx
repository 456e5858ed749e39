import { useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { api } from "../../api";
import { ErrorAlert, fieldErrors } from "../../components/ErrorAlert";
import { playAsGuest, type Profile, type TokenPair } from "../../features/session/sessionSlice";
import { useAppDispatch } from "../../store";
import { useSession } from "../../features/session/useSession";
import "./auth.css";

/** Where to go after signing in: the page that sent the player here, if it is one of ours. */
function useReturnTo(): string {
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from;
  return typeof from === "string" && from.startsWith("/") && !from.startsWith("//") ? from : "/";
}

export function Field({ id, label, error, hint, ...input }: { id: string; label: string; error?: string; hint?: string } &
  React.InputHTMLAttributes<HTMLInputElement>) {
  const describedBy = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {hint && <span id={`${id}-hint`} className="field-hint">{hint}</span>}
      <input id={id} name={id} aria-invalid={error ? true : undefined} aria-describedby={describedBy} {...input} />
      {error && <span id={`${id}-error`} className="field-error">{error}</span>}
    </div>
  );
}

export function LoginPage() {
  const { signIn } = useSession();
  const dispatch = useAppDispatch();
  const navigate = useNavigate();
  const returnTo = useReturnTo();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function guest() {
    setBusy(true);
    setError(null);
    try {
      await dispatch(playAsGuest());
      navigate(returnTo, { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const pair = await api.request<TokenPair>("commerce", "/v1/sessions", { body: { username, password }, token: null });
      await signIn(pair);
      navigate(returnTo, { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <main id="main" className="auth-page">
      <h1>Sign in</h1>
      <form onSubmit={submit} className="card auth-card" aria-busy={busy}>
        <ErrorAlert error={error} service="commerce" />
        <Field id="login-username" label="Username" autoComplete="username" required value={username}
               onChange={(e) => setUsername(e.target.value)} maxLength={64} />
        <Field id="login-password" label="Password" type="password" autoComplete="current-password" required
               value={password} onChange={(e) => setPassword(e.target.value)} maxLength={256} />
        <button type="submit" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
        <p className="muted">No account yet? <Link to="/register">Register</Link></p>
      </form>
      <section className="card auth-card auth-guest" aria-labelledby="login-guest-title">
        <h2 id="login-guest-title">Just want to play?</h2>
        <p className="muted">Play as a guest on this browser; add a username and password later in Settings and keep everything.</p>
        <button type="button" className="button-secondary" disabled={busy} onClick={guest}>Play as a guest</button>
      </section>
    </main>
  );
}

export function RegisterPage() {
  const { signIn } = useSession();
  const navigate = useNavigate();
  const returnTo = useReturnTo();
  const [username, setUsername] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [mismatch, setMismatch] = useState(false);
  const fields = fieldErrors(error);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (password !== confirm) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, string> = { username, password };
      if (displayName.trim()) body.display_name = displayName.trim();
      const answer = await api.request<TokenPair & { profile: Profile }>("commerce", "/v1/accounts", { body, token: null });
      await signIn(answer);
      navigate(returnTo === "/" ? "/profile" : returnTo, { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <main id="main" className="auth-page">
      <h1>Create an account</h1>
      <form onSubmit={submit} className="card auth-card" aria-busy={busy}>
        <ErrorAlert error={error} service="commerce" />
        <Field id="register-username" label="Username" autoComplete="username" required value={username}
               hint="3 to 32 letters, digits, dots, dashes or underscores" error={fields.username}
               onChange={(e) => setUsername(e.target.value)} minLength={3} maxLength={32} />
        <Field id="register-display-name" label="Display name (optional)" autoComplete="nickname" value={displayName}
               hint="What other players see; up to 32 characters" error={fields.display_name}
               onChange={(e) => setDisplayName(e.target.value)} maxLength={32} />
        <Field id="register-password" label="Password" type="password" autoComplete="new-password" required
               hint="At least 8 characters" error={fields.password} value={password}
               onChange={(e) => setPassword(e.target.value)} />
        <Field id="register-confirm" label="Repeat the password" type="password" autoComplete="new-password" required
               value={confirm} error={mismatch ? "The two passwords differ" : undefined}
               onChange={(e) => setConfirm(e.target.value)} />
        <button type="submit" disabled={busy}>{busy ? "Creating…" : "Create account"}</button>
        <p className="muted">Already registered? <Link to="/login">Sign in</Link></p>
      </form>
    </main>
  );
}
