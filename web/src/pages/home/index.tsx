export function HomePage() { return <main id="main"><h1>HomePage</h1><p>Coming soon.</p></main>; }
