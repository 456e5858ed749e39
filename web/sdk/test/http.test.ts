import { describe, expect, it } from "vitest";
import { ApiError, apiUrl } from "../src";

describe("ApiError.code", () => {
  it("is the body's code when it has one", () => {
    expect(new ApiError({ type: "urn:elysium:problem:insufficient-funds", title: "t", status: 409, code: "insufficient-funds" }).code)
      .toBe("insufficient-funds");
  });
  it("is the last segment of a URN or URL type otherwise", () => {
    expect(new ApiError({ type: "urn:elysium:problem:listing-sold", title: "t", status: 409 }).code).toBe("listing-sold");
    expect(new ApiError({ type: "https://example.com/problems/rate-limited", title: "t", status: 429 }).code).toBe("rate-limited");
  });
});

describe("apiUrl", () => {
  it("puts each service under /api and leaves out empty query values", () => {
    expect(apiUrl("", "commerce", "/v1/listings", { sort: "price", after: "", currency: null, first: 20 }))
      .toBe("/api/commerce/v1/listings?sort=price&first=20");
    expect(apiUrl("", "gateway", "/graphql")).toBe("/graphql");
  });
});
