// opsdeck dashboard: refreshes marked regions in place. An element with
// data-refresh="<url>" is replaced by the same element from that URL's HTML every
// data-interval seconds (default 5), only while the tab is visible. A button with
// data-copy="<id>" (hidden until this script shows it) copies that element's text to the
// clipboard. An element with data-load="<url>" and an id is replaced, once, by the same
// element from that URL's HTML (a section that loads on its own). Pages work without it.
"use strict";
(function () {
  // The element with `id` in the HTML page at `url`: null when the page has none,
  // undefined when the session has ended (the page reloads, landing on the login page).
  function fetchElement(url, id) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (response) {
        if (response.redirected || response.status === 401) { window.location.reload(); return undefined; }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text().then(function (html) {
          return new DOMParser().parseFromString(html, "text/html").getElementById(id);
        });
      });
  }

  function start(region) {
    var url = region.getAttribute("data-refresh");
    var every = Math.max(2, parseInt(region.getAttribute("data-interval") || "5", 10)) * 1000;
    var timer = null;
    var busy = false;

    function schedule() {
      clearTimeout(timer);
      if (!document.hidden) timer = setTimeout(tick, every);
    }

    function tick() {
      if (busy || document.hidden) return schedule();
      busy = true;
      fetchElement(url, region.id)
        .then(function (fresh) {
          if (fresh) {
            region.replaceChildren.apply(region, Array.prototype.slice.call(fresh.childNodes));
            region.removeAttribute("data-stale");
          }
        })
        .catch(function () { region.setAttribute("data-stale", "true"); })
        .then(function () { busy = false; schedule(); });
    }

    document.addEventListener("visibilitychange", function () {
      if (document.hidden) clearTimeout(timer); else tick();
    });
    schedule();
  }

  function load(region) {
    var url = region.getAttribute("data-load");
    fetchElement(url, region.id)
      .then(function (fresh) {
        if (fresh === undefined) return;
        if (!fresh) throw new Error("no section in the answer");
        region.replaceWith(document.importNode(fresh, true));
      })
      .catch(function (error) {
        region.removeAttribute("aria-busy");
        region.setAttribute("data-query-status", "load_failed");
        var note = region.querySelector("[data-loading]");
        if (note) {
          note.className = "error";
          note.textContent = "Could not be loaded (" + error.message + "): ";
          var again = document.createElement("a");
          again.href = url;
          again.textContent = "open on its own";
          note.appendChild(again);
        }
      });
  }

  function copier(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var done = button.parentNode.querySelector("[data-copied]");
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = source.value !== undefined ? source.value : source.textContent;
      var copied = navigator.clipboard && window.isSecureContext
        ? navigator.clipboard.writeText(text)
        : new Promise(function (resolve, reject) {
          // Plain http: the clipboard API is off, the selection still copies.
          source.focus();
          if (source.select) source.select();
          if (document.execCommand("copy")) resolve(); else reject(new Error("copy refused"));
        });
      copied.then(function () { if (done) done.hidden = false; })
        .catch(function () { if (source.select) source.select(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var regions = document.querySelectorAll("[data-refresh][id]");
    for (var i = 0; i < regions.length; i++) start(regions[i]);
    var loads = document.querySelectorAll("[data-load][id]");
    for (var k = 0; k < loads.length; k++) load(loads[k]);
    var copies = document.querySelectorAll("button[data-copy]");
    for (var j = 0; j < copies.length; j++) copier(copies[j]);
  });
})();
