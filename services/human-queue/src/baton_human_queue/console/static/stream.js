// Live updates: the server pushes what changed (server-sent events), the view refetches it.
//
// An EventSource cannot send the Authorization header, and the agent's token must never be
// in a URL (URLs end up in logs), so each stream opens with a short-lived, single-use stream
// ticket bought with the token (POST v1/agents/me/stream-ticket). When the stream is down,
// the view falls back to a slow poll and says so in words, and the stream is tried again
// with a growing pause.

import { api } from "./api.js";

const STREAM = new URL("../v1/agents/me/stream", document.baseURI);
const FALLBACK_POLL_MS = 15000;
const RETRY_MS = [2000, 5000, 10000, 30000];
const COALESCE_MS = 100;

// follow({ indicator, refresh, change }):
//   refresh()      read everything the view shows (on connect, on resync, and while down)
//   change(list)   tickets changed, one entry each, from a burst of pushed changes:
//                  [{ticket_id, thread_id, kind, status, department, holder_id, change, updated_at}]
//   indicator      an element whose text says whether updates are live
// Returns { close() }.
export function follow({ indicator, refresh, change }) {
  let source = null;
  let closed = false;
  let failures = 0;
  let retryTimer = null;
  let pollTimer = null;
  let pending = [];
  let flushTimer = null;

  function show(state) {
    if (!indicator) return;
    indicator.dataset.state = state;
    indicator.textContent =
      state === "live"
        ? "● Live: updates arrive as they happen."
        : state === "connecting"
          ? "○ Connecting to live updates…"
          : `⚠ Live updates paused: refreshing every ${FALLBACK_POLL_MS / 1000} s.`;
  }

  function fallback(on) {
    clearInterval(pollTimer);
    pollTimer = on ? setInterval(refresh, FALLBACK_POLL_MS) : null;
  }

  // Several changes in a burst make one round of refetching per ticket.
  function queue(data) {
    pending.push(data);
    if (flushTimer) return;
    flushTimer = setTimeout(() => {
      const batch = pending;
      pending = [];
      flushTimer = null;
      const latest = new Map(batch.map((item) => [item.ticket_id, item]));
      change([...latest.values()]);
    }, COALESCE_MS);
  }

  function down() {
    source?.close();
    source = null;
    if (closed) return;
    show("down");
    fallback(true);
    const pause = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)];
    failures += 1;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, pause);
  }

  async function connect() {
    if (closed) return;
    if (!pollTimer) show("connecting");
    let ticket;
    try {
      ({ ticket } = await api("v1/agents/me/stream-ticket", { method: "POST" }));
    } catch {
      down();
      return;
    }
    if (closed) return;
    const url = new URL(STREAM);
    url.searchParams.set("ticket", ticket);
    source = new EventSource(url);
    source.addEventListener("ready", () => {
      failures = 0;
      show("live");
      fallback(false);
      refresh();
    });
    source.addEventListener("ticket", (event) => queue(JSON.parse(event.data)));
    source.addEventListener("resync", () => refresh());
    source.addEventListener("end", (event) => {
      source?.close();
      source = null;
      const { reason } = JSON.parse(event.data);
      // "reconnect": the stream's time is up; "revoked": the next request says why (401).
      if (reason === "reconnect") connect();
      else down();
    });
    // A used ticket cannot reopen the stream, so the browser's own retry is not used.
    source.onerror = () => down();
  }

  connect();
  return {
    close() {
      closed = true;
      source?.close();
      clearTimeout(retryTimer);
      clearTimeout(flushTimer);
      clearInterval(pollTimer);
    },
  };
}
