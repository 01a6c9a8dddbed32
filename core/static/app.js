// On every page: registers the service worker, so that the site installs as an app and shows
// its offline page when the network is gone (see /sw.js); lets the keyboard scroll a table
// that scrolls sideways on a narrow screen (it becomes focusable, RGAA 7.3); and loads the
// maps' script where a page has a map (map.js, which loads the map library); shows a form's
// fieldsets that depend on a choice only while it is made. Nothing else; the pages work
// without.
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

  // A fieldset marked data-when="<field name>" data-is="<value>" (the questions of one
  // category of a report) shows only while that field of its form has that value; hidden, its
  // fields are disabled, so they are not sent. Without the script every one shows, and the
  // server reads only the chosen one's.
  function dependentFieldsets() {
    var sets = document.querySelectorAll("fieldset[data-when]");
    for (var i = 0; i < sets.length; i++) {
      (function (set) {
        var form = set.closest("form");
        var field = form && form.elements[set.getAttribute("data-when")];
        if (!field || !field.addEventListener) return;
        function update() {
          var on = field.value === set.getAttribute("data-is");
          set.hidden = !on;
          set.disabled = !on;
        }
        field.addEventListener("change", update);
        update();
      })(sets[i]);
    }
  }
  dependentFieldsets();

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
