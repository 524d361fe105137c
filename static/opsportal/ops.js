/* Ops Portal: the few behaviours the design system needs (loaded on admin and portal pages).
   - "Show all columns" toggles on tables with secondary columns, remembered per table id;
     admin changelists get the same toggle (#changelist with .ops-has-secondary).
   - Relative time hints ("12 min ago") refresh every minute without a reload. */
"use strict";
(function () {
  function key(el) { return "ops-cols:" + (el.id || location.pathname); }
  function apply(box, on) {
    box.classList.toggle("ops-show-all", on);
    box.querySelectorAll("[data-ops-cols-toggle]").forEach(function (b) {
      b.setAttribute("aria-pressed", on ? "true" : "false");
      b.textContent = on ? "Hide secondary columns" : "Show all columns";
    });
  }
  function init() {
    document.querySelectorAll(".ops-has-secondary").forEach(function (box) {
      var stored = null;
      try { stored = localStorage.getItem(key(box)); } catch (e) { /* private mode */ }
      apply(box, stored === "1");
      box.querySelectorAll("[data-ops-cols-toggle]").forEach(function (b) {
        b.addEventListener("click", function (ev) {
          ev.preventDefault();
          var on = !box.classList.contains("ops-show-all");
          apply(box, on);
          try { localStorage.setItem(key(box), on ? "1" : "0"); } catch (e) { /* ignore */ }
        });
      });
    });
  }
  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  function hint(seconds) {
    var future = seconds > 0, s = Math.abs(seconds), m = Math.round(s / 60), t;
    if (s < 45) return "just now";
    if (m < 60) t = m + " min";
    else if (m < 1440) { var h = Math.floor(m / 60), r = m % 60; t = (r && h < 6) ? h + " h " + r + " min" : Math.round(m / 60) + " h"; }
    else if (m < 20160) t = plural(Math.round(m / 1440), "day");
    else if (m < 80640) t = Math.round(m / 10080) + " weeks";
    else return "";
    return future ? "in " + t : t + " ago";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.ops-when[datetime] .ops-rel").forEach(function (span) {
      var at = Date.parse(span.parentNode.getAttribute("datetime"));
      if (!isNaN(at)) { var h = hint((at - now) / 1000); if (h) span.textContent = ", " + h; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(); tick(); setInterval(tick, 60000); });
})();
