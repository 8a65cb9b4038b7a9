// The one configured client of the API: same origin, typed by the OpenAPI document
// (src/types/api.d.ts, generated), bearer token added, JSON declared on every change
// (the API refuses a change without it), errors turned into ApiError once.
import createClient, { type Middleware } from "openapi-fetch";

import type { paths } from "@/types/api";

import type { Session } from "./auth";
import { toApiError } from "./errors";

export const api = createClient<paths>({ baseUrl: "/api" });

let session: Session | null = null;

export function setSession(current: Session): void {
  session = current;
}

const authorise: Middleware = {
  async onRequest({ request }) {
    const token = session ? await session.token() : null;
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    if (request.method !== "GET" && request.method !== "HEAD") {
      request.headers.set("Content-Type", "application/json");
    }
    request.headers.set("Accept", "application/json");
    return request;
  },
};
api.use(authorise);

interface Result<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The data of a successful call; an ApiError otherwise. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok || error !== undefined) throw toApiError(response.status, error);
  return data as T;
}
