// The API's one error shape, turned into something a page can show: a sentence, and the
// fields at fault (`body.daily.time` → `daily.time`) so a form can put each message there.

export interface FieldProblem {
  field: string;
  message: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, details: unknown = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** Field problems of a 422, keyed by the field without its `body.`/`query.` prefix. */
  get fields(): Record<string, string> {
    return fieldMessages(this.details);
  }
}

export function fieldMessages(details: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(details)) return out;
  for (const item of details) {
    if (item && typeof item === "object" && "field" in item && "message" in item) {
      const field = String((item as FieldProblem).field).replace(/^(body|query|path)\./, "");
      out[field] ??= String((item as FieldProblem).message);
    }
  }
  return out;
}

/** The message of `name` or of any field under it (`encryption_recipients.2` counts as
 * `encryption_recipients`): for a form control that edits a list or a map as a whole. */
export function fieldUnder(fields: Record<string, string>, name: string): string | undefined {
  if (fields[name]) return fields[name];
  const key = Object.keys(fields).find((field) => field.startsWith(`${name}.`));
  return key ? `${key.slice(name.length + 1)}: ${fields[key]}` : undefined;
}

/** An error body from the API (or anything else) as an ApiError. */
export function toApiError(status: number, body: unknown): ApiError {
  if (body && typeof body === "object" && "error" in body) {
    const error = (body as { error: { code?: string; message?: string; details?: unknown } }).error;
    return new ApiError(status, error.code ?? "error", error.message ?? "request failed", error.details);
  }
  return new ApiError(status, "http_error", `the server answered ${status}`);
}

/** What to tell a person about an error. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 401) return "You are not signed in, or your session expired. Sign in again.";
    if (error.status === 403) return `Your role does not allow this (${error.message}).`;
    if (error.status === 503) return `A service is unavailable: ${error.message}. Try again shortly.`;
    return error.message;
  }
  if (error instanceof TypeError) return "The service could not be reached. Is it running?";
  return error instanceof Error ? error.message : String(error);
}
