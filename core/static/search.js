// Progressive enhancement of the commune search: results as you type. Without JavaScript the
// form submits normally and the server renders the same results.
(function () {
  var input = document.getElementById("q");
  var out = document.getElementById("resultats");
  if (!input || !out || !window.fetch) return;
  var timer = null, last = null, seq = 0;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = input.value.trim();
      if (q === last) return;
      last = q;
      var mine = ++seq;
      fetch(input.getAttribute("data-search-url") + "?q=" + encodeURIComponent(q), { headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) { if (mine === seq) out.innerHTML = html; })
        .catch(function () {});
    }, 120);
  });
})();
