/* Case map on the detail page: the case point and its grid, drawn as vectors so the map is
   useful with no tile server at all; tiles are added only when the deployment names one. */
(function () {
  "use strict";
  var el = document.getElementById("case-map");
  var cfgEl = document.getElementById("case-map-config");
  if (!el || !cfgEl || typeof window.L === "undefined") {
    return;
  }
  var L = window.L;
  var cfg = JSON.parse(cfgEl.textContent);
  var map = L.map(el, { attributionControl: Boolean(cfg.tileUrl), scrollWheelZoom: false });
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, { attribution: cfg.attribution || "", maxZoom: 19 }).addTo(map);
  }
  var layers = [];
  if (cfg.grid) {
    layers.push(L.geoJSON(cfg.grid, { style: { color: "#1f5fa8", weight: 2, fillOpacity: 0.08 } }));
  }
  if (cfg.point) {
    layers.push(L.circleMarker(cfg.point, { radius: 8, color: "#b7282e", weight: 2, fillOpacity: 0.8 }));
  }
  var group = L.featureGroup(layers).addTo(map);
  var bounds = group.getBounds();
  if (bounds.isValid()) {
    map.fitBounds(bounds, { padding: [24, 24], maxZoom: 17 });
  } else {
    map.setView(cfg.center, 12);
  }
  el.setAttribute("data-ready", "true");
})();
