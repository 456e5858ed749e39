import { Link, useLocation } from "react-router-dom";

/** Shown by pages that need a signed-in player; signing in comes back here. */
export function SignInFirst({ title, what }: { title: string; what: string }) {
  const location = useLocation();
  return (
    <main id="main">
      <h1>{title}</h1>
      <p>Sign in to {what}.</p>
      <p className="row">
        <Link className="button" to="/login" state={{ from: location.pathname }}>Sign in</Link>
        <Link className="button button-secondary" to="/register" state={{ from: location.pathname }}>Register</Link>
      </p>
    </main>
  );
}
