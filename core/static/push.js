// Progressive enhancement of the notification page: subscribe this device to web push.
// Hidden when the browser has no service workers or Push API.
(function () {
  "use strict";
  var box = document.getElementById("push");
  if (!box || !window.fetch || !("serviceWorker" in navigator) || !("PushManager" in window) ||
      !("Notification" in window)) return;
  var on = document.getElementById("push-activer");
  var off = document.getElementById("push-desactiver");
  var status = document.getElementById("push-etat");
  var tokenField = box.querySelector('input[name="csrf_token"]');
  var token = tokenField ? tokenField.value : "";
  var keyUrl = box.getAttribute("data-cle");
  var apiUrl = box.getAttribute("data-abonnement");

  function say(text) { status.textContent = text; }
  function show(subscribed) { on.hidden = subscribed; off.hidden = !subscribed; }

  function bytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  // The server answers errors as {"error": {"code", "message"}} in French.
  function call(method, body) {
    return fetch(apiUrl, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify(body)
    }).then(function (r) {
      if (r.ok || (method === "DELETE" && r.status === 404)) return r;
      return r.json().then(function (e) {
        throw new Error((e && e.error && e.error.message) || "La demande a échoué.");
      }, function () { throw new Error("La demande a échoué (" + r.status + ")."); });
    });
  }

  navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function (registration) {
    return registration.pushManager.getSubscription();
  }).then(function (subscription) {
    show(!!subscription);
    box.hidden = false;
  }).catch(function () { /* no service worker here: the section stays hidden */ });

  on.addEventListener("click", function () {
    on.disabled = true;
    say("Activation…");
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        throw new Error("Les notifications sont bloquées pour ce site dans les réglages de votre navigateur.");
      }
      return fetch(keyUrl, { headers: { "Accept": "application/json" }, credentials: "same-origin" });
    }).then(function (r) {
      if (!r.ok) throw new Error("La clé du serveur n'a pas pu être lue.");
      return r.json();
    }).then(function (key) {
      return navigator.serviceWorker.ready.then(function (registration) {
        return registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes(key.cle) });
      });
    }).then(function (subscription) {
      return call("POST", subscription.toJSON());
    }).then(function () {
      show(true);
      say("Cet appareil recevra vos notifications.");
    }).catch(function (e) {
      say(e.message || "L'activation a échoué.");
    }).then(function () { on.disabled = false; });
  });

  off.addEventListener("click", function () {
    off.disabled = true;
    navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription();
    }).then(function (subscription) {
      if (!subscription) return null;
      return call("DELETE", { endpoint: subscription.endpoint }).then(function () {
        return subscription.unsubscribe();
      });
    }).then(function () {
      show(false);
      say("Cet appareil ne recevra plus vos notifications.");
    }).catch(function (e) {
      say(e.message || "La désactivation a échoué.");
    }).then(function () { off.disabled = false; });
  });
})();
