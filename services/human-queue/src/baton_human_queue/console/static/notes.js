// Internal notes on the open ticket: a list marked "Internal" in words (not colour alone)
// and a form to add one. Notes are for the team only: the API keeps them apart from the
// thread, so the user and the AI never see them.

import { api } from "./api.js";
import { h, when } from "./format.js";

function noteItem(note) {
  return h(
    "li",
    { class: "note", "data-note": note.note_id },
    h(
      "p",
      { class: "message-head" },
      h("span", { class: "badge badge-internal" }, "Internal note"),
      h("span", { class: "role" }, note.author.name),
      h("time", { datetime: note.created_at }, when(note.created_at)),
    ),
    h("p", { class: "message-text" }, note.text),
  );
}

export function notesSection(ticketId, { notices }) {
  let shown = "";
  const list = h("ol", { class: "notes", "aria-live": "polite" });
  const empty = h("p", { class: "hint" }, "No notes yet.");
  const area = h("textarea", { id: "field-note", name: "note", rows: 3, required: true, "aria-describedby": "field-note-hint" });
  const send = h("button", { type: "submit" }, "Add note");
  const form = h(
    "form",
    { class: "action action-note", "data-action": "note" },
    h("label", { for: "field-note" }, "New internal note"),
    area,
    h("p", { id: "field-note-hint", class: "hint" }, "Only the team sees it; never the user or the AI. Ctrl+Enter adds it."),
    h("div", { class: "buttons" }, send),
  );
  const element = h(
    "section",
    { class: "card notes-card", "aria-labelledby": "notes-title" },
    h("h3", { id: "notes-title" }, "Internal notes"),
    empty,
    list,
    form,
  );

  function show(notes) {
    const key = notes.map((n) => n.note_id).join(",");
    if (key === shown) return;
    shown = key;
    empty.hidden = notes.length > 0;
    list.replaceChildren(...notes.map(noteItem));
  }

  async function add() {
    const text = area.value;
    send.disabled = area.disabled = true;
    notices.clear();
    try {
      await api(`v1/tickets/${encodeURIComponent(ticketId)}/notes`, { method: "POST", body: { text } });
      area.value = "";
      notices.status("Internal note added.");
      const { notes } = await api(`v1/tickets/${encodeURIComponent(ticketId)}/notes`);
      show(notes);
    } catch (error) {
      notices.error(error);
    } finally {
      send.disabled = area.disabled = false;
      area.focus();
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    add();
  });
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  return { element, show };
}
