export { MarketPage } from "./MarketPage";
export { ListingPage } from "./ListingPage";
export { InventoryPage } from "./InventoryPage";
export { TradesPage } from "./TradesPage";
export { TradeNewPage } from "./TradeNewPage";
export { WalletPage } from "./WalletPage";
