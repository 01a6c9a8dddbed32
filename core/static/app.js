// On every page: registers the service worker, so that the site installs as an app and shows
// its offline page when the network is gone (see /sw.js); lets the keyboard scroll a table
// that scrolls sideways on a narrow screen (it becomes focusable, RGAA 7.3); and loads the
// maps' script where a page has a map (map.js, which loads the map library). Nothing else; the
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

  if (document.querySelector("[data-map]")) {
    var maps = document.createElement("script");
    maps.src = "/static/map.js";
    document.head.appendChild(maps);
  }

  if (!("serviceWorker" in navigator)) return;
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js").catch(function () {});
  });
})();
