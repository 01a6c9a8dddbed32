// On every page: registers the service worker, so that the site installs as an app and shows
// its offline page when the network is gone (see /sw.js); and lets the keyboard scroll a table
// that scrolls sideways on a narrow screen (it becomes focusable, RGAA 7.3). Nothing else; the
// pages work without.
(function () {
  "use strict";

  // A table wider than its box (the style sheet makes tables scroll below 40rem) takes the
  // focus, so arrow keys scroll it; one that fits gives it back.
  function scrollingTables() {
    var tables = document.querySelectorAll("table");
    for (var i = 0; i < tables.length; i++) {
      var t = tables[i];
      if (t.scrollWidth > t.clientWidth + 1) {
        if (!t.hasAttribute("tabindex")) {
          t.setAttribute("tabindex", "0");
          t.setAttribute("data-scrolls", "");
        }
      } else if (t.hasAttribute("data-scrolls")) {
        t.removeAttribute("tabindex");
        t.removeAttribute("data-scrolls");
      }
    }
  }
  scrollingTables();
  window.addEventListener("resize", scrollingTables);

  if (!("serviceWorker" in navigator)) return;
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js").catch(function () {});
  });
})();
