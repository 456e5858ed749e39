/** Linking a wallet with Sign-In with Ethereum (EIP-4361) through an injected provider (EIP-1193). */

export interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

export function injectedWallet(): Eip1193 | null {
  const eth = (globalThis as { ethereum?: unknown }).ethereum;
  return eth && typeof (eth as Eip1193).request === "function" ? (eth as Eip1193) : null;
}

export async function requestAccount(eth: Eip1193): Promise<string> {
  const accounts = (await eth.request({ method: "eth_requestAccounts" })) as unknown;
  if (!Array.isArray(accounts) || typeof accounts[0] !== "string") throw new Error("The wallet gave no account.");
  return accounts[0];
}

/** `personal_sign` (EIP-191) of the challenge's exact text: params are the hex message, then the address. */
export async function signMessage(eth: Eip1193, message: string, address: string): Promise<string> {
  const hex = "0x" + Array.from(new TextEncoder().encode(message), (b) => b.toString(16).padStart(2, "0")).join("");
  const signature = await eth.request({ method: "personal_sign", params: [hex, address] });
  if (typeof signature !== "string") throw new Error("The wallet gave no signature.");
  return signature;
}

/** A wallet's refusal (EIP-1193 code 4001) in plain words. */
export function walletErrorText(exc: unknown): string {
  const e = exc as { code?: number; message?: string };
  if (e && e.code === 4001) return "The wallet request was declined.";
  return e?.message || String(exc);
}
