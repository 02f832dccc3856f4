// Action tickets: the AI proposes a call of a configured tool, and a person approves it as
// proposed, edits its arguments first, or denies it.
//
// The arguments form is built from the tool's JSON Schema, one field per property. Values are
// parsed here so a typo is caught at its field; the server still checks the whole schema and
// its refusal (422 invalid_arguments) is shown with the form kept.

import { clock, h } from "./format.js";

// Strings are shown as they are; anything else as JSON, so 5 and "5" stay apart.
export function shown(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function sameArguments(a, b) {
  return canonical(a) === canonical(b);
}

// The arguments as a list of name and value.
export function argumentList(args) {
  const entries = Object.entries(args ?? {});
  if (entries.length === 0) return h("p", { class: "hint" }, "No arguments.");
  return h(
    "dl",
    { class: "args" },
    entries.map(([name, value]) => h("div", {}, h("dt", {}, name), h("dd", {}, shown(value)))),
  );
}

// What the call is: configured with the tool, not written by the AI.
export function toolFacts(action) {
  return h(
    "dl",
    { class: "args tool-facts" },
    h("div", {}, h("dt", {}, "Tool"), h("dd", { class: "tool-name" }, action.tool_name)),
    h("div", {}, h("dt", {}, "What it does"), h("dd", {}, action.description || "—")),
    h("div", {}, h("dt", {}, "Needs approval"), h("dd", {}, action.approval_reason || "—")),
  );
}

// A property's type, "null" aside; a list of several types falls back to JSON.
function typeOf(schema) {
  const declared = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  const real = declared.filter((t) => t !== "null");
  return real.length === 1 ? real[0] : undefined;
}

function bounds(schema) {
  const out = [];
  if (typeof schema.minimum === "number") out.push((n) => n >= schema.minimum || `Must be at least ${schema.minimum}.`);
  if (typeof schema.maximum === "number") out.push((n) => n <= schema.maximum || `Must be at most ${schema.maximum}.`);
  if (typeof schema.exclusiveMinimum === "number") {
    out.push((n) => n > schema.exclusiveMinimum || `Must be more than ${schema.exclusiveMinimum}.`);
  }
  if (typeof schema.exclusiveMaximum === "number") {
    out.push((n) => n < schema.exclusiveMaximum || `Must be less than ${schema.exclusiveMaximum}.`);
  }
  return out;
}

function describeType(schema, type, extra) {
  if (extra) return "Not in the tool's schema; JSON.";
  if (Array.isArray(schema.enum)) return "One of the listed values.";
  const limits = [
    typeof schema.minimum === "number" && `at least ${schema.minimum}`,
    typeof schema.maximum === "number" && `at most ${schema.maximum}`,
  ].filter(Boolean);
  const more = limits.length ? `, ${limits.join(", ")}` : "";
  if (type === "integer") return `A whole number${more}.`;
  if (type === "number") return `A number${more}.`;
  if (type === "string") return schema.format ? `Text (${schema.format}).` : undefined;
  if (type === "boolean") return undefined;
  if (type === "array") return "A JSON array.";
  if (type === "object") return "A JSON object.";
  return "A JSON value.";
}

class FieldError extends Error {}

function fail(message) {
  throw new FieldError(message);
}

// One field. read() gives the value to send, undefined to leave the argument out, or throws
// a FieldError saying what is wrong.
function argumentField(index, name, schema, { has, proposed, required, typed, extra }) {
  const id = `arg-${index}`;
  const key = `arg:${name}`;
  const type = extra ? undefined : typeOf(schema);
  const hintText = [schema.description, describeType(schema, type, extra)].filter(Boolean).join(" ");
  const hint = hintText ? h("p", { id: `${id}-hint`, class: "hint" }, hintText) : null;
  const error = h("p", { id: `${id}-error`, class: "field-error", hidden: true });
  const changed = h("span", { class: "badge changed", hidden: true }, "changed");
  const label = h(
    "label",
    { for: id },
    h("span", { class: "arg-name" }, name),
    required ? h("span", { class: "required" }, " (required)") : null,
  );
  const described = [hint && `${id}-hint`, `${id}-error`].filter(Boolean).join(" ");
  const common = { id, name: key, "aria-describedby": described, "aria-required": required ? "true" : undefined };
  const remember = (control, value) => {
    typed[key] = value;
    check(control);
  };

  // An emptied field: left out when it may be, kept when the AI proposed "" or null.
  const empty = (what) => {
    if (has && (proposed === "" || proposed === null)) return proposed;
    if (required) fail(`Required: ${what}.`);
    return undefined;
  };

  let control;
  let read;
  const choices = Array.isArray(schema.enum) && !extra ? schema.enum : null;
  if (choices) {
    const known = has && choices.some((c) => sameArguments(c, proposed));
    const options = [];
    if (!has || !required) options.push(h("option", { value: "" }, required ? "— choose —" : "— not set —"));
    choices.forEach((choice, i) => options.push(h("option", { value: String(i) }, shown(choice))));
    if (has && !known) options.push(h("option", { value: "proposed" }, `${shown(proposed)} (proposed; not one of the allowed values)`));
    control = h("select", common, options);
    const initial = has ? (known ? String(choices.findIndex((c) => sameArguments(c, proposed))) : "proposed") : "";
    control.value = typed[key] ?? initial;
    control.addEventListener("change", () => remember(control, control.value));
    read = () => {
      if (control.value === "") return empty("choose a value");
      return control.value === "proposed" ? proposed : choices[Number(control.value)];
    };
  } else if (type === "string") {
    control = h("input", { ...common, type: "text", autocomplete: "off", spellcheck: "false" });
    control.value = typed[key] ?? (has ? shown(proposed) : "");
    control.addEventListener("input", () => remember(control, control.value));
    read = () => (control.value === "" ? empty("enter a value") : control.value);
  } else if (type === "integer" || type === "number") {
    const step = type === "integer" ? "1" : "any";
    control = h("input", { ...common, type: "number", step, inputmode: type === "integer" ? "numeric" : "decimal" });
    if (typeof schema.minimum === "number") control.min = String(schema.minimum);
    if (typeof schema.maximum === "number") control.max = String(schema.maximum);
    control.value = typed[key] ?? (has && typeof proposed === "number" ? String(proposed) : "");
    control.addEventListener("input", () => remember(control, control.value));
    const checks = bounds(schema);
    read = () => {
      // A number box reads "" for text it cannot parse; badInput tells it from an empty box.
      if (control.validity.badInput) fail(type === "integer" ? "Not a whole number." : "Not a number.");
      if (control.value.trim() === "") return empty("enter a number");
      const n = Number(control.value);
      if (!Number.isFinite(n)) fail("Not a number.");
      if (type === "integer" && !Number.isInteger(n)) fail("Must be a whole number.");
      for (const within of checks) {
        const verdict = within(n);
        if (verdict !== true) fail(verdict);
      }
      return n;
    };
  } else if (type === "boolean") {
    control = h("input", { ...common, type: "checkbox" });
    control.checked = typed[key] ?? (has && proposed === true);
    control.addEventListener("change", () => remember(control, control.checked));
    // Unticked and never proposed: left out rather than sent as false.
    read = () => (control.checked || has || required ? control.checked : undefined);
  } else {
    const text = has ? JSON.stringify(proposed, null, 2) : "";
    control = h("textarea", { ...common, rows: Math.min(8, text.split("\n").length + 1), spellcheck: "false", class: "json" });
    control.value = typed[key] ?? text;
    control.addEventListener("input", () => remember(control, control.value));
    read = () => {
      if (control.value.trim() === "") return empty("enter a JSON value");
      let value;
      try {
        value = JSON.parse(control.value);
      } catch (problem) {
        fail(`Not valid JSON: ${problem.message}`);
      }
      if (type === "object" && (value === null || typeof value !== "object" || Array.isArray(value))) {
        fail("Must be a JSON object, such as {\"key\": \"value\"}.");
      }
      if (type === "array" && !Array.isArray(value)) fail("Must be a JSON array, such as [1, 2].");
      return value;
    };
  }

  function setError(message) {
    error.hidden = !message;
    error.textContent = message ?? "";
    if (message) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  }

  // Says "changed" next to a value that differs from the AI's, and clears a fixed error.
  function check() {
    try {
      const value = read();
      setError(null);
      changed.hidden = value === undefined ? !has : has && sameArguments(value, proposed);
    } catch {
      changed.hidden = false;
    }
  }
  check();
  // A new error is shown only on submit; typing clears it as soon as the value parses.
  setError(null);

  const box = control.type === "checkbox" ? "arg-field arg-check" : "arg-field";
  const element = h(
    "div",
    { class: box, "data-argument": name },
    h("div", { class: "arg-label" }, label, changed),
    control,
    hint,
    error,
  );
  return { name, element, read, setError, focus: () => control.focus() };
}

// The form's fields for the action's schema and proposal; read() gives the arguments to send,
// or null after marking the fields that cannot be parsed.
export function argumentsForm(action, typed) {
  const schema = action.parameters && typeof action.parameters === "object" ? action.parameters : {};
  const properties = schema.properties && typeof schema.properties === "object" ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  const proposed = action.arguments && typeof action.arguments === "object" ? action.arguments : {};
  const has = (name) => Object.hasOwn(proposed, name);
  const names = Object.keys(properties);
  const extras = Object.keys(proposed).filter((name) => !Object.hasOwn(properties, name));
  const fields = [
    ...names.map((name, i) =>
      argumentField(i, name, properties[name] ?? {}, {
        has: has(name),
        proposed: proposed[name],
        required: required.has(name),
        typed,
      }),
    ),
    ...extras.map((name, i) =>
      argumentField(names.length + i, name, {}, { has: true, proposed: proposed[name], required: false, typed, extra: true }),
    ),
  ];
  const problem = h("p", { class: "field-error form-error", hidden: true, tabindex: "-1" });

  function read() {
    const entries = [];
    const invalid = [];
    for (const field of fields) {
      try {
        const value = field.read();
        field.setError(null);
        if (value !== undefined) entries.push([field.name, value]);
      } catch (error) {
        if (!(error instanceof FieldError)) throw error;
        field.setError(error.message);
        invalid.push(field);
      }
    }
    if (invalid.length) {
      const names = invalid.map((f) => f.name).join(", ");
      showProblem(`Fix ${invalid.length === 1 ? "this argument" : "these arguments"} first: ${names}.`, false);
      invalid[0].focus();
      return null;
    }
    showProblem(null);
    // fromEntries makes own properties, whatever the names (even "__proto__").
    return Object.fromEntries(entries);
  }

  function showProblem(message, focus = true) {
    problem.hidden = !message;
    problem.textContent = message ?? "";
    if (message && focus) problem.focus();
  }

  const elements = fields.length
    ? fields.map((f) => f.element)
    : [h("p", { class: "hint" }, "The tool takes no arguments.")];
  return {
    element: h("fieldset", { class: "arguments" }, h("legend", {}, "Arguments"), elements, problem),
    read,
    edited: (values) => !sameArguments(values, proposed),
    showProblem,
  };
}

const WHAT = {
  proposed: "Proposed by the AI",
  edited: "Arguments edited",
  approved: "Approved",
  denied: "Denied",
  expired: "Expired: nobody decided in time",
};

function changes(before = {}, after = {}) {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const absent = "(not set)";
  return names
    .filter((n) => !sameArguments(before[n], after[n]))
    .map((n) => {
      const was = Object.hasOwn(before, n) ? shown(before[n]) : absent;
      const now = Object.hasOwn(after, n) ? shown(after[n]) : absent;
      return h("li", {}, h("span", { class: "arg-name" }, n), `: ${was} → ${now}`);
    });
}

function historyEntry(entry) {
  let what = WHAT[entry.what] ?? entry.what;
  if (entry.what === "executed") what = entry.outcome === "failed" ? "Run: failed" : "Run: succeeded";
  const by = entry.by?.name ? ` by ${entry.by.name}` : "";
  const body = [];
  if (entry.what === "edited" && entry.previous_arguments && entry.arguments) {
    const list = changes(entry.previous_arguments, entry.arguments);
    if (list.length) body.push(h("ul", { class: "changes" }, list));
  } else if (entry.arguments && (entry.what === "proposed" || entry.what === "approved")) {
    body.push(argumentList(entry.arguments));
  }
  if (entry.what === "executed") {
    const facts = [
      entry.status_code != null && `HTTP ${entry.status_code}`,
      entry.duration_ms != null && `${entry.duration_ms} ms`,
    ].filter(Boolean);
    if (facts.length) body.push(h("p", { class: "hint" }, facts.join(" · ")));
    if (entry.error) body.push(h("p", { class: "history-text" }, `Error: ${entry.error}`));
  }
  if (entry.reason) {
    const label = entry.what === "proposed" ? "Needs approval" : entry.what === "denied" ? "Reason" : "Why";
    body.push(h("p", { class: "history-text" }, `${label}: ${entry.reason}`));
  }
  return h(
    "li",
    { class: "history-entry", "data-what": entry.what, "data-outcome": entry.outcome },
    h("p", { class: "message-head" }, h("span", { class: "role" }, `${what}${by}`), h("time", { datetime: entry.at }, clock(entry.at))),
    body,
  );
}

// The ticket's account of the call, oldest first.
export function historyList(history) {
  if (!history?.length) return h("p", { class: "hint" }, "Nothing recorded yet.");
  return h("ol", { class: "history" }, history.map(historyEntry));
}
