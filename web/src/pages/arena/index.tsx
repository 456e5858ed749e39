export function ArenaLobby() { return <main id="main"><h1>ArenaLobby</h1><p>Coming soon.</p></main>; }
export function GamePage() { return <main id="main"><h1>GamePage</h1><p>Coming soon.</p></main>; }
