// Parvis service worker: shows the web push notifications the platform sends (JSON with
// title, body, url and tag) and opens their page when they are clicked; when the network is
// gone, shows the site's offline page instead of the browser's error.
// It keeps only that page, the style sheet and the icons, fetched without cookies: nothing of
// anyone's account is stored on the device. Every other request goes to the network as is.
"use strict";

var KEPT = "parvis-hors-ligne-1";
var OFFLINE = "/hors-ligne";
var KEEP = [OFFLINE, "/static/parvis.css", "/static/icone-192.png"];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(KEPT).then(function (cache) {
      return cache.addAll(KEEP.map(function (path) {
        return new Request(path, { credentials: "omit", cache: "no-cache" });
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) {
        return n.indexOf("parvis-") === 0 && n !== KEPT;
      }).map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var path = new URL(request.url).pathname;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(function () {
      return caches.match(OFFLINE, { cacheName: KEPT });
    }));
  } else if (path !== OFFLINE && KEEP.indexOf(path) !== -1) {
    event.respondWith(fetch(request).catch(function () {
      return caches.match(path, { cacheName: KEPT });
    }));
  }
});

self.addEventListener("push", function (event) {
  var data = {};
  if (event.data) {
    try {
      data = event.data.json();
    } catch (e) {
      data = { body: event.data.text() };
    }
  }
  var options = {
    body: data.body || "",
    lang: "fr",
    data: { url: data.url || "/" }
  };
  if (data.tag) options.tag = data.tag;
  event.waitUntil(self.registration.showNotification(data.title || "Parvis", options));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
      for (var i = 0; i < list.length; i++) {
        if (list[i].url === url && "focus" in list[i]) return list[i].focus();
      }
      return self.clients.openWindow(url);
    })
  );
});
