// Small formatting helpers, and the pages' DOM builder (dom.js, shared with the web chat).

export { h } from "./dom.js";

export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  if (d > 0) return `${d}d ${hours}h`;
  if (hours > 0) return `${hours}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(s % 60)}s`;
  return `${s}s`;
}

export function waiting(ticket, now = Date.now()) {
  const end = ticket.resolved_at ? Date.parse(ticket.resolved_at) : now;
  return duration(end - Date.parse(ticket.created_at));
}

// The SLA is the time to a person's first response; state drives the styling, text says it.
export function sla(ticket, now = Date.now()) {
  if (ticket.first_response_at) return { state: "met", text: "met" };
  if (ticket.status === "resolved") return { state: "met", text: "closed" };
  const left = Date.parse(ticket.sla_due_at) - now;
  if (left <= 0 || ticket.sla_breached) return { state: "late", text: `overdue ${duration(-left)}` };
  return { state: left < 120_000 ? "soon" : "ok", text: `${duration(left)} left` };
}

export function clock(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today ? clock(iso) : date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

export const KIND = {
  conversation: "Conversation",
  escalation: "Escalation",
  question: "Question",
  approval: "Approval",
  action: "Action",
};

export const STATUS = { pending: "Pending", assigned: "Assigned", resolved: "Resolved" };

export function shortId(id) {
  return id.slice(0, 8);
}

// An action ticket in the queue: the tool to approve, and why it needs approval.
function actionLine(action) {
  const why = action.approval_reason && action.approval_reason !== "always" ? ` (${action.approval_reason})` : "";
  return `Tool call: ${action.tool_name}${why}`;
}

// One line about what the ticket needs, for the queue.
export function summary(ticket) {
  return (
    (ticket.kind === "question" && ticket.question) ||
    (ticket.kind === "approval" && ticket.draft_text) ||
    (ticket.kind === "escalation" && ticket.suggestion) ||
    (ticket.kind === "action" && ticket.action && actionLine(ticket.action)) ||
    ticket.reason ||
    `${KIND[ticket.kind] ?? ticket.kind} ticket ${shortId(ticket.ticket_id)}`
  );
}
