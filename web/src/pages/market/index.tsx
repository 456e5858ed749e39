export function MarketPage() { return <main id="main"><h1>MarketPage</h1><p>Coming soon.</p></main>; }
export function ListingPage() { return <main id="main"><h1>ListingPage</h1><p>Coming soon.</p></main>; }
export function InventoryPage() { return <main id="main"><h1>InventoryPage</h1><p>Coming soon.</p></main>; }
export function TradesPage() { return <main id="main"><h1>TradesPage</h1><p>Coming soon.</p></main>; }
export function TradeNewPage() { return <main id="main"><h1>TradeNewPage</h1><p>Coming soon.</p></main>; }
export function WalletPage() { return <main id="main"><h1>WalletPage</h1><p>Coming soon.</p></main>; }
