// The console's shell: sign-in, the header, the alert and status regions, and routing
// between the queue (#/) and a ticket (#/tickets/<id>).

import { ApiError, session, whoAmI } from "./api.js";
import { h } from "./format.js";
import { queueView } from "./queue.js";
import { ticketView } from "./ticket.js";

const main = document.getElementById("main");
const alertRegion = document.getElementById("alert");
const statusRegion = document.getElementById("status");
const who = document.getElementById("who");
const signOutButton = document.getElementById("sign-out");

let me = null;
let current = null;

const notices = {
  error(error) {
    const detail = error instanceof ApiError || error instanceof Error ? error.message : String(error);
    alertRegion.replaceChildren(h("strong", {}, "Error: "), detail);
    // A token revoked or mistyped while signed in: back to the sign-in form, error kept.
    if (error instanceof ApiError && error.status === 401 && session.token) signOut();
  },
  clear() {
    alertRegion.replaceChildren();
    statusRegion.textContent = "";
  },
  status(text) {
    statusRegion.textContent = text;
  },
};

function signOut() {
  session.signOut();
  me = null;
  route();
}

function signInForm() {
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "token-hint",
  });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card sign-in", "aria-labelledby": "sign-in-title" },
    h("h2", { id: "sign-in-title" }, "Sign in"),
    h("label", { for: "token" }, "Agent token"),
    input,
    h(
      "p",
      { id: "token-hint", class: "hint" },
      "Your administrator creates it with “baton-queue agents create”. It is kept in this tab only.",
    ),
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    notices.clear();
    button.disabled = true;
    try {
      const token = input.value.trim();
      me = await whoAmI(token);
      session.signIn(token);
      notices.status(`Signed in as ${me.name}.`);
      if (!location.hash.startsWith("#/")) location.hash = "#/";
      route();
    } catch (error) {
      notices.error(error);
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function showHeader() {
  who.textContent = me ? `${me.name} · ${me.departments.join(", ")}` : "";
  signOutButton.hidden = !me;
}

async function route() {
  current?.unmount();
  current = null;
  if (!session.token) {
    me = null;
    showHeader();
    document.title = "Sign in · Baton agent console";
    main.replaceChildren(signInForm());
    document.getElementById("token").focus();
    return;
  }
  if (!me) {
    try {
      me = await whoAmI(session.token);
    } catch (error) {
      notices.error(error);
      if (session.token) {
        main.replaceChildren(
          h("p", {}, "The console could not check your sign-in. "),
          h("button", { type: "button", onclick: route }, "Try again"),
        );
      }
      return;
    }
  }
  showHeader();
  const match = location.hash.match(/^#\/tickets\/([^/?#]+)$/);
  const context = { me, notices };
  current = match ? ticketView(main, decodeURIComponent(match[1]), context) : queueView(main, context);
}

signOutButton.addEventListener("click", () => {
  notices.clear();
  notices.status("Signed out.");
  signOut();
});
window.addEventListener("hashchange", () => {
  notices.clear();
  route();
});
route();
