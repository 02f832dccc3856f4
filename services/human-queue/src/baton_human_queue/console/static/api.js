// Talking to the human-queue API with the signed-in agent's token.
//
// The token lives in sessionStorage: it survives a reload but not the tab, and is never
// put in a URL. Every error the API returns is {"detail", "code"}; it is raised as an
// ApiError whose message is the API's own sentence, so the page can show it as it is.

const TOKEN_KEY = "baton.agent.token";

// The page is served at <root>/console/, the API lives at <root>/v1/.
const ROOT = new URL("../", document.baseURI);
const CONSOLE = new URL("./", document.baseURI);

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

async function request(url, { method = "GET", body, params, headers = {}, token = session.token } = {}) {
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(0, "unreachable", `Cannot reach the human-queue service (${error.message}).`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    // A proxy's HTML error page, or an empty body: reported below by status.
  }
  if (!response.ok) {
    const detail = typeof data?.detail === "string" ? data.detail : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, data?.code ?? "http_error", detail);
  }
  return data;
}

export function api(path, options) {
  return request(new URL(path.replace(/^\//, ""), ROOT), options);
}

export function whoAmI(token) {
  return request(new URL("me", CONSOLE), { token });
}

export const tickets = {
  list: (filters) => api("v1/tickets", { params: filters }),
  get: (id) => api(`v1/tickets/${encodeURIComponent(id)}`),
  thread: (threadId) => api(`v1/threads/${encodeURIComponent(threadId)}/messages`, { params: { limit: 200 } }),
  act: (id, action, body, headers) =>
    api(`v1/tickets/${encodeURIComponent(id)}/${action}`, { method: "POST", body, headers }),
};

// The signed-in agent: role, presence, capacity and the tickets it holds.
export const staff = {
  me: () => api("v1/agents/me"),
  setStatus: (status) => api("v1/agents/me/status", { method: "PUT", body: { status } }),
};

// A supervisor (or an agent, where the service allows it) steps into a conversation the AI owns.
export function takeOver(threadId) {
  return api(`v1/threads/${encodeURIComponent(threadId)}/takeover`, { method: "POST" });
}
