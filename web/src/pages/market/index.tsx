export { MarketPage } from "./MarketPage";
export { ListingPage } from "./ListingPage";
export function InventoryPage() { return <main id="main"><h1>Inventory</h1><p>Coming soon.</p></main>; }
export function TradesPage() { return <main id="main"><h1>Trades</h1><p>Coming soon.</p></main>; }
export function TradeNewPage() { return <main id="main"><h1>New trade</h1><p>Coming soon.</p></main>; }
export function WalletPage() { return <main id="main"><h1>Wallet</h1><p>Coming soon.</p></main>; }
