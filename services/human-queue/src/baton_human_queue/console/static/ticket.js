// One ticket: the thread, what the AI handed over, and the actions its holder can take:
// besides working it, its holder or a supervisor can transfer it (to a department, an agent,
// with a note), and a supervisor can assign it to an agent. An action ticket (a tool call the
// AI proposes) shows the call, a form of its arguments (action.js) and its history.
//
// Opening the ticket reads it with GET /v1/tickets/{id}, which counts as the holder's
// activity. Pushed changes (stream.js) then read the queue entry and the thread instead, so a
// tab left open does not keep renewing a claim nobody works on.

import { tickets } from "./api.js";
import { KIND, STATUS, clock, duration, h, shortId, sla, waiting, when } from "./format.js";
import { follow } from "./stream.js";
import { attachCanned } from "./canned.js";
import { notesSection } from "./notes.js";
import { argumentList, argumentsForm, historyList, toolFacts } from "./action.js";

// How each way of closing a ticket reads in its resolved line.
const RESOLVED_AS = {
  approve_action: "approved the action",
  deny_action: "denied the action",
  approve: "approved the draft",
  reject: "rejected the draft",
  answer: "answered",
};

const POLL_MS = 2500;

const MOOD = { positive: "Positive", neutral: "Neutral", frustrated: "Frustrated", angry: "Angry" };

const DRAFT_STATUS = {
  pending_approval: "Draft · waiting for approval",
  approved: "Draft · approved",
  rejected: "Draft · rejected",
};

function describe(message) {
  if (message.role === "user") return { kind: "user", label: "User" };
  if (message.role === "tool") {
    const person = message.human?.name;
    return { kind: "tool", label: person ? `Tool result · answered by ${person}` : "Tool result" };
  }
  if (Array.isArray(message.content)) return { kind: "tool", label: "AI · tool call" };
  if (message.provider === "baton") return { kind: "ai", label: "Baton · notice to the user" };
  if (message.provider === "human") {
    return { kind: "human", label: `Human · ${message.agent_name ?? message.human?.name ?? "agent"}` };
  }
  return { kind: "ai", label: `AI · ${message.agent_name ?? "assistant"}` };
}

function partText(part) {
  if (part.type === "tool-call") {
    const args = Object.entries(part.args ?? {})
      .map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
      .join("\n");
    return args ? `${part.tool_name}\n${args}` : part.tool_name;
  }
  if (part.type === "tool-result") return String(part.result ?? "");
  return JSON.stringify(part);
}

function messageItem(message) {
  const { kind, label } = describe(message);
  const badges = [];
  if (message.status) badges.push(DRAFT_STATUS[message.status] ?? `Draft · ${message.status}`);
  if (!message.visible_to_user && !message.status) badges.push("not shown to the user");
  const text = Array.isArray(message.content) ? message.content.map(partText).join("\n\n") : message.text;
  return h(
    "li",
    { class: `message message-${kind}`, "data-role": kind },
    h(
      "p",
      { class: "message-head" },
      h("span", { class: "role" }, label),
      h("time", { datetime: message.created_at }, when(message.created_at)),
      badges.map((badge) => h("span", { class: "badge" }, badge)),
    ),
    h("p", { class: "message-text" }, text),
  );
}

// crypto.randomUUID() exists only on https and localhost; the console may be served over
// plain http inside a company network.
function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fact(term, value) {
  return h("div", {}, h("dt", {}, term), h("dd", {}, value));
}

