// The console's shell: sign-in, the header (with the agent's presence), the alert and status
// regions, and routing between the queue (#/) and a ticket (#/tickets/<id>).
//
// Signing in sets the agent online, signing out sets it offline before the token is dropped.

import { ApiError, session, staff, whoAmI } from "./api.js";
import { h } from "./format.js";
import { presenceControl } from "./presence.js";
import { queueView } from "./queue.js";
import { ticketView } from "./ticket.js";

const main = document.getElementById("main");
const alertRegion = document.getElementById("alert");
const statusRegion = document.getElementById("status");
const who = document.getElementById("who");
const signOutButton = document.getElementById("sign-out");

let me = null;
let current = null;
// A message to show once the next view is open (after a move to another page).
let carried = null;

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
  // Open another view, then say what happened.
  go(hash, text) {
    carried = text;
    if (location.hash === hash) {
      notices.clear();
      notices.status(text);
      carried = null;
      route();
    } else {
      location.hash = hash;
    }
  },
};

// The agent's role, status and load stay in `me`, so views see them (me.role).
const presence = presenceControl(document.getElementById("presence"), {
  notices,
  onChange(view) {
    if (me) Object.assign(me, view);
  },
});

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
      let said = `Signed in as ${me.name}.`;
      try {
        Object.assign(me, await staff.setStatus("online"));
        said = `Signed in as ${me.name}; you are online.`;
      } catch (error) {
        // Said with the sign-in, so moving to the queue does not wipe it.
        said = `Signed in as ${me.name}, but your status could not be set to online: ${error.message}`;
      }
      if (location.hash.startsWith("#/")) {
        notices.status(said);
        route();
      } else {
        notices.go("#/", said);
      }
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
  presence.show(me?.status ? me : null);
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
      const found = await whoAmI(session.token);
      me = Object.assign(found, await staff.me());
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
  const context = { me, notices, presence };
  current = match ? ticketView(main, decodeURIComponent(match[1]), context) : queueView(main, context);
}

signOutButton.addEventListener("click", async () => {
  notices.clear();
  signOutButton.disabled = true;
  let offline = true;
  try {
    await staff.setStatus("offline");
  } catch {
    offline = false;
  } finally {
    signOutButton.disabled = false;
  }
  notices.status(offline ? "Signed out; you are offline." : "Signed out, but your status could not be set to offline.");
  signOut();
});
window.addEventListener("hashchange", () => {
  notices.clear();
  if (carried) notices.status(carried);
  carried = null;
  route();
});
route();
