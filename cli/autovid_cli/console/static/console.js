// auto-vid console: live regions, actions without a reload, clickable graph states. No dependencies.
(function () {
  "use strict";
  var POLL_MS = 2000;
  var extraPolls = 0; // polls still owed after an action, even if the page looks finished
  var timer = null;

  function token() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function schedule(delay) {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(poll, delay);
  }

  function poll() {
    timer = null;
    fetch(window.location.href, { headers: { "X-Console-Poll": "1" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        fresh.querySelectorAll("[data-live][id]").forEach(function (region) {
          var current = document.getElementById(region.id);
          if (current && current.innerHTML !== region.innerHTML) {
            var open = Array.prototype.map.call(current.querySelectorAll("details[open]"), function (d) {
              return d.querySelector("summary") ? d.querySelector("summary").textContent : "";
            });
            current.innerHTML = region.innerHTML;
            current.querySelectorAll("details").forEach(function (d) {
              var summary = d.querySelector("summary");
              if (summary && open.indexOf(summary.textContent) >= 0) { d.open = true; }
            });
          }
        });
        var live = fresh.body.getAttribute("data-poll");
        document.body.setAttribute("data-poll", live);
        var note = document.getElementById("live-note");
        var freshNote = fresh.getElementById("live-note");
        if (note && freshNote) { note.textContent = freshNote.textContent; }
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () {
        if (extraPolls > 0) { extraPolls -= 1; }
        if (document.body.getAttribute("data-poll") === "true" || extraPolls > 0) { schedule(POLL_MS); }
      });
  }

  // Forms marked data-async post with fetch: the page stays, its live regions follow the change.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-async")) { return; }
    event.preventDefault();
    var result = document.getElementById("action-result");
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": token() }
    })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (result) {
          result.textContent = answer.message || answer.error || "";
          result.className = answer.ok ? "ok" : "error";
        }
        if (answer.ok) { extraPolls = 5; schedule(200); }
      })
      .catch(function (error) { if (result) { result.textContent = String(error); result.className = "error"; } })
      .then(function () { buttons.forEach(function (b) { b.disabled = false; }); });
  });

  // A state in the graph opens its step details.
  document.addEventListener("click", function (event) {
    var box = event.target.closest ? event.target.closest("#graph .state-box") : null;
    var shape = box ? box.querySelector("[data-state]") : null;
    if (!shape) { return; }
    var url = new URL(window.location.href);
    url.searchParams.set("tab", "graph");
    url.searchParams.set("state", shape.getAttribute("data-state"));
    window.location.assign(url.toString());
  });

  if (document.body.getAttribute("data-poll") === "true") { schedule(POLL_MS); }
})();
