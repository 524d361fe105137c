// The incident room: tabs (Room / Edit details), feed filters, update templates, the status
// page preview, confirmations and the next-update countdown. Works without it (everything
// shows, buttons post without confirming).
(function () {
  "use strict";
  function ready(fn) { if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn); }
  ready(function () {
    var room = document.getElementById("incident-room");
    if (!room) return;
    var main = document.getElementById("room-main"), details = document.getElementById("room-details");
    function show(tab) {
      main.hidden = tab !== "room"; details.hidden = tab !== "details";
      room.querySelectorAll("[data-tab]").forEach(function (a) { a.setAttribute("aria-selected", a.dataset.tab === tab ? "true" : "false"); });
    }
    var hasErrors = details.querySelector(".errornote, .errorlist");
    show(location.hash === "#details" || room.dataset.detailsOpen === "1" || hasErrors ? "details" : "room");
    room.querySelectorAll("[data-tab]").forEach(function (a) {
      a.addEventListener("click", function (e) { e.preventDefault(); show(a.dataset.tab); history.replaceState(null, "", "#" + a.dataset.tab); });
    });
    // feed filters
    room.querySelectorAll("[data-filter]").forEach(function (box) {
      box.addEventListener("change", function () {
        room.querySelectorAll('.room-event[data-group="' + box.dataset.filter + '"]').forEach(function (li) {
          li.classList.toggle("room-hidden", !box.checked);
        });
      });
    });
    // composer: templates and the status page preview
    var form = document.getElementById("post-update-form");
    if (form) {
      var text = form.querySelector("textarea"), preview = document.getElementById("room-preview");
      var previewText = document.getElementById("room-preview-text");
      var replace = form.querySelector('input[name="replace_customer_message"]');
      function external() { var r = form.querySelector('input[name="audience"]:checked'); return r && r.value === "external"; }
      function refresh() {
        preview.hidden = !external();
        previewText.textContent = text.value || "(your update)";
        if (replace) { replace.disabled = !external(); if (!external()) replace.checked = false; }
      }
      form.querySelectorAll("[data-template]").forEach(function (b) {
        b.addEventListener("click", function () { text.value = b.dataset.template; text.focus(); refresh(); });
      });
      form.addEventListener("input", refresh); form.addEventListener("change", refresh); refresh();
    }
    // confirmations where they matter
    room.querySelectorAll("[data-confirm]").forEach(function (b) {
      b.addEventListener("click", function (e) { if (!window.confirm(b.dataset.confirm)) e.preventDefault(); });
    });
    // the countdown ticks without a reload
    var countdown = document.getElementById("room-countdown");
    if (countdown && countdown.dataset.due) {
      var due = new Date(countdown.dataset.due);
      var tick = function () {
        var mins = Math.round((due - new Date()) / 60000);
        if (mins >= 0) { countdown.textContent = "next update due in " + mins + " min"; countdown.classList.remove("room-overdue"); }
        else { countdown.textContent = "update overdue by " + (-mins) + " min"; countdown.classList.add("room-overdue"); }
      };
      setInterval(tick, 30000);
    }
  });
})();
