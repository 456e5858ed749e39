import { Link } from "react-router-dom";

export function GamePage() {
  return (
    <main id="main">
      <h1>Arena match</h1>
      <p>
        No match — <Link to="/arena">go to the lobby</Link>.
      </p>
    </main>
  );
}
