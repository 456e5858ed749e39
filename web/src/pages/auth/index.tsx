export function LoginPage() { return <main id="main"><h1>LoginPage</h1><p>Coming soon.</p></main>; }
export function RegisterPage() { return <main id="main"><h1>RegisterPage</h1><p>Coming soon.</p></main>; }
export function ProfilePage() { return <main id="main"><h1>ProfilePage</h1><p>Coming soon.</p></main>; }
export function SettingsPage() { return <main id="main"><h1>SettingsPage</h1><p>Coming soon.</p></main>; }
export function PlayerPage() { return <main id="main"><h1>PlayerPage</h1><p>Coming soon.</p></main>; }
