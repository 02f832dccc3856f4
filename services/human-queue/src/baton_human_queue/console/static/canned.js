// Canned replies in the reply box: Ctrl+/ (or the button) opens a list filtered as you type;
// arrows choose, Enter inserts the reply, filled in for this ticket, at the cursor; Escape
// goes back to the reply. A reply whose fields the thread lacks says so in words.

import { api } from "./api.js";
import { h } from "./format.js";

let counter = 0;

function matches(canned, query) {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return [canned.shortcut, canned.title, canned.text].some((s) => s.toLowerCase().includes(q));
}

export function attachCanned(area, ticketId, { notices, onInsert }) {
  const id = `canned-${++counter}`;
  let found = null;
  let shown = [];
  let active = 0;

  const filter = h("input", {
    id: `${id}-filter`,
    type: "search",
    autocomplete: "off",
    role: "combobox",
    "aria-expanded": "true",
    "aria-controls": `${id}-list`,
    "aria-autocomplete": "list",
  });
  const list = h("ul", { id: `${id}-list`, class: "canned-list", role: "listbox", "aria-label": "Canned replies" });
  const picker = h(
    "div",
    { class: "canned-picker", hidden: true },
    h("label", { for: `${id}-filter` }, "Filter canned replies"),
    filter,
    list,
    h("p", { class: "hint" }, "↑ ↓ to choose, Enter to insert, Escape to go back."),
  );
  const opener = h("button", { type: "button", "aria-keyshortcuts": "Control+/" }, "Canned replies (Ctrl+/)");
  area.after(picker);

  function option(canned, index) {
    const missing = canned.missing.length ? h("span", { class: "badge" }, `needs ${canned.missing.join(", ")}`) : null;
    const item = h(
      "li",
      {
        id: `${id}-option-${index}`,
        role: "option",
        "aria-selected": String(index === active),
        "data-shortcut": canned.shortcut,
        onmousedown: (event) => {
          event.preventDefault();
          insert(canned);
        },
      },
      h("strong", {}, `/${canned.shortcut}`),
      ` ${canned.title} `,
      missing,
      h("span", { class: "canned-text" }, canned.text),
    );
    return item;
  }

  function renderList() {
    shown = (found ?? []).filter((c) => matches(c, filter.value));
    active = Math.min(active, Math.max(shown.length - 1, 0));
    list.replaceChildren(...(shown.length ? shown.map(option) : [h("li", { class: "hint" }, found ? "No canned reply matches." : "Loading…")]));
    if (shown.length) filter.setAttribute("aria-activedescendant", `${id}-option-${active}`);
    else filter.removeAttribute("aria-activedescendant");
  }

  function insert(canned) {
    const start = area.selectionStart ?? area.value.length;
    const end = area.selectionEnd ?? start;
    area.value = area.value.slice(0, start) + canned.text + area.value.slice(end);
    close();
    const at = start + canned.text.length;
    area.setSelectionRange(at, at);
    onInsert?.(area.value);
    if (canned.missing.length) notices.status(`Fill in ${canned.missing.join(", ")} before sending.`);
  }

  function close() {
    picker.hidden = true;
    area.focus();
  }

  async function open() {
    picker.hidden = false;
    filter.value = "";
    active = 0;
    renderList();
    filter.focus();
    if (found) return;
    try {
      found = (await api(`v1/tickets/${encodeURIComponent(ticketId)}/canned-responses`)).canned_responses;
      renderList();
    } catch (error) {
      notices.error(error);
      close();
    }
  }

  area.addEventListener("keydown", (event) => {
    if (event.key === "/" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      open();
    }
  });
  opener.addEventListener("click", open);
  filter.addEventListener("input", () => {
    active = 0;
    renderList();
  });
  filter.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (shown.length) active = (active + (event.key === "ArrowDown" ? 1 : -1) + shown.length) % shown.length;
      renderList();
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (shown[active]) insert(shown[active]);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });

  return opener;
}
