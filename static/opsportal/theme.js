/* Light / dark / auto for portal and status pages, sharing the admin's choice: the same
   localStorage key ("theme") and <html data-theme> attribute as Django's admin/js/theme.js,
   so toggling in either place changes both. Loaded in <head> so the page never flashes. */
"use strict";
(function () {
  function set(mode) {
    if (mode !== "light" && mode !== "dark" && mode !== "auto") mode = "auto";
    document.documentElement.dataset.theme = mode;
    try { localStorage.setItem("theme", mode); } catch (e) { /* private mode */ }
  }
  function cycle() {
    var current = "auto";
    try { current = localStorage.getItem("theme") || "auto"; } catch (e) { /* ignore */ }
    var dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
    var order = dark ? ["auto", "light", "dark"] : ["auto", "dark", "light"];
    set(order[(order.indexOf(current) + 1) % 3]);
  }
  var stored = null;
  try { stored = localStorage.getItem("theme"); } catch (e) { /* ignore */ }
  set(stored || "auto");
  window.addEventListener("load", function () {
    Array.prototype.forEach.call(document.getElementsByClassName("theme-toggle"), function (b) {
      b.addEventListener("click", cycle);
    });
  });
})();
