// The 401 guard: a request or GraphQL read that met an expired token gets one refresh and one retry.
import { ApiError } from "@elysium/sdk";
import type { Api } from "@elysium/sdk";

type RequestFn = (service: Parameters<Api["request"]>[0], path: string, opts?: Parameters<Api["request"]>[2]) => Promise<unknown>;
type GraphqlFn = (query: string, variables?: Record<string, unknown>, signal?: AbortSignal) => Promise<unknown>;

/** A 401, or a GraphQL answer whose errors say an upstream answered 401 (the token expired). */
export function isUnauthorized(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false;
  if (err.status === 401) return true;
  const errors = err.problem.errors;
  return err.code === "graphql" && Array.isArray(errors)
    && errors.some((e) => (e as { extensions?: { status?: unknown } })?.extensions?.status === 401);
}

/**
 * Wraps a client's `request` (and `graphql`, when it has one) so that a 401 to a call sent with
 * the session's token gets one refresh and one retry; `refresh` answers whether a fresh token is
 * there (it signs the player out when the refresh is refused). Requests naming their own token
 * (the operator console's) and the session routes themselves pass through untouched. Returns a
 * function that undoes the wrap.
 */
export function guardRequests(client: { request: RequestFn; graphql?: GraphqlFn; token: string | null },
                              refresh: () => Promise<boolean>): () => void {
  const retried = async <T,>(sent: string | null, err: unknown, again: () => Promise<T>): Promise<T> => {
    if (!isUnauthorized(err) || sent === null) throw err;
    // Another call may have refreshed already; then the retry needs no refresh of its own.
    const fresh = client.token !== sent || (await refresh());
    if (!fresh || client.token === null) throw err;
    return again();
  };
  const request = client.request;
  const guarded: RequestFn = async (service, path, opts = {}) => {
    const sent = client.token;
    const call = () => request.call(client, service, path, opts);
    try {
      return await call();
    } catch (err) {
      if (opts.token !== undefined || (service === "commerce" && path.startsWith("/v1/sessions"))) throw err;
      return retried(sent, err, call);
    }
  };
  client.request = guarded;
  const graphql = client.graphql;
  const guardedGraphql: GraphqlFn | undefined = graphql && (async (query, variables, signal) => {
    const sent = client.token;
    const call = () => graphql.call(client, query, variables, signal);
    try {
      return await call();
    } catch (err) {
      return retried(sent, err, call);
    }
  });
  if (guardedGraphql) client.graphql = guardedGraphql;
  return () => {
    if (client.request === guarded) client.request = request;
    if (guardedGraphql && client.graphql === guardedGraphql) client.graphql = graphql;
  };
}
