import { describe, expect, it } from "vitest";
import reducer, { signedIn, signedOut } from "../src/features/session/sessionSlice";

describe("session", () => {
  it("keeps the token pair and when it expires, and forgets it on sign-out", () => {
    let s = reducer(undefined, signedIn({ account_id: "a1", access_token: "t", refresh_token: "r".repeat(20), expires_in: 60, now: 1000 }));
    expect(s.accountId).toBe("a1");
    expect(s.expiresAt).toBe(61000);
    s = reducer(s, signedOut());
    expect(s.accessToken).toBeNull();
    expect(s.accountId).toBeNull();
  });
});
