// Dripcast console: progressive enhancement only (every page works without it). No inline
// script anywhere: the Content-Security-Policy allows this file alone.
"use strict";

function csrf() {
  const main = document.getElementById("main");
  return main ? main.dataset.csrf : "";
}

// A running broadcast redraws its live part every 2 seconds.
function pollLive(box) {
  const tick = async () => {
    try {
      const res = await fetch(box.dataset.live, { credentials: "same-origin" });
      if (res.ok) {
        box.innerHTML = await res.text();
        bindActions(box);
      }
    } catch (e) { /* the next tick tries again */ }
  };
  setInterval(tick, 2000);
  bindActions(box);
  box.refresh = tick;
}

// Pause, resume and cancel take effect at once and redraw without a reload.
function bindActions(box) {
  box.querySelectorAll("#broadcast-actions form").forEach((form) => {
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      await fetch(form.action, { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() } });
      if (box.refresh) { box.refresh(); }
    });
  });
}

// The composer swaps the template section when another template is chosen, and counts the
// audience as it changes.
function bindComposer(form) {
  const tpl = form.querySelector("#template_id");
  if (tpl) {
    tpl.addEventListener("change", async () => {
      const res = await fetch(tpl.dataset.part + "?template_id=" + encodeURIComponent(tpl.value), { credentials: "same-origin" });
      if (res.ok) { document.getElementById(tpl.dataset.target).innerHTML = await res.text(); }
    });
  }
  const count = form.querySelector("#audience-part");
  if (!count) { return; }
  let timer = null;
  const recount = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const params = new URLSearchParams(new FormData(form));
      params.delete("csrf");
      const res = await fetch(count.dataset.part + "?" + params.toString(), { credentials: "same-origin" });
      if (res.ok) { count.innerHTML = await res.text(); }
    }, 400);
  };
  form.querySelectorAll("#audience-fields input, #audience-fields select, #audience-fields textarea, #template_id")
    .forEach((el) => { el.addEventListener("change", recount); el.addEventListener("input", recount); });
}

// A form with data-confirm asks before it is sent (removing a person, revoking a key).
function bindConfirms() {
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (ev) => {
      if (!window.confirm(form.dataset.confirm)) { ev.preventDefault(); }
    });
  });
}

// An import shows its upload's progress (the server imports as the file streams in), then goes
// to the result page the server answers with.
function bindImport(form) {
  const bar = document.getElementById("upload-progress");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    const note = document.getElementById("upload-note");
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) {
        bar.hidden = false;
        bar.value = Math.round(100 * e.loaded / e.total);
        note.textContent = bar.value + " % of the file read";
      }
    });
    // The server reads the file as it imports it: once it has all of it, only the last rows remain.
    xhr.upload.addEventListener("load", () => { note.textContent = "Importing the last rows…"; });
    xhr.addEventListener("load", () => {
      if (xhr.responseURL && xhr.responseURL !== form.action) { window.location = xhr.responseURL; return; }
      // The form again, with its errors: swap the page's main part (parsed, never run).
      const main = new DOMParser().parseFromString(xhr.responseText, "text/html").getElementById("main");
      if (!main) { return; }
      document.getElementById("main").replaceWith(main);
      const again = document.getElementById("import-form");
      if (again) { bindImport(again); }
    });
    xhr.send(new FormData(form));
  });
}

// The segment builder counts the contacts its rules match as they change.
function bindSegmentCount(form) {
  const box = document.getElementById("segment-count-box");
  let timer = null;
  const recount = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const params = new URLSearchParams(new FormData(form));
      params.delete("csrf");
      params.delete("name");
      const res = await fetch(form.dataset.count + "?" + params.toString(), { credentials: "same-origin" });
      if (res.ok) { box.innerHTML = await res.text(); }
    }, 300);
  };
  form.addEventListener("input", recount);
  form.addEventListener("change", recount);
}

// The import form reads the chosen CSV's first rows in the browser and shows them with a field
// for each column; a choice other than the column's default is written into the mapping the
// server reads (field = column). Nothing from the file is ever parsed as HTML.
const importFields = ["phone", "name", "email", "tags", "time_zone", "opted_in"];

function defaultField(column) {
  const key = column.trim().toLowerCase();
  return importFields.includes(key) || importFields.includes(key.replace(/ /g, "_")) ? key.replace(/ /g, "_") : "attribute";
}

function parseCSV(text) {
  const rows = [];
  let row = [], cell = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (ch === '"') { quoted = false; } else { cell += ch; }
    } else if (ch === '"') { quoted = true; } else if (ch === ",") { row.push(cell); cell = ""; } else if (ch === "\n") {
      row.push(cell.replace(/\r$/, "")); rows.push(row); row = []; cell = "";
    } else { cell += ch; }
  }
  return rows; // a last line without its end may be cut short: left out
}

function bindMappingPreview(form) {
  const file = form.querySelector("#file"), box = document.getElementById("mapping-preview"), mapping = form.querySelector("#mapping");
  file.addEventListener("change", async () => {
    box.hidden = true;
    box.replaceChildren();
    const chosen = file.files[0];
    if (!chosen || !/\.(csv|txt)$/i.test(chosen.name)) { return; }
    const rows = parseCSV(await chosen.slice(0, 65536).text()).slice(0, 6);
    if (rows.length === 0) { return; }
    const header = rows[0], table = document.createElement("table"), head = table.createTHead().insertRow();
    const selects = header.map((column) => {
      const th = document.createElement("th"), select = document.createElement("select");
      th.append(column, document.createElement("br"), select);
      select.setAttribute("aria-label", "field for column " + column);
      for (const f of importFields.concat(["attribute"])) { select.add(new Option(f === "attribute" ? "attribute" : f, f)); }
      select.value = defaultField(column);
      select.addEventListener("change", () => {
        mapping.value = header.map((c, i) => selects[i].value === defaultField(c) ? "" :
          (selects[i].value === "attribute" ? "attributes." + c.trim().toLowerCase().replace(/[^a-z0-9_]+/g, "_") : selects[i].value) + " = " + c)
          .filter((line) => line !== "").join("\n");
      });
      head.append(th);
      return select;
    });
    const body = table.createTBody();
    for (const r of rows.slice(1)) {
      const tr = body.insertRow();
      for (let i = 0; i < header.length; i++) { tr.insertCell().textContent = r[i] ?? ""; }
    }
    const caption = table.createCaption();
    caption.textContent = "The file's first rows: choose what each column is.";
    box.append(table);
    box.hidden = false;
  });
}

document.addEventListener("DOMContentLoaded", () => {
  bindConfirms();
  const preview = document.getElementById("mapping-preview");
  if (preview) { bindMappingPreview(preview.closest("form")); }
  const seg = document.getElementById("segment-form");
  if (seg) { bindSegmentCount(seg); }
  const upload = document.getElementById("import-form");
  if (upload) { bindImport(upload); }
  const live = document.getElementById("live");
  if (live) { pollLive(live); }
  const compose = document.getElementById("compose");
  if (compose) { bindComposer(compose); }
  document.querySelectorAll("input.once").forEach((el) => el.addEventListener("focus", () => el.select()));
});
