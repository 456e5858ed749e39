/**
 * The HTTP side of the platform as a browser sees it: one origin, each service under
 * `/api/{service}` (commerce, matchmaker, spectator, butler), GraphQL at `/graphql`.
 * Errors are RFC 9457 problem documents; `ApiError` carries them.
 */

export type Service = "commerce" | "matchmaker" | "spectator" | "butler" | "gateway";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  [key: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(problem.detail || problem.title || `HTTP ${problem.status}`);
    this.name = "ApiError";
    this.status = problem.status;
    this.problem = problem;
  }
  /**
   * The problem's stable code, e.g. "insufficient-funds": the body's `code`, else the last
   * segment of its type (`urn:elysium:problem:insufficient-funds`, or a URL's last path segment).
   */
  get code(): string {
    if (typeof this.problem.code === "string" && this.problem.code) return this.problem.code;
    const t = this.problem.type || "";
    return t.slice(Math.max(t.lastIndexOf("/"), t.lastIndexOf(":")) + 1);
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  token?: string | null;
  idempotencyKey?: string;
  query?: Record<string, string | number | boolean | undefined | null>;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** A fresh Idempotency-Key for a request that moves money or items. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

export function apiUrl(base: string, service: Service, path: string, query?: RequestOptions["query"]): string {
  const prefix = service === "gateway" ? "" : `/api/${service}`;
  let url = `${base}${prefix}${path}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    const s = q.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  return url;
}

/** The problem document of a failed response (a plain one made up when the body is not JSON). */
export async function problemOf(resp: Response): Promise<Problem> {
  const text = await resp.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object") return { status: resp.status, title: resp.statusText, type: "about:blank", ...body };
  } catch {
    /* not JSON */
  }
  return { type: "about:blank", title: resp.statusText || "error", status: resp.status, detail: text.slice(0, 200) };
}

/** A client for the platform's HTTP APIs on one origin (`base` is "" in the browser). */
export class Api {
  base: string;
  token: string | null;
  constructor(base = "", token: string | null = null) {
    this.base = base;
    this.token = token;
  }

  /** The raw fetch behind `request` (headers, token, body, unreachable → ApiError status 0); the caller reads the body. */
  async fetch(service: Service, path: string, opts: RequestOptions = {}, accept = "application/json"): Promise<Response> {
    const headers: Record<string, string> = { Accept: accept, ...(opts.headers || {}) };
    const token = opts.token !== undefined ? opts.token : this.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    if (opts.idempotencyKey) headers["Idempotency-Key"] = opts.idempotencyKey;
    let body: BodyInit | undefined;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    try {
      return await fetch(apiUrl(this.base, service, path, opts.query), {
        method: opts.method || (body ? "POST" : "GET"),
        headers,
        body,
        signal: opts.signal,
      });
    } catch (exc) {
      if ((exc as Error).name === "AbortError") throw exc;
      throw new ApiError({ type: "unreachable", title: `${service} is unreachable`, status: 0, detail: String(exc) });
    }
  }

  async request<T = unknown>(service: Service, path: string, opts: RequestOptions = {}): Promise<T> {
    const resp = await this.fetch(service, path, opts);
    if (!resp.ok) throw new ApiError(await problemOf(resp));
    if (resp.status === 204) return undefined as T;
    const type = resp.headers.get("Content-Type") || "";
    return (type.includes("json") ? await resp.json() : await resp.text()) as T;
  }

  /** A GraphQL read at `/graphql`; GraphQL errors become an ApiError of type "graphql". */
  async graphql<T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T> {
    const body = await this.request<{ data?: T; errors?: { message: string }[] }>("gateway", "/graphql", {
      method: "POST",
      body: { query, variables },
      signal,
    });
    if (body.errors && body.errors.length) {
      throw new ApiError({ type: "graphql", title: "GraphQL error", status: 200, detail: body.errors.map((e) => e.message).join("; "), errors: body.errors });
    }
    return body.data as T;
  }
}
