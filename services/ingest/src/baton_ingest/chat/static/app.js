// The web chat's shell: the key (from the link's fragment or the form), starting a
// conversation, and the conversation itself: the messages as they arrive and a box to write.
//
// Everything goes through ingest's gateway API with the gateway key, as any gateway's would:
// POST v1/threads, POST and GET v1/threads/{id}/messages, GET v1/threads/{id}/stream and
// POST v1/threads/{id}/rating.

import { chat, randomHex, session, takeKeyFromFragment } from "./api.js";
import { conversation } from "./conversation.js";
import { h } from "./dom.js";
import { follow } from "./stream.js";

const main = document.getElementById("main");
const alertRegion = document.getElementById("alert");
const live = document.getElementById("live");
const restartButton = document.getElementById("restart");
const forgetButton = document.getElementById("forget");

const LIVE = {
  connecting: "○ Connecting…",
  live: "● Live: replies appear as they are written.",
  reconnecting: "⚠ Reconnecting… New messages are checked every few seconds.",
  polling: "○ Checking for new messages every few seconds.",
};

let current = null;
// Whether the reader is at the end of the conversation: only then does a new message scroll
// the page, so reading further up is never interrupted.
let following = true;
window.addEventListener(
  "scroll",
  () => {
    following = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 64;
  },
  { passive: true },
);

function showError(error) {
  alertRegion.replaceChildren(h("strong", {}, "Error: "), error instanceof Error ? error.message : String(error));
}

function clearError() {
  alertRegion.replaceChildren();
}

function showLive(state) {
  live.hidden = false;
  live.dataset.state = state;
  live.textContent = LIVE[state];
}

// A refusal that ends the conversation in this tab: a key that no longer works (rotated,
// revoked), or a thread this key cannot reach.
function lost(error) {
  showError(error);
  if (error.status === 401) session.key = null;
  session.threadId = null;
  route();
}

function startView() {
  document.title = "Chat · Baton";
  const needsKey = !session.key;
  const keyInput = needsKey
    ? h("input", {
        id: "key",
        name: "key",
        type: "password",
        autocomplete: "off",
        spellcheck: "false",
        required: true,
        "aria-describedby": "key-hint",
      })
    : null;
  const nameInput = h("input", { id: "name", name: "name", type: "text", autocomplete: "name", maxlength: 100 });
  const button = h("button", { type: "submit", class: "primary" }, "Start chatting");
  const form = h(
    "form",
    { class: "card start", "aria-labelledby": "start-title" },
    h("h2", { id: "start-title" }, "Chat with us"),
    needsKey && [
      h("label", { for: "key" }, "Gateway key"),
      keyInput,
      h(
        "p",
        { id: "key-hint", class: "hint" },
        "“make run” prints a link to this page with the demo gateway’s key. The key is kept in this tab only.",
      ),
    ],
    h("label", { for: "name" }, "Your name (optional)"),
    nameInput,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    if (keyInput) session.key = keyInput.value.trim();
    button.disabled = true;
    try {
      const { thread_id } = await chat.open({ name: nameInput.value.trim() });
      session.threadId = thread_id;
      route();
    } catch (error) {
      showError(error);
      button.disabled = false;
      if (error.status === 401) {
        session.key = null;
        route();
      }
    }
  });
  main.replaceChildren(form);
  (keyInput ?? nameInput).focus();
}

function chatView(threadId) {
  document.title = "Conversation · Chat · Baton";
  restartButton.hidden = false;
  const list = h("ol", { id: "log", class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  const text = h("textarea", { id: "text", name: "text", rows: 3, required: true, "aria-describedby": "text-hint" });
  const send = h("button", { type: "submit", class: "primary" }, "Send");
  const form = h(
    "form",
    { class: "composer" },
    h("label", { for: "text" }, "Your message"),
    text,
    h("p", { id: "text-hint", class: "hint" }, "Enter sends; Shift+Enter starts a new line."),
    send,
  );

  async function rate(noticeId, score, comment) {
    try {
      await chat.rate(threadId, score, comment);
    } catch (error) {
      if (error.status !== 409) throw error;
      session.markRated(noticeId);
      return "This conversation has been rated already. Thank you!";
    }
    session.markRated(noticeId);
    return `Thank you: you rated this conversation ${score} out of 5.`;
  }

  const view = conversation(list, {
    rate,
    rated: (noticeId) => session.rated(noticeId),
    onChange: () => {
      if (following) form.scrollIntoView({ block: "end" });
    },
  });

  // One Idempotency-Key per text: a retried send stores the message once.
  let idempotencyKey = null;
  text.addEventListener("input", () => {
    idempotencyKey = null;
  });
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const said = text.value;
    if (!said.trim()) return;
    clearError();
    send.disabled = true;
    idempotencyKey ??= randomHex();
    try {
      const { message_id } = await chat.say(threadId, said, idempotencyKey);
      view.sent(message_id, said);
      text.value = "";
      idempotencyKey = null;
    } catch (error) {
      if (error.status === 401 || error.code === "unknown_thread") {
        lost(error);
        return;
      }
      showError(error);
    } finally {
      send.disabled = false;
    }
    text.focus();
  });

  main.replaceChildren(list, form);
  text.focus();
  current = follow({
    streamUrl: chat.streamUrl(threadId),
    resync: async () => view.history((await chat.messages(threadId)).messages),
    delta: view.delta,
    message: view.message,
    state: showLive,
    fatal: lost,
  });
}

function route() {
  current?.close();
  current = null;
  live.hidden = true;
  restartButton.hidden = true;
  forgetButton.hidden = !session.key;
  if (session.key && session.threadId) chatView(session.threadId);
  else startView();
}

restartButton.addEventListener("click", () => {
  clearError();
  session.threadId = null;
  route();
});
forgetButton.addEventListener("click", () => {
  clearError();
  session.forget();
  route();
});
window.addEventListener("hashchange", () => {
  if (!new URLSearchParams(location.hash.slice(1)).has("key")) return;
  takeKeyFromFragment();
  clearError();
  route();
});

takeKeyFromFragment();
route();
