import { ApiError } from "@elysium/sdk";

const SERVICE_NAMES: Record<string, string> = {
  commerce: "The store", matchmaker: "The matchmaker", spectator: "The spectator relay", butler: "The butler",
  gateway: "The server",
};

/** The words to show for a failed request: the problem's detail, or who could not be reached. */
export function problemText(err: unknown, service?: string): string {
  if (err instanceof ApiError) {
    if (err.status === 0) return `${(service && SERVICE_NAMES[service]) || "The server"} is unreachable`;
    const p = err.problem;
    return p.detail || p.title || `The request failed (${err.status})`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The field errors of an `invalid-request` problem, as `{field: message}`. */
export function fieldErrors(err: unknown): Record<string, string> {
  if (!(err instanceof ApiError)) return {};
  const errors = err.problem.errors;
  if (!errors || typeof errors !== "object" || Array.isArray(errors)) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(errors as Record<string, unknown>)) out[k] = String(v);
  return out;
}

/** An error announced to assistive technology (`role="alert"`); renders nothing without one. */
export function ErrorAlert({ error, service, className }: { error: unknown; service?: string; className?: string }) {
  if (error === null || error === undefined) return null;
  return (
    <p role="alert" className={`alert${className ? ` ${className}` : ""}`}>
      {problemText(error, service)}
    </p>
  );
}

/** A polite status message (`role="status"`); the element stays so changes are announced. */
export function StatusMessage({ children }: { children?: React.ReactNode }) {
  return (
    <p role="status" className="status-message">
      {children}
    </p>
  );
}
