// The REST API under /api/v1, with the bearer token the user gave (kept in this browser).
const TOKEN_KEY = "aimdb.token";

export const token = {
  get: () => localStorage.getItem(TOKEN_KEY),
  set: (value) => (value ? localStorage.setItem(TOKEN_KEY, value) : localStorage.removeItem(TOKEN_KEY)),
};

/** An answer other than 2xx: the server's `{"error": {"kind", "message"}}`. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `the server answered ${status}`);
    this.status = status;
    this.kind = body?.error?.kind;
  }
}

/** `GET` (or `method`) `/api/v1` + `path`; a 401 asks the app for a token. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const bearer = token.get();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401) {
      window.dispatchEvent(new CustomEvent("aimdb:unauthorized", { detail: error.message }));
    }
    throw error;
  }
  return data;
}

/** `?a=1&b=2` from the parameters that are set ("" for none). */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Every run summary (the run tables filter them by model version or dataset). */
export const allRunSummaries = () => api("/runs/summaries");
