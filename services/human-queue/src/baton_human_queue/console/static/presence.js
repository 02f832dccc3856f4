// The header's presence control: the agent's status (online, away, offline) as a radio group
// named in words, and its load (tickets held against capacity).
//
// A radio group is one Tab stop; the arrow keys move between the choices and choose at once.
// Changes are sent one after another, so arrowing through the choices ends on the last one.
// The status and load are read again whenever a view reads its tickets (refresh()).

import { staff } from "./api.js";
import { h } from "./format.js";

export const PRESENCE = { online: "Online", away: "Away", offline: "Offline" };

export function presenceControl(container, { notices, onChange }) {
  const radios = Object.keys(PRESENCE).map((value) =>
    h("input", { type: "radio", name: "presence", value, id: `presence-${value}` }),
  );
  const control = h(
    "fieldset",
    { class: "presence-choices", "aria-describedby": "presence-load" },
    h("legend", {}, "Your status"),
    radios.map((radio) => h("label", { class: "choice" }, radio, ` ${PRESENCE[radio.value]}`)),
  );
  const load = h("span", { id: "presence-load", class: "load" });
  container.replaceChildren(control, load);
  const choose = (status) => {
    for (const radio of radios) radio.checked = radio.value === status;
  };

  let chain = Promise.resolve();
  let sending = 0;
  let reading = null;
  let again = false;

  function show(view) {
    container.hidden = !view;
    if (!view) return;
    if (!sending) choose(view.status);
    container.dataset.status = view.status;
    const held = `${view.open_tickets} of ${view.capacity} ticket${view.capacity === 1 ? "" : "s"}`;
    load.textContent = view.role === "supervisor" ? `${held} · Supervisor` : held;
    onChange?.(view);
  }

  control.addEventListener("change", (event) => {
    const status = event.target.value;
    sending += 1;
    chain = chain
      .then(async () => {
        try {
          const view = await staff.setStatus(status);
          notices.status(`You are ${PRESENCE[view.status].toLowerCase()}.`);
          sending -= 1;
          show(view);
        } catch (error) {
          sending -= 1;
          notices.error(error);
          refresh();
        }
      });
  });

  // Coalesced: a refresh asked for while one is reading makes one more read after it.
  async function refresh() {
    if (reading) {
      again = true;
      return reading;
    }
    reading = (async () => {
      do {
        again = false;
        try {
          show(await staff.me());
        } catch {
          // The views report a failing API themselves; the header keeps what it showed.
        }
      } while (again);
      reading = null;
    })();
    return reading;
  }

  return { show, refresh };
}