export function ticketView(container, ticketId, { me, notices, presence }) {
  let ticket = null;
  let ai = null;
  let thread = null;
  let messages = [];
  // An action ticket's account of the call; only GET /v1/tickets/{id} carries it.
  let history = [];
  let stopped = false;
  let timer = null;
  let busy = false;
  let panelKey = "";
  let messagesKeys = [];
  // What the agent typed, kept while the panel is rebuilt for a new ticket state.
  const typed = {};
  let replyKey = null;
  let pollFailed = false;

  const title = h("h2", { id: "ticket-title" }, `Ticket #${shortId(ticketId)}`);
  // The AI's summary comes first: what the agent reads before anything else.
  const summarySection = h("section", { class: "card ticket-summary", "aria-labelledby": "summary-title", hidden: true });
  const facts = h("dl", { class: "facts" });
  const aiSection = h("section", { class: "card ai", "aria-labelledby": "ai-title" });
  const panelTitle = h("h3", { id: "actions-title", tabindex: "-1" }, "Actions");
  const panel = h("div", { class: "actions-body" });
  const list = h("ol", { class: "messages", "aria-live": "polite", "aria-relevant": "additions" });
  const updated = h("p", { class: "updated" });
  const liveState = h("p", { class: "live", id: "live-state" });
  let live = null;
  const notes = notesSection(ticketId, { notices });
  const historyBody = h("div", { class: "history-body" });
  const historySection = h(
    "section",
    { class: "card call-history", "aria-labelledby": "history-title", hidden: true },
    h("h3", { id: "history-title" }, "History of the call"),
    historyBody,
  );

  container.replaceChildren(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "← Back to the queue")),
    h(
      "article",
      { "aria-labelledby": "ticket-title" },
      title,
      summarySection,
      facts,
      h(
        "div",
        { class: "ticket-layout" },
        h(
          "section",
          { class: "card thread", "aria-labelledby": "thread-title" },
          h("h3", { id: "thread-title" }, "Conversation"),
          list,
          liveState,
          updated,
        ),
        h(
          "div",
          { class: "side" },
          aiSection,
          h("section", { class: "card actions", "aria-labelledby": "actions-title" }, panelTitle, panel),
          historySection,
          notes.element,
        ),
      ),
    ),
  );

  const mine = () => ticket?.assigned_agent?.agent_id === me.agent_id;
  const leaseLeft = () => (ticket?.lease_expires_at ? Date.parse(ticket.lease_expires_at) - Date.now() : 0);

  function renderFacts() {
    const t = ticket;
    document.title = `${KIND[t.kind]} #${shortId(t.ticket_id)} · Baton agent console`;
    title.textContent = `${KIND[t.kind] ?? t.kind} #${shortId(t.ticket_id)}`;
    const holder =
      t.status !== "resolved" && t.assigned_agent ? (mine() ? `${t.assigned_agent.name} (you)` : t.assigned_agent.name) : "nobody";
    const state = sla(t);
    const user = [thread?.user_id, thread?.channel, t.user_tier && `tier ${t.user_tier}`].filter(Boolean).join(" · ");
    const expiry = [];
    if (t.expired_at) expiry.push(fact("Expired", `at ${clock(t.expired_at)}`));
    else if (t.expires_at && t.status !== "resolved") {
      const within = t.kind === "action" ? "Decide within" : "Answer within";
      expiry.push(fact(within, duration(Date.parse(t.expires_at) - Date.now())));
    }
    facts.replaceChildren(
      fact("Status", t.expired_at ? "Expired" : STATUS[t.status] ?? t.status),
      ...expiry,
      fact("Held by", holder),
      fact("Priority", String(t.priority)),
      fact("Department", t.department ?? "—"),
      fact("Waiting", waiting(t)),
      fact("SLA", h("span", { class: "sla", "data-state": state.state }, state.text)),
      fact("User", user || "—"),
      fact("Thread owner", thread ? (thread.owner === "ai" ? "the AI" : "people") : "—"),
    );
  }

  function renderSummary() {
    const summary = ticket.summary;
    summarySection.hidden = !summary;
    if (!summary) return;
    const key = `${summary.issue}|${summary.tried}|${summary.mood}`;
    if (summarySection.dataset.key === key) return;
    summarySection.dataset.key = key;
    summarySection.replaceChildren(
      h("h3", { id: "summary-title" }, "Summary"),
      // Written by the AI from the customer's words: never Baton's own voice.
      h("p", { class: "hint summary-notice" }, summary.notice),
      h(
        "dl",
        { class: "summary-facts" },
        fact("Issue", summary.issue),
        fact("Tried so far", summary.tried || "Nothing yet."),
        fact("Customer's mood", MOOD[summary.mood] ?? summary.mood),
      ),
    );
  }

  function renderAi() {
    const t = ticket;
    const fromAi = Boolean(t.question || t.suggestion || t.draft_text || t.action);
    const blocks = [h("h3", { id: "ai-title" }, fromAi ? "From the AI" : "Why it is here")];
    if (t.reason) blocks.push(h("p", { class: "reason" }, h("strong", {}, "Why: "), t.reason));
    // What the AI wrote may carry the customer's words: never present it as Baton's own voice.
    const notice = fromAi && ai?.notice ? h("p", { class: "hint ai-notice" }, ai.notice) : null;
    if (notice && !t.action) blocks.push(notice);
    if (t.question) {
      blocks.push(h("h4", {}, "Its question"), h("blockquote", { class: "ai-text" }, t.question));
      if (t.context) blocks.push(h("p", { class: "hint" }, h("strong", {}, "Context: "), t.context));
    }
    if (t.suggestion) {
      const confidence = t.confidence == null ? "" : ` (confidence ${Math.round(t.confidence * 100)}%)`;
      blocks.push(h("h4", {}, `Its suggested reply${confidence}`), h("blockquote", { class: "ai-text" }, t.suggestion));
    }
    if (t.draft_text) blocks.push(h("h4", {}, "Its draft"), h("blockquote", { class: "ai-text" }, t.draft_text));
    if (t.action) {
      // The tool, what it does and why it needs approval come from its configuration;
      // the arguments are the AI's.
      blocks.push(
        h("h4", {}, "The call it proposes"),
        toolFacts(t.action),
        h("h4", {}, "Proposed arguments"),
        notice,
        h("div", { class: "ai-text proposed-arguments" }, argumentList(t.action.arguments)),
      );
    }
    if (!t.reason && !fromAi) blocks.push(h("p", { class: "hint" }, "The conversation was handed to people."));
    aiSection.replaceChildren(...blocks.filter(Boolean));
  }

  function renderHistory() {
    historySection.hidden = ticket.kind !== "action";
    if (historySection.hidden) return;
    const key = JSON.stringify(history);
    if (historySection.dataset.key === key) return;
    historySection.dataset.key = key;
    historyBody.replaceChildren(historyList(history));
  }

  function renderMessages() {
    const keys = messages.map((m) => `${m.message_id}:${m.status}`);
    const grows = keys.length >= messagesKeys.length && messagesKeys.every((key, i) => key === keys[i]);
    // Only new messages are added, so the live region announces them and nothing else.
    if (grows) list.append(...messages.slice(messagesKeys.length).map(messageItem));
    else list.replaceChildren(...messages.map(messageItem));
    messagesKeys = keys;
  }

  function textField(name, label, { value = "", rows = 4, hint, required = true } = {}) {
    const id = `field-${name}`;
    const area = h("textarea", { id, name, rows, required, "aria-describedby": hint ? `${id}-hint` : undefined });
    area.value = typed[name] ?? value;
    area.addEventListener("input", () => {
      typed[name] = area.value;
    });
    // Ctrl+Enter (or Cmd+Enter) sends, as in most chat tools.
    area.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        area.form.requestSubmit();
      }
    });
    return [h("label", { for: id }, label), area, hint && h("p", { id: `${id}-hint`, class: "hint" }, hint)];
  }

  // A one-line text box; what the agent typed survives the panel being rebuilt.
  function inputField(name, label, { hint, required = false } = {}) {
    const id = `field-${name}`;
    const input = h("input", {
      id,
      name,
      type: "text",
      required,
      autocomplete: "off",
      spellcheck: "false",
      "aria-describedby": hint ? `${id}-hint` : undefined,
    });
    input.value = typed[name] ?? "";
    input.addEventListener("input", () => {
      typed[name] = input.value;
    });
    return [h("label", { for: id }, label), input, hint && h("p", { id: `${id}-hint`, class: "hint" }, hint)];
  }

  function actionForm(name, fields, buttons, submit) {
    const form = h("form", { class: `action action-${name}`, "data-action": name }, fields, h("div", { class: "buttons" }, buttons));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit(new FormData(form), event.submitter);
    });
    return form;
  }

  function button(text, options = {}) {
    return h("button", { type: options.type ?? "submit", class: options.primary ? "primary" : undefined, ...options.attrs }, text);
  }

  // then(ticket): after success; true when it left this view.
  // failed(error): after the API refused; the panel is kept as it is.
  async function act(action, body, { done, headers, clear = [], then, failed }) {
    if (busy) return;
    busy = true;
    const controls = [...panel.querySelectorAll("button, textarea, input, select")];
    for (const control of controls) control.disabled = true;
    notices.clear();
    let succeeded = false;
    try {
      const result = await tickets.act(ticketId, action, body, headers);
      ticket = result.ticket ?? result;
      for (const name of clear) {
        delete typed[name];
        const field = panel.querySelector(`[name="${name}"]`);
        if (field) field.value = "";
      }
      notices.status(done);
      succeeded = true;
    } catch (error) {
      notices.error(error);
      failed?.(error);
    } finally {
      busy = false;
      for (const control of controls) control.disabled = false;
    }
    if (succeeded && then?.(ticket)) return;
    render(true);
    // The thread and the thread owner changed too; don't wait for the next poll.
    poll(false);
  }

  function holderControls() {
    const left = h("p", { class: "lease" }, `Your claim runs for another ${duration(leaseLeft())}; your actions renew it.`);
    left.dataset.lease = "";
    return h(
      "div",
      { class: "claim-row" },
      left,
      h("div", { class: "buttons" }, [
        button("Renew claim", { type: "button", attrs: { onclick: () => act("claim", undefined, { done: "Claim renewed." }) } }),
        button("Release", {
          type: "button",
          attrs: { onclick: () => act("release", undefined, { done: "Ticket released to the queue." }) },
        }),
      ]),
    );
  }

  function kindForms() {
    const t = ticket;
    if (t.kind === "question") {
      return [
        actionForm("answer", textField("answer", "Your answer to the AI's question"), button("Send answer", { primary: true }), (data) =>
          act("answer", { text: data.get("answer") }, { done: "Answer sent; the AI continues its reply.", clear: ["answer"] }),
        ),
      ];
    }
    if (t.kind === "approval") {
      return [
        actionForm(
          "approve",
          textField("draft", "Draft to send", {
            value: t.draft_text ?? "",
            rows: 6,
            hint: "Edit the text before approving if it needs changes; the user receives exactly this.",
          }),
          button("Approve and send", { primary: true }),
          (data) => {
            const text = data.get("draft");
            const edited = text !== t.draft_text;
            act("approve", edited ? { text } : {}, {
              done: edited ? "Edited draft approved and sent." : "Draft approved and sent.",
              clear: ["draft"],
            });
          },
        ),
        actionForm(
          "reject",
          textField("review", "Review", { rows: 3, hint: "Why the draft must not be sent; the AI reads it." }),
          button("Reject draft"),
          (data) => act("reject", { review: data.get("review") }, { done: "Draft rejected.", clear: ["review"] }),
        ),
      ];
    }
    if (t.kind === "action") return actionForms(t);
    const replyButtons = [button("Send reply", { primary: true })];
    if (t.suggestion) {
      replyButtons.push(
        button("Use the AI's suggestion", {
          type: "button",
          attrs: {
            onclick: () => {
              const area = panel.querySelector("#field-reply");
              area.value = t.suggestion;
              typed.reply = t.suggestion;
              area.focus();
            },
          },
        }),
      );
    }
    const handback = (value, text, checked) =>
      h("label", { class: "choice" }, h("input", { type: "radio", name: "handback", value, checked }), ` ${text}`);
    const replyForm = actionForm("reply", textField("reply", "Reply to the user"), replyButtons, (data) => {
        // One key per composed text: a send retried after a network error is not sent twice,
        // and the API would answer a reused key with the first text.
        const text = data.get("reply");
        if (replyKey?.text !== text) replyKey = { text, key: randomKey() };
        // The reply answers the latest message on screen, not one that arrived while typing.
        const body = { text, in_reply_to: t.message_ids[t.message_ids.length - 1] };
        act("reply", body, { done: "Reply sent.", headers: { "Idempotency-Key": replyKey.key }, clear: ["reply"] });
    });
    const replyArea = replyForm.querySelector("#field-reply");
    const cannedButton = attachCanned(replyArea, ticketId, { notices, onInsert: (text) => (typed.reply = text) });
    replyForm.querySelector(".buttons").append(cannedButton);
    return [
      replyForm,
      actionForm(
        "resolve",
        h(
          "fieldset",
          {},
          h("legend", {}, "Resolve the ticket"),
          handback("ai", "Hand the conversation back to the AI", true),
          handback("none", "Keep it with people", false),
        ),
        button("Resolve"),
        (data) => {
          const to = data.get("handback");
          act("resolve", { handback: to }, { done: to === "ai" ? "Resolved; the AI has the conversation again." : "Resolved." });
        },
      ),
    ];
  }

  // Approve the call (with the arguments as the form holds them) or deny it with a reason.
  function actionForms(t) {
    const args = argumentsForm(t.action, typed);
    const approve = actionForm("approve-action", args.element, button("Approve and run", { primary: true }), () => {
      const values = args.read();
      if (values === null) return;
      const edited = args.edited(values);
      act(
        "approve-action",
        { arguments: values },
        {
          done: edited ? "Call approved with your edited arguments; the AI runs it." : "Call approved as proposed; the AI runs it.",
          // The server checks the arguments against the tool's schema: its sentence goes
          // by the form too, which stays as the agent left it.
          failed: (error) => {
            if (error.code === "invalid_arguments") args.showProblem(error.message);
          },
        },
      );
    });
    // Parsing is checked field by field in action.js, with errors next to each field.
    approve.noValidate = true;
    const deny = actionForm(
      "deny-action",
      textField("deny_reason", "Reason for denying", { rows: 3, hint: "Required. The AI reads it and does not make the call." }),
      button("Deny"),
      (data) => {
        const reason = data.get("deny_reason").trim();
        if (!reason) {
          notices.clear();
          notices.error("Give a reason for denying the call.");
          panel.querySelector("#field-deny_reason").focus();
          return;
        }
        act("deny-action", { reason }, { done: "Call denied; the AI is told why.", clear: ["deny_reason"] });
      },
    );
    return [approve, deny];
  }

  // Transfer (holder or supervisor) and assign (supervisor), folded away until wanted.
  function moveForms() {
    const t = ticket;
    const supervisor = me.role === "supervisor";
    const forms = [
      actionForm(
        "transfer",
        [
          ...inputField("transfer_department", "To department", {
            hint: `Leave it empty to keep ${t.department ? `“${t.department}”` : "no department"}.`,
          }),
          ...inputField("transfer_agent", "To agent (agent id)", {
            hint: "Leave it empty for the department's queue, where its assignment policy applies.",
          }),
          ...textField("transfer_note", "Note for whoever receives it (optional)", {
            rows: 3,
            required: false,
            hint: "Kept as an internal note on the ticket: never shown to the user or the AI.",
          }),
        ],
        button("Transfer"),
        (data) => {
          const department = data.get("transfer_department").trim();
          const agentId = data.get("transfer_agent").trim();
          const note = data.get("transfer_note").trim();
          if (!department && !agentId) {
            notices.clear();
            notices.error("Name a department, an agent, or both, to transfer the ticket.");
            panel.querySelector("#field-transfer_department").focus();
            return;
          }
          const body = {};
          if (department) body.department = department;
          if (agentId) body.agent_id = agentId;
          if (note) body.note = note;
          const to = [department && `department “${department}”`, agentId && `agent ${agentId}`].filter(Boolean).join(", ");
          act("transfer", body, {
            done: `Ticket #${shortId(ticketId)} transferred to ${to}.`,
            clear: ["transfer_department", "transfer_agent", "transfer_note"],
            // An agent may no longer see the ticket it gave away: back to the queue.
            then: (moved) => {
              if (supervisor || moved.assigned_agent?.agent_id === me.agent_id) return false;
              notices.go("#/", `Ticket #${shortId(ticketId)} transferred to ${to}.`);
              return true;
            },
          });
        },
      ),
    ];
    if (supervisor) {
      forms.push(
        actionForm(
          "assign",
          inputField("assign_agent", "Assign to agent (agent id)", {
            required: true,
            hint: "Over anyone's claim; the agent must serve the ticket's department and have room.",
          }),
          button("Assign"),
          (data) => {
            const agentId = data.get("assign_agent").trim();
            act("assign", { agent_id: agentId }, { done: `Ticket assigned to ${agentId}.`, clear: ["assign_agent"] });
          },
        ),
      );
    }
    const open = typed.moveOpen ?? false;
    const details = h("details", { class: "move", open }, h("summary", {}, supervisor ? "Transfer or assign" : "Transfer"), forms);
    details.addEventListener("toggle", () => {
      typed.moveOpen = details.open;
    });
    return details;
  }

  function renderPanel(focus) {
    const t = ticket;
    const expired = leaseLeft() <= 0;
    const key = `${t.status}|${t.assigned_agent?.agent_id ?? ""}|${mine() && expired}`;
    if (key === panelKey) {
      const lease = panel.querySelector("[data-lease]");
      if (lease) lease.textContent = `Your claim runs for another ${duration(leaseLeft())}; your actions renew it.`;
      return;
    }
    panelKey = key;
    const hadFocus = panel.contains(document.activeElement);
    const parts = [];
    if (t.status === "resolved" && t.expired_at) {
      const withoutIt = t.kind === "action" ? "the AI took the call as denied" : "the AI answered without it";
      const then = t.fallback === "human" ? "the conversation went to people" : withoutIt;
      parts.push(h("p", {}, `Closed unanswered at ${clock(t.expired_at)} (${t.expiry_reason}); ${then}.`));
    } else if (t.status === "resolved") {
      const r = t.resolution;
      const how = r ? `${r.agent_name} (${RESOLVED_AS[r.action] || r.action}) at ${clock(r.at)}` : "—";
      const back = r?.handback ? ` Handback: ${r.handback === "ai" ? "to the AI" : "kept with people"}.` : "";
      parts.push(h("p", {}, `Resolved by ${how}.${back}`));
    } else if (mine() && !expired) {
      parts.push(holderControls(), ...kindForms());
    } else {
      const claimedBy = t.assigned_agent && !mine() ? `Claimed by ${t.assigned_agent.name}. ` : "";
      const note = mine() ? "Your claim expired. " : claimedBy;
      parts.push(
        h("p", {}, `${note}Claim the ticket to work on it.`),
        h("div", { class: "buttons" }, button("Claim", { type: "button", primary: true, attrs: { onclick: () => act("claim", undefined, { done: "Ticket claimed." }) } })),
      );
    }
    if (t.status !== "resolved" && ((mine() && !expired) || me.role === "supervisor")) parts.push(moveForms());
    panel.replaceChildren(...parts);
    // An action's first argument, or the text to write, is where the work starts.
    const start = t.kind === "action" ? panel.querySelector(".arguments :is(input, select, textarea)") : null;
    if (focus || hadFocus) (start ?? panel.querySelector("textarea, button.primary") ?? panelTitle).focus();
  }

  function render(focus = false) {
    if (!ticket) return;
    renderSummary();
    renderFacts();
    renderAi();
    renderMessages();
    renderHistory();
    renderPanel(focus);
  }

  const historyOf = (detail) => detail.history ?? detail.ticket?.history ?? [];
  // While the agent works the ticket only its own actions change the history; reading it
  // then would renew the claim, so it is read while nobody works on it (or it is done).
  const working = () => mine() && ticket.status !== "resolved" && leaseLeft() > 0;
  const readHistory = async () => historyOf(await tickets.get(ticketId));

  async function poll(schedule = true) {
    try {
      const [{ tickets: found }, read] = await Promise.all([
        tickets.list({ thread_id: ticket.thread_id, status: "all", limit: 500 }),
        tickets.thread(ticket.thread_id),
      ]);
      if (stopped) return;
      ticket = found.find((t) => t.ticket_id === ticketId) ?? ticket;
      thread = read.thread;
      messages = read.messages;
      notes.show((read.notes ?? []).filter((n) => n.ticket_id === ticketId));
      if (ticket.kind === "action" && !working()) history = await readHistory();
      if (stopped) return;
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      presence?.refresh();
      if (pollFailed) notices.clear();
      pollFailed = false;
      render();
    } catch (error) {
      if (stopped) return;
      pollFailed = true;
      notices.error(error);
    } finally {
      if (schedule && !stopped) timer = setTimeout(poll, POLL_MS);
    }
  }

  async function open() {
    try {
      const detail = await tickets.get(ticketId);
      if (stopped) return;
      ticket = detail.ticket;
      ai = detail.ai;
      thread = detail.thread;
      messages = detail.messages;
      history = historyOf(detail);
      notes.show(detail.notes ?? []);
      render();
      // Read again when this ticket, or another of its thread, changes (its messages too).
      const ours = (c) => c.ticket_id === ticketId || c.thread_id === ticket.thread_id;
      const changed = (list) => list.some(ours) && poll(false);
      live = follow({ indicator: liveState, refresh: () => poll(false), change: changed });
    } catch (error) {
      if (stopped) return;
      notices.error(error);
      title.textContent = `Ticket #${shortId(ticketId)} could not be opened`;
      panel.replaceChildren(h("p", {}, "Go back to the queue and pick another ticket."));
    }
  }

  const ticker = setInterval(() => {
    if (ticket && !busy) {
      renderFacts();
      renderPanel(false);
    }
  }, 1000);
  open();

  return {
    unmount() {
      stopped = true;
      live?.close();
      clearTimeout(timer);
      clearInterval(ticker);
    },
  };
}
