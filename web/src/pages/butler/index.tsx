export function ButlerPage() { return <main id="main"><h1>ButlerPage</h1><p>Coming soon.</p></main>; }
export function ButlerSettingsPage() { return <main id="main"><h1>ButlerSettingsPage</h1><p>Coming soon.</p></main>; }
