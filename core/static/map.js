// Parvis's maps (loaded by app.js only on a page that has one). A page asks for a map with
//
//   <div class="map" data-map role="region" aria-label="…" data-outline="/contour.geojson"
//        [data-lat="…" data-lon="…"] [data-markers="URL"] [data-pick="ID"]>
//     <p class="map-off">La carte s'affiche quand JavaScript est activé.</p></div>
//
// and says everything the map shows in text beside it too: the map is an extra, never the
// only way (without JavaScript, or with a screen reader, the page is whole).
//   data-outline  a GeoJSON Feature drawn as the area (the commune's outline), the view fitted to it;
//   data-lat/lon  the view's centre when there is no outline (and a marker with data-pick);
//   data-markers  a URL answering, for ?s=&w=&n=&e=&cols=&rows= (the view and a grid over it),
//                 a JSON list of {count, lat, lon, bounds: [s, w, n, e], href?, title?}:
//                 one marker per group; a group of one links to its page, a larger one zooms;
//   data-spot     with data-lat/lon: one place pinned there (its label in the attribute), the map
//                 centred on it close up;
//   data-pick     the id of a fieldset holding inputs named "lat" and "lon": a click on the
//                 map, or the dragged pin, or « Me localiser », fills them in;
//   data-areas    a GeoJSON FeatureCollection of named areas (the commune's neighbourhoods,
//                 `properties.nom`), drawn over the outline, each labelled;
//   data-choropleth  with data-areas: the id of a JSON element, {"<area id>": {"classe": 0-4,
//                 "valeur": "…"}}: each area filled with its class's colour (--c0 … --c4);
//   data-draw     the id of a fieldset holding an input named "geometrie": clicks on the map
//                 add the corners of a polygon, « Fermer le contour » writes it there as GeoJSON
//                 Polygon geometry, « Recommencer » clears it.
// Tiles and their credit come from the host's configuration, in
// <meta name="parvis-map" content="URL TEMPLATE" data-attribution="…">.
(function () {
  "use strict";

  var maps = document.querySelectorAll("[data-map]");
  var meta = document.querySelector('meta[name="parvis-map"]');
  if (!maps.length || !meta) return;

  var css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = "/static/vendor/leaflet.css";
  document.head.appendChild(css);
  var lib = document.createElement("script");
  lib.src = "/static/vendor/leaflet.js";
  lib.onload = function () {
    for (var i = 0; i < maps.length; i++) build(maps[i]);
  };
  document.head.appendChild(lib);

  function number(v) {
    var n = parseFloat(v);
    return isFinite(n) ? n : null;
  }

  // data-choropleth: the id of a JSON element giving each neighbourhood (by its id) its
  // class, 0 to 4, and its value in words; the colours are the design system's --c0 … --c4.
  function choropleth(el) {
    var id = el.getAttribute("data-choropleth");
    var source = id && document.getElementById(id);
    if (!source) return null;
    try {
      return JSON.parse(source.textContent);
    } catch (e) {
      return null;
    }
  }

  function shade(k) {
    var v = getComputedStyle(document.documentElement).getPropertyValue("--c" + k);
    return (v && v.trim()) || "#3182bd";
  }

  function accent() {
    var v = getComputedStyle(document.documentElement).getPropertyValue("--accent");
    return (v && v.trim()) || "#1d4ed8";
  }

  function build(el) {
    var off = el.querySelectorAll(".map-off");
    for (var i = 0; i < off.length; i++) off[i].remove();
    // No sliding or fading for whom motion is unwelcome (and for stable screenshots).
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var map = L.map(el, {
      scrollWheelZoom: false,
      zoomSnap: 0.5,
      fadeAnimation: !still,
      zoomAnimation: !still,
      markerZoomAnimation: !still,
    });
    el.classList.add("map-live");
    // Leaflet's credit is a link to its site: the tile provider's is the one owed.
    map.attributionControl.setPrefix(false);
    var credit = document.createElement("span");
    credit.textContent = meta.getAttribute("data-attribution") || "";
    L.tileLayer(meta.content, {
      maxZoom: 19,
      attribution: credit.innerHTML,
      crossOrigin: false,
    }).addTo(map);
    map.zoomControl.getContainer().querySelectorAll("a").forEach(function (a) {
      a.title = a.classList.contains("leaflet-control-zoom-in") ? "Zoom avant" : "Zoom arrière";
      a.setAttribute("aria-label", a.title);
    });

    var lat = number(el.getAttribute("data-lat"));
    var lon = number(el.getAttribute("data-lon"));
    if (lat !== null && lon !== null) map.setView([lat, lon], 14);
    else map.setView([46.6, 2.4], 5);

    var ready = Promise.resolve();
    var outline = el.getAttribute("data-outline");
    if (outline) {
      ready = fetch(outline, { credentials: "same-origin" })
        .then(function (r) {
          return r.ok ? r.json() : null;
        })
        .then(function (feature) {
          if (!feature) return;
          var area = L.geoJSON(feature, {
            interactive: false,
            style: { color: accent(), weight: 3, fillOpacity: 0.06 },
          }).addTo(map);
          map.fitBounds(area.getBounds(), { padding: [12, 12] });
          el.setAttribute("data-outline-drawn", "");
        })
        .catch(function () {});
    }
    var areas = el.getAttribute("data-areas");
    if (areas) {
      ready = ready.then(function () {
        return fetch(areas, { credentials: "same-origin" })
          .then(function (r) {
            return r.ok ? r.json() : null;
          })
          .then(function (collection) {
            if (!collection || !collection.features || !collection.features.length) return;
            var values = choropleth(el);
            var layer = L.geoJSON(collection, {
              interactive: true,
              style: function (feature) {
                if (!values) return { color: accent(), weight: 2, dashArray: "4 4", fillOpacity: 0.12 };
                var v = values[feature.properties && feature.properties.id];
                if (!v) return { color: "#555", weight: 1, dashArray: "2 4", fillOpacity: 0 };
                return { color: "#333", weight: 1, fillColor: shade(v.classe), fillOpacity: 0.75 };
              },
              onEachFeature: function (feature, shape) {
                var name = feature.properties && feature.properties.nom;
                if (!name) return;
                var text = String(name);
                if (values) {
                  var v = values[feature.properties.id];
                  text += " : " + (v ? v.valeur : "pas assez de données");
                }
                shape.bindTooltip(text, { sticky: true });
              },
            }).addTo(map);
            if (!el.hasAttribute("data-outline-drawn")) {
              map.fitBounds(layer.getBounds(), { padding: [12, 12] });
            }
            el.setAttribute("data-areas-drawn", String(collection.features.length));
          })
          .catch(function () {});
      });
    }
    var markers = el.getAttribute("data-markers");
    if (markers) {
      ready.then(function () {
        groups(map, markers);
      });
    }
    var spot = el.getAttribute("data-spot");
    if (spot !== null && lat !== null && lon !== null) {
      map.setView([lat, lon], 17);
      L.marker([lat, lon], {
        icon: L.divIcon({ className: "map-pin", iconSize: [26, 26], iconAnchor: [13, 26] }),
        title: spot,
        alt: spot,
        interactive: false,
        keyboard: false,
      }).addTo(map);
    }
    var pick = el.getAttribute("data-pick");
    if (pick && document.getElementById(pick)) picker(map, document.getElementById(pick), el);
    var draw = el.getAttribute("data-draw");
    if (draw && document.getElementById(draw)) drawer(map, document.getElementById(draw), el);
  }

  // Drawing an area: each click on the map adds a corner; « Fermer le contour » closes the
  // ring and writes it, as GeoJSON Polygon geometry, into the fieldset's "geometrie" input.
  function drawer(map, fieldset, el) {
    var output = fieldset.querySelector('[name="geometrie"]');
    if (!output) return;
    var hint = fieldset.querySelector("[data-draw-hint]");
    if (hint) hint.textContent = "Touchez sur la carte les coins du quartier, un à un, puis «\u00a0Fermer le contour\u00a0».";
    var status = document.createElement("p");
    status.className = "hint";
    status.setAttribute("role", "status");
    var corners = [];
    var line = L.polyline([], { color: accent(), weight: 3 }).addTo(map);
    var shape = null;
    function show() {
      line.setLatLngs(corners);
      el.setAttribute("data-corners", String(corners.length));
    }
    map.on("click", function (e) {
      if (shape) return;
      corners.push(e.latlng);
      show();
      status.textContent = corners.length + (corners.length > 1 ? " coins placés." : " coin placé.");
    });
    var close = document.createElement("button");
    close.type = "button";
    close.className = "secondary";
    close.textContent = "Fermer le contour";
    close.addEventListener("click", function () {
      if (corners.length < 3) {
        status.textContent = "Placez au moins trois coins avant de fermer le contour.";
        return;
      }
      var ring = corners.map(function (c) {
        return [Number(c.lng.toFixed(6)), Number(c.lat.toFixed(6))];
      });
      ring.push(ring[0]);
      output.value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
      if (shape) shape.remove();
      shape = L.polygon(corners, { color: accent(), weight: 3, fillOpacity: 0.2 }).addTo(map);
      line.setLatLngs([]);
      el.setAttribute("data-drawn", "");
      status.textContent = "Contour fermé (" + corners.length + " coins). Nommez le quartier, puis ajoutez-le.";
    });
    var again = document.createElement("button");
    again.type = "button";
    again.className = "secondary";
    again.textContent = "Recommencer";
    again.addEventListener("click", function () {
      corners = [];
      output.value = "";
      if (shape) shape.remove();
      shape = null;
      el.removeAttribute("data-drawn");
      show();
      status.textContent = "Contour effacé.";
    });
    fieldset.appendChild(close);
    fieldset.appendChild(again);
    fieldset.appendChild(status);
  }

  // Markers from the module's listing, for the view: a grid of cells about 80 px wide.
  function groups(map, url) {
    var layer = L.layerGroup().addTo(map);
    var asked = 0;
    function load() {
      var b = map.getBounds();
      var size = map.getSize();
      var cols = Math.max(1, Math.min(64, Math.round(size.x / 80)));
      var rows = Math.max(1, Math.min(64, Math.round(size.y / 80)));
      var query =
        "s=" + b.getSouth().toFixed(6) + "&w=" + b.getWest().toFixed(6) +
        "&n=" + b.getNorth().toFixed(6) + "&e=" + b.getEast().toFixed(6) +
        "&cols=" + cols + "&rows=" + rows;
      var mine = ++asked;
      fetch(url + (url.indexOf("?") < 0 ? "?" : "&") + query, { credentials: "same-origin" })
        .then(function (r) {
          return r.ok ? r.json() : [];
        })
        .then(function (list) {
          if (mine !== asked) return;
          layer.clearLayers();
          list.forEach(function (g) {
            var label = g.count > 1 ? String(g.count) : "";
            var marker = L.marker([g.lat, g.lon], {
              icon: L.divIcon({
                className: g.count > 1 ? "map-group" : "map-spot",
                html: label,
                iconSize: g.count > 1 ? [34, 34] : [18, 18],
              }),
              title: g.count > 1 ? g.count + " éléments ici\u00a0: zoomer" : g.title || "",
              alt: g.count > 1 ? g.count + " éléments" : g.title || "",
              keyboard: true,
            }).addTo(layer);
            marker.on("click", function () {
              if (g.count > 1 && g.bounds) {
                map.fitBounds(
                  [
                    [g.bounds[0], g.bounds[1]],
                    [g.bounds[2], g.bounds[3]],
                  ],
                  { padding: [24, 24], maxZoom: 19 }
                );
              } else if (g.href) {
                window.location.href = g.href;
              }
            });
          });
        })
        .catch(function () {});
    }
    map.on("moveend", load);
    load();
  }

  // Choosing a place: the pin goes where the map is clicked, can be dragged, or goes to the
  // browser's position; each time the fieldset's lat and lon inputs are filled in.
  function picker(map, fieldset, el) {
    var latInput = fieldset.querySelector('[name="lat"]');
    var lonInput = fieldset.querySelector('[name="lon"]');
    if (!latInput || !lonInput) return;
    var status = document.createElement("p");
    status.className = "hint";
    status.setAttribute("role", "status");
    fieldset.appendChild(status);
    var pin = null;
    function place(latlng, how) {
      var lat = latlng.lat.toFixed(6);
      var lon = latlng.lng.toFixed(6);
      latInput.value = lat;
      lonInput.value = lon;
      latInput.dispatchEvent(new Event("change", { bubbles: true }));
      if (!pin) {
        pin = L.marker(latlng, {
          draggable: true,
          icon: L.divIcon({ className: "map-pin", iconSize: [26, 26], iconAnchor: [13, 26] }),
          title: "Le lieu choisi (déplacez-le pour l'ajuster)",
          alt: "Le lieu choisi",
        }).addTo(map);
        pin.on("dragend", function () {
          place(pin.getLatLng(), "déplacé");
        });
      } else {
        pin.setLatLng(latlng);
      }
      el.setAttribute("data-picked", lat + "," + lon);
      // French decimals take a comma: the two numbers are named, not run together by one.
      status.textContent =
        "Lieu " + how + " sur la carte\u00a0: latitude " + lat.replace(".", ",") +
        ", longitude " + lon.replace(".", ",");
    }
    var lat = number(latInput.value);
    var lon = number(lonInput.value);
    if (lat !== null && lon !== null) place(L.latLng(lat, lon), "repris");
    map.on("click", function (e) {
      place(e.latlng, "choisi");
    });
    if ("geolocation" in navigator) {
      var locate = document.createElement("button");
      locate.type = "button";
      locate.className = "secondary";
      locate.textContent = "Me localiser";
      locate.addEventListener("click", function () {
        status.textContent = "Recherche de votre position…";
        navigator.geolocation.getCurrentPosition(
          function (p) {
            var here = L.latLng(p.coords.latitude, p.coords.longitude);
            map.setView(here, 18);
            place(here, "localisé");
          },
          function () {
            status.textContent = "Position introuvable\u00a0: touchez la carte à l'endroit voulu.";
          },
          { enableHighAccuracy: true, timeout: 10000 }
        );
      });
      fieldset.appendChild(locate);
    }
  }
})();
