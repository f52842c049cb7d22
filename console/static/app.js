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
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) { bar.hidden = false; bar.value = Math.round(100 * e.loaded / e.total); }
    });
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

document.addEventListener("DOMContentLoaded", () => {
  bindConfirms();
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
