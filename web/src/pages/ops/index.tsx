export function OpsConsole() { return <main id="main"><h1>OpsConsole</h1><p>Coming soon.</p></main>; }
