// The conversation as the customer sees it: their messages, the AI's replies (shown while
// they are written), people's replies under their names, and Baton's notices, which are
// shown as notices rather than as anyone's words. A rating notice asks for a 1-5 rating.
//
// Messages are kept by message_id, so the history read after each reconnection and the
// stream's events merge without showing anything twice.

import { h } from "./dom.js";

const SCORES = [1, 2, 3, 4, 5];

function kindOf({ role, provider, notice }) {
  if (role === "user") return "user";
  if (provider === "baton" || notice) return "notice";
  if (provider === "human") return "human";
  return "ai";
}

function clock(iso) {
  const date = iso ? new Date(iso) : new Date();
  return h(
    "time",
    { datetime: date.toISOString() },
    date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }),
  );
}

// conversation(list, { rate, rated, onChange }):
//   rate(noticeId, score, comment)  sends a rating; resolves to the sentence to show instead
//   rated(noticeId)                 whether this tab answered that rating notice already
//   onChange()                      called after the list changed
// Returns { history, delta, message, sent }.
export function conversation(list, { rate, rated = () => false, onChange = () => {} }) {
  const entries = new Map();

  function head(kind, agentName, createdAt) {
    if (kind === "user") return h("p", { class: "who" }, h("span", { class: "name" }, "You"), clock(createdAt));
    const badge = kind === "human" ? "support agent" : "AI";
    return h(
      "p",
      { class: "who" },
      h("span", { class: "name" }, agentName || (kind === "human" ? "Support agent" : "Assistant")),
      h("span", { class: "badge" }, badge),
      clock(createdAt),
    );
  }

  // A rating is taken for the latest resolution: only the latest rating notice asks for one.
  function ratingForm(noticeId) {
    list.querySelectorAll("form.rating").forEach((earlier) => earlier.remove());
    const id = `comment-${noticeId}`;
    const comment = h("textarea", { id, rows: 2, maxlength: 2000 });
    const outcome = h("p", { class: "rating-outcome", role: "status" });
    const buttons = SCORES.map((score) =>
      h("button", { type: "button", class: "score", "aria-label": `${score} out of 5` }, String(score)),
    );
    const form = h(
      "form",
      { class: "rating" },
      h("label", { for: id }, "Anything to add? (optional)"),
      comment,
      h(
        "fieldset",
        {},
        h("legend", {}, "Rate this conversation: 1 is poor, 5 is very good."),
        h("div", { class: "scores" }, buttons),
      ),
      outcome,
    );
    form.addEventListener("submit", (event) => event.preventDefault());
    buttons.forEach((button, index) =>
      button.addEventListener("click", async () => {
        buttons.forEach((b) => (b.disabled = true));
        try {
          const said = await rate(noticeId, SCORES[index], comment.value.trim());
          form.replaceChildren(h("p", { class: "rating-outcome", role: "status" }, said));
        } catch (error) {
          outcome.textContent = `Your rating was not sent: ${error.message}`;
          buttons.forEach((b) => (b.disabled = false));
        }
      }),
    );
    return form;
  }

  function create({ message_id, role, provider, notice, agent_name, created_at }) {
    const kind = kindOf({ role, provider, notice });
    const text = h("p", { class: "text" });
    const element =
      kind === "notice"
        ? h(
            "li",
            { class: "notice", "data-notice": notice || "notice", "data-message-id": message_id },
            h("span", { class: "visually-hidden" }, "Notice: "),
            text,
          )
        : h(
            "li",
            { class: `msg msg-${kind}`, "data-message-id": message_id },
            head(kind, agent_name, created_at),
            text,
          );
    const entry = { element, text, kind, final: false, pieces: [] };
    entries.set(message_id, entry);
    return entry;
  }

  function finish(entry, { message_id, text, notice }) {
    entry.final = true;
    entry.pieces = [];
    entry.text.textContent = text;
    entry.element.removeAttribute("aria-busy");
    entry.element.dataset.state = "final";
    if (notice === "rating" && !entry.element.querySelector(".rating")) {
      entry.element.append(
        rated(message_id)
          ? h("p", { class: "rating rating-outcome" }, "Thank you for your rating.")
          : ratingForm(message_id),
      );
    }
  }

  function add(entry, after) {
    if (after) after.after(entry.element);
    else if (after === null) list.prepend(entry.element);
    else list.append(entry.element);
  }

  return {
    // The history, oldest first: new messages go after the last one already shown before them.
    history(messages) {
      let previous = null;
      for (const item of messages) {
        let entry = entries.get(item.message_id);
        if (!entry) {
          entry = create(item);
          add(entry, previous);
          finish(entry, item);
        } else if (!entry.final) {
          finish(entry, item);
        }
        previous = entry.element;
      }
      onChange();
    },
    // A piece of a reply being written. A new attempt starts again at sequence 0.
    delta({ message_id, sequence, text, agent_name }) {
      let entry = entries.get(message_id);
      if (entry?.final) return;
      if (!entry) {
        entry = create({ message_id, role: "assistant", provider: null, agent_name });
        add(entry);
      }
      if (sequence === 0 && entry.pieces.length > 0 && !(entry.pieces.length === 1 && entry.pieces[0] === text)) {
        entry.pieces = [];
      }
      entry.pieces[sequence] = text;
      let shown = "";
      for (const piece of entry.pieces) {
        if (piece === undefined) break;
        shown += piece;
      }
      entry.text.textContent = shown;
      // Screen readers wait for the whole reply rather than reading every piece.
      entry.element.setAttribute("aria-busy", "true");
      entry.element.dataset.state = "streaming";
      onChange();
    },
    // A whole message: it replaces whatever was streamed under its id.
    message(data) {
      let entry = entries.get(data.message_id);
      if (entry?.final) return;
      if (!entry) {
        entry = create({ ...data, role: "assistant" });
        add(entry);
      }
      finish(entry, data);
      onChange();
    },
    // The customer's own message, once ingest accepted it.
    sent(message_id, text) {
      if (entries.has(message_id)) return;
      const entry = create({ message_id, role: "user" });
      add(entry);
      finish(entry, { message_id, text });
      onChange();
    },
  };
}
