// Talking to ingest's gateway API with a gateway key, as any gateway does.
//
// The key comes from the URL's fragment (/chat#key=...), which the browser never sends to a
// server, or from the key form; it lives in sessionStorage: it survives a reload but not the
// tab. The fragment is removed from the address bar as soon as it is read. Every error the
// API returns is {"detail", "code"}; it is raised as an ApiError whose message is the API's
// own sentence, so the page can show it as it is.

const KEY = "baton.chat.key";
const THREAD = "baton.chat.thread";
const USER = "baton.chat.user";
const RATED = "baton.chat.rated";

// This module is served at <root>/chat/api.js, the API lives at <root>/v1/.
const ROOT = new URL("../", import.meta.url);

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
  }
}

// crypto.randomUUID() exists only in secure contexts; the chat may be served over plain
// http on a company network.
export function randomHex(bytes = 16) {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export const session = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  set key(value) {
    if (value) sessionStorage.setItem(KEY, value);
    else sessionStorage.removeItem(KEY);
  },
  get threadId() {
    return sessionStorage.getItem(THREAD);
  },
  set threadId(value) {
    if (value) sessionStorage.setItem(THREAD, value);
    else sessionStorage.removeItem(THREAD);
    sessionStorage.removeItem(RATED);
  },
  // One end user per tab: the gateway's id for the person chatting.
  get userId() {
    let id = sessionStorage.getItem(USER);
    if (!id) {
      id = `web-${randomHex(8)}`;
      sessionStorage.setItem(USER, id);
    }
    return id;
  },
  // The rating notices answered in this tab, by message_id: their form is not shown again.
  rated(noticeId) {
    return JSON.parse(sessionStorage.getItem(RATED) ?? "[]").includes(noticeId);
  },
  markRated(noticeId) {
    const ids = JSON.parse(sessionStorage.getItem(RATED) ?? "[]");
    sessionStorage.setItem(RATED, JSON.stringify([...ids, noticeId]));
  },
  forget() {
    for (const name of [KEY, THREAD, USER, RATED]) sessionStorage.removeItem(name);
  },
};

// Takes a key from the fragment (#key=...) into the session, and out of the address bar,
// so it stays neither in the history nor on the screen.
export function takeKeyFromFragment() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const key = fragment.get("key");
  if (!key) return;
  session.key = key.trim();
  session.threadId = null;
  history.replaceState(null, "", location.pathname + location.search);
}

export function url(path) {
  return new URL(path.replace(/^\//, ""), ROOT);
}

export function authorization() {
  return { Authorization: `Bearer ${session.key}` };
}

// The API's refusal as an ApiError, from a response that is not ok.
export async function refusal(response) {
  let data = null;
  try {
    data = await response.json();
  } catch {
    // A proxy's HTML error page, or an empty body: reported by status.
  }
  const detail = typeof data?.detail === "string" ? data.detail : `${response.status} ${response.statusText}`;
  return new ApiError(response.status, data?.code ?? "http_error", detail);
}

async function request(path, { method = "GET", body, params, headers = {} } = {}) {
  const target = url(path);
  for (const [name, value] of Object.entries(params ?? {})) target.searchParams.set(name, value);
  const init = { method, headers: { Accept: "application/json", ...authorization(), ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(target, init);
  } catch (error) {
    throw new ApiError(0, "unreachable", `Cannot reach the chat service (${error.message}).`);
  }
  if (!response.ok) throw await refusal(response);
  return response.status === 204 ? null : response.json();
}

const thread = (threadId) => `v1/threads/${encodeURIComponent(threadId)}`;

export const chat = {
  // The thread is asked for on the "web" channel; a key limited to other channels gets its own.
  async open({ name }) {
    const body = { user_id: session.userId, channel: "web", metadata: name ? { name } : {} };
    try {
      return await request("v1/threads", { method: "POST", body });
    } catch (error) {
      if (error.code !== "channel_not_allowed") throw error;
      delete body.channel;
      return request("v1/threads", { method: "POST", body });
    }
  },
  messages: (threadId) => request(`${thread(threadId)}/messages`, { params: { limit: 500 } }),
  // The Idempotency-Key makes a retried send store the message once.
  say: (threadId, text, idempotencyKey) =>
    request(`${thread(threadId)}/messages`, {
      method: "POST",
      body: { text },
      headers: { "Idempotency-Key": idempotencyKey },
    }),
  rate: (threadId, score, comment) =>
    request(`${thread(threadId)}/rating`, { method: "POST", body: comment ? { score, comment } : { score } }),
  streamUrl: (threadId) => url(`${thread(threadId)}/stream`),
};
