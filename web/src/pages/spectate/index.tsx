export function LiveMatches() { return <main id="main"><h1>LiveMatches</h1><p>Coming soon.</p></main>; }
export function WatchPage() { return <main id="main"><h1>WatchPage</h1><p>Coming soon.</p></main>; }
export function ReplayPage() { return <main id="main"><h1>ReplayPage</h1><p>Coming soon.</p></main>; }
