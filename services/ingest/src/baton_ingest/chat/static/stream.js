// Following a thread live: GET v1/threads/{id}/stream, server-sent events read with fetch()
// (an EventSource cannot send the Authorization header, and the key must never be in a URL).
//
// Each time the stream opens, the history is read again after it, so whatever was said while
// it was down is shown, and the stream's events are merged with it by message_id. After an
// error the stream is opened again with a growing pause, and meanwhile the history is read
// every few seconds, so the conversation goes on. Where the server has no stream (an ingest
// without the route), reading the history is all the page does, trying the stream again now
// and then.

import { ApiError, authorization, refusal } from "./api.js";

const RETRY_MS = [1000, 2000, 5000, 10000, 30000];
const POLL_MS = 3000;
const NO_STREAM_RETRY_MS = 60000;
// Keep-alive comments arrive well within this; silence longer than it is a dead connection.
const SILENCE_MS = 60000;

// One server-sent event per call of `dispatch({event, id, data})`, from a body's text chunks.
export function eventParser(dispatch) {
  let buffer = "";
  let event = { event: "message", id: "", data: [] };
  function line(text) {
    if (text === "") {
      if (event.data.length) dispatch({ event: event.event, id: event.id, data: event.data.join("\n") });
      event = { event: "message", id: event.id, data: [] };
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event.event = value;
    else if (field === "data") event.data.push(value);
    else if (field === "id") event.id = value;
  }
  let afterCR = false;
  return (chunk) => {
    // A \r\n split between two chunks ends one line, not two.
    if (afterCR && chunk.startsWith("\n")) chunk = chunk.slice(1);
    afterCR = chunk.endsWith("\r");
    buffer += chunk;
    const lines = buffer.split(/\r\n|\r|\n/);
    // A chunk may end in the middle of a line: keep the rest for the next one.
    buffer = lines.pop();
    lines.forEach(line);
  };
}

// follow(threadId, { streamUrl, resync, delta, message, state, fatal }):
//   resync()       read the history (after each (re)connection, and while the stream is down)
//   delta(data)    a piece of a reply being written: {message_id, in_reply_to, sequence, text, agent_name}
//   message(data)  a whole message: {message_id, in_reply_to, text, agent_name, provider, notice}
//   state(name)    "connecting", "live", "reconnecting" (down, history polled) or "polling" (no stream here)
//   fatal(error)   an ApiError the page must act on (401: the key; 404 unknown_thread)
// Returns { close() }.
export function follow({ streamUrl, resync, delta, message, state, fatal }) {
  let closed = false;
  let failures = 0;
  let controller = null;
  let retryTimer = null;
  let pollTimer = null;
  let silenceTimer = null;

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function retry(pause) {
    if (closed) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, pause);
  }

  // A refusal that no retry mends: the key no longer works, or the thread is out of reach.
  function isFatal(error) {
    if (!(error instanceof ApiError && (error.status === 401 || error.code === "unknown_thread"))) return false;
    close();
    fatal(error);
    return true;
  }

  // While there is no stream, the history, read every few seconds, is the page's news.
  function startPolling() {
    if (pollTimer) return;
    const read = () => resync().catch(isFatal);
    pollTimer = setInterval(read, POLL_MS);
    read();
  }

  function failed(error) {
    if (closed || isFatal(error)) return;
    state("reconnecting");
    startPolling();
    retry(RETRY_MS[Math.min(failures, RETRY_MS.length - 1)]);
    failures += 1;
  }

  // No stream route on this server: poll, and try the stream again now and then.
  function noStream() {
    if (closed) return;
    state("polling");
    startPolling();
    retry(NO_STREAM_RETRY_MS);
  }

  function dispatch({ event, data }) {
    let body;
    try {
      body = JSON.parse(data);
    } catch {
      return;
    }
    if (event === "delta") delta(body);
    else if (event === "message") message(body);
  }

  async function connect() {
    if (closed) return;
    if (!pollTimer) state(failures ? "reconnecting" : "connecting");
    controller = new AbortController();
    const watchdog = () => {
      clearTimeout(silenceTimer);
      silenceTimer = setTimeout(() => controller.abort(), SILENCE_MS);
    };
    try {
      watchdog();
      const response = await fetch(streamUrl, {
        headers: { Accept: "text/event-stream", ...authorization() },
        cache: "no-store",
        signal: controller.signal,
      });
      if (!response.ok) {
        const error = await refusal(response);
        // A 404 that is not about the thread: this server has no stream route.
        if (response.status === 404 && error.code !== "unknown_thread") {
          clearTimeout(silenceTimer);
          noStream();
          return;
        }
        throw error;
      }
      stopPolling();
      state("live");
      // Opened first, read after: nothing said in between is missed.
      await resync();
      failures = 0;
      const parse = eventParser(dispatch);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        watchdog();
        parse(value);
      }
      clearTimeout(silenceTimer);
      // The server ended the stream (a restart, a deploy): open it again shortly.
      if (!closed) {
        state("reconnecting");
        retry(RETRY_MS[0]);
      }
    } catch (error) {
      clearTimeout(silenceTimer);
      controller.abort();
      failed(error);
    }
  }

  function close() {
    closed = true;
    controller?.abort();
    clearTimeout(retryTimer);
    clearTimeout(silenceTimer);
    stopPolling();
  }

  connect();
  return { close };
}
