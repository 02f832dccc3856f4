// The queue: filters, the table of tickets, live by server push (stream.js); waiting time and SLA tick
// every second from the last answer without asking the server. Supervisors also get a form to
// take a conversation over from the AI by its thread id.

import { takeOver, tickets } from "./api.js";
import { KIND, STATUS, h, shortId, sla, summary, waiting } from "./format.js";
import { follow } from "./stream.js";

// Kept for the tab, so coming back from a ticket shows the same selection.
const filters = { status: "open", kind: "", department: "" };

function select(id, label, value, options, onChange) {
  const control = h(
    "select",
    { id, name: id, onchange: (event) => onChange(event.target.value) },
    options.map(([optionValue, text]) => h("option", { value: optionValue, selected: optionValue === value }, text)),
  );
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

// "Take over thread <id>": the conversation becomes the caller's, with a conversation ticket
// it holds, which opens at once.
function takeoverForm({ notices }) {
  const input = h("input", {
    id: "takeover-thread",
    name: "thread_id",
    type: "text",
    required: true,
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "takeover-hint",
  });
  const send = h("button", { type: "submit" }, "Take over");
  const form = h(
    "form",
    { class: "card takeover", "aria-labelledby": "takeover-title" },
    h("h3", { id: "takeover-title" }, "Take over a conversation from the AI"),
    h("div", { class: "field" }, h("label", { for: "takeover-thread" }, "Thread id"), input),
    send,
    h(
      "p",
      { id: "takeover-hint", class: "hint" },
      "The thread becomes yours with a conversation ticket you hold; a reply the AI is still writing waits as a draft for your approval.",
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const threadId = input.value.trim();
    if (!threadId) return;
    send.disabled = input.disabled = true;
    notices.clear();
    try {
      const ticket = await takeOver(threadId);
      notices.go(`#/tickets/${encodeURIComponent(ticket.ticket_id)}`, "You took the conversation over; its ticket is yours.");
    } catch (error) {
      notices.error(error);
      send.disabled = input.disabled = false;
      input.focus();
    }
  });
  return form;
}

export function queueView(container, { me, notices, presence }) {
  document.title = "Queue · Baton agent console";
  const rows = new Map();
  let shown = [];
  let stopped = false;

  const body = h("tbody");
  const empty = h("p", { class: "empty", hidden: true }, "No tickets match these filters.");
  const updated = h("p", { class: "updated" });
  const liveState = h("p", { class: "live", id: "live-state" });
  const table = h(
    "table",
    { class: "queue" },
    h("caption", { class: "visually-hidden" }, "Tickets, highest priority first, then oldest"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Ticket", "Kind", "Priority", "Status", "Department", "Waiting", "SLA", "Holder"].map((name) =>
          h("th", { scope: "col" }, name),
        ),
      ),
    ),
    body,
  );

  const refreshSoon = () => load();
  const departments = [["", "All my departments"], ...me.departments.map((d) => [d, d])];
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filters", onsubmit: (event) => event.preventDefault() },
    select(
      "filter-status",
      "Status",
      filters.status,
      [["open", "Open"], ["pending", "Pending"], ["assigned", "Assigned"], ["resolved", "Resolved"], ["all", "All"]],
      (value) => {
        filters.status = value;
        refreshSoon();
      },
    ),
    select("filter-kind", "Kind", filters.kind, [["", "All kinds"], ...Object.entries(KIND)], (value) => {
      filters.kind = value;
      refreshSoon();
    }),
    select("filter-department", "Department", filters.department, departments, (value) => {
      filters.department = value;
      refreshSoon();
    }),
  );

  container.replaceChildren(
    h(
      "section",
      { "aria-labelledby": "queue-title" },
      h("h2", { id: "queue-title" }, "Queue"),
      me.role === "supervisor" && takeoverForm({ notices }),
      form,
      liveState,
      updated,
      table,
      empty,
    ),
  );

  function row(ticket) {
    const link = h("a", { href: `#/tickets/${encodeURIComponent(ticket.ticket_id)}`, class: "summary" });
    const cells = {
      link,
      id: h("span", { class: "ticket-id" }),
      kind: h("td"),
      priority: h("td", { class: "num" }),
      status: h("td"),
      department: h("td"),
      waiting: h("td", { class: "num" }),
      sla: h("td", { class: "sla" }),
      holder: h("td"),
    };
    const tr = h(
      "tr",
      {},
      h("td", { class: "ticket" }, link, cells.id),
      cells.kind,
      cells.priority,
      cells.status,
      cells.department,
      cells.waiting,
      cells.sla,
      cells.holder,
    );
    return { tr, cells };
  }

  function fill({ cells }, ticket) {
    cells.link.textContent = summary(ticket);
    cells.id.textContent = `#${shortId(ticket.ticket_id)}`;
    cells.kind.textContent = KIND[ticket.kind] ?? ticket.kind;
    cells.priority.textContent = String(ticket.priority);
    cells.status.textContent = STATUS[ticket.status] ?? ticket.status;
    cells.department.textContent = ticket.department ?? "—";
    const holder = ticket.assigned_agent;
    cells.holder.textContent = holder ? (holder.agent_id === me.agent_id ? `${holder.name} (you)` : holder.name) : "—";
    tick(cells, ticket);
  }

  function tick(cells, ticket) {
    const now = Date.now();
    cells.waiting.textContent = waiting(ticket, now);
    const state = sla(ticket, now);
    cells.sla.textContent = state.text;
    cells.sla.dataset.state = state.state;
  }

  function render(list) {
    const ids = list.map((t) => t.ticket_id);
    const sameOrder = ids.length === shown.length && ids.every((id, i) => id === shown[i].ticket_id);
    for (const ticket of list) {
      if (!rows.has(ticket.ticket_id)) rows.set(ticket.ticket_id, row(ticket));
      fill(rows.get(ticket.ticket_id), ticket);
    }
    if (!sameOrder) {
      // Reordering moves rows; keep the keyboard focus on the ticket it was on.
      const focused = document.activeElement;
      body.replaceChildren(...ids.map((id) => rows.get(id).tr));
      if (focused && body.contains(focused)) focused.focus();
      for (const id of [...rows.keys()]) if (!ids.includes(id)) rows.delete(id);
    }
    shown = list;
    empty.hidden = list.length > 0;
    table.hidden = list.length === 0;
  }

  let generation = 0;
  let failed = false;

  // A filter change loads at once; pushed changes load again (only the latest load counts).
  async function load() {
    const mine = ++generation;
    const current = () => !stopped && mine === generation;
    try {
      const params = { status: filters.status, kind: filters.kind, department: filters.department, limit: 200 };
      const { tickets: list } = await tickets.list(params);
      presence?.refresh();
      if (!current()) return;
      render(list);
      const count = list.length === 1 ? "1 ticket" : `${list.length} tickets`;
      updated.textContent = `${count} · updated ${new Date().toLocaleTimeString()}`;
      if (failed) notices.clear();
      failed = false;
    } catch (error) {
      if (!current()) return;
      failed = true;
      notices.error(error);
    }
  }

  const ticker = setInterval(() => {
    for (const ticket of shown) tick(rows.get(ticket.ticket_id).cells, ticket);
  }, 1000);
  load();
  // Any change of a ticket this agent may see can move the queue: read it again.
  const live = follow({ indicator: liveState, refresh: load, change: () => load() });

  return {
    unmount() {
      stopped = true;
      live.close();
      clearInterval(ticker);
    },
  };
}
