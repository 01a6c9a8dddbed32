// On every page: registers the service worker, so that the site installs as an app and shows
// its offline page when the network is gone (see /sw.js). Nothing else; the pages work without.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator)) return;
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js").catch(function () {});
  });
})();
