// The page's only way to the API: same-origin fetch, JSON in and out, the API's
// error shape turned into an ApiError whose message is the server's own, and the
// API key (only when the server asks for one with a 401) kept in sessionStorage.

const KEY_STORAGE = "rag.apiKey";
const MAX_KEY_PROMPTS = 3;

export class ApiError extends Error {
  constructor(status, code, message, requestId = "") {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

let promptForKey = async () => null;
let pendingPrompt = null;

/** The UI that asks for a key: `(reason: string) => Promise<string | null>`. */
export function setKeyPrompt(fn) {
  promptForKey = fn;
}

function storedKey() {
  try {
    return window.sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null; // storage disabled: the key is asked for again when needed
  }
}

function storeKey(key) {
  try {
    if (key) window.sessionStorage.setItem(KEY_STORAGE, key);
    else window.sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled; nothing to keep
  }
}

/** One prompt at a time: requests that get a 401 together share it. */
function obtainKey(reason) {
  if (!pendingPrompt) {
    pendingPrompt = Promise.resolve(promptForKey(reason)).finally(() => {
      pendingPrompt = null;
    });
  }
  return pendingPrompt;
}

/**
 * Call the API and return the decoded JSON body.
 * @param {string} path e.g. "/v1/answer"
 * @param {{method?: string, body?: unknown}} options
 */
export async function callApi(path, { method = "GET", body } = {}) {
  for (let attempt = 0; attempt <= MAX_KEY_PROMPTS; attempt += 1) {
    const key = storedKey();
    const headers = { Accept: "application/json" };
    if (key) headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "network", "The service could not be reached. Check that it is running, then try again.");
    }
    if (response.status !== 401) return decode(response);
    if (storedKey() !== key) continue; // another request got a new key meanwhile: use it
    if (key) storeKey(null);
    const reason = key ? "That API key was not accepted. Enter a valid key." : "This service needs an API key.";
    const entered = await obtainKey(reason);
    if (!entered) {
      const error = await decode(response).catch((e) => e);
      throw error instanceof ApiError ? error : new ApiError(401, "unauthorized", "An API key is needed.");
    }
    storeKey(entered);
  }
  throw new ApiError(401, "unauthorized", "No valid API key was given.");
}

async function decode(response) {
  const raw = await response.text();
  let data = null;
  try {
    data = raw ? JSON.parse(raw) : null;
  } catch {
    data = null;
  }
  if (response.ok && data !== null) return data;
  const error = data && typeof data === "object" ? data.error : null;
  if (error && typeof error.message === "string") {
    throw new ApiError(response.status, String(error.code || ""), error.message, String(error.request_id || ""));
  }
  const requestId = response.headers.get("x-request-id") || "";
  const what = response.ok ? "an unreadable answer" : `status ${response.status}`;
  throw new ApiError(response.status, "unexpected", `The service sent ${what}.`, requestId);
}

/** Forget the stored key (e.g. to switch keys). */
export function forgetKey() {
  storeKey(null);
}
