/* The insight map: the viewer's grids shaded by open cases (outlined red where a case is red-card
   overdue), the cases clustered, and a heat layer. It draws vectors on a plain background, so it
   works with no tile server at all; tiles are added only when the deployment names one
   (SIZHI_TILE_URL). Every figure in a popup links to the list of its cases. */
(function () {
  "use strict";

  var SHADES = ["#fdf1d6", "#f9d49b", "#f4a259", "#e7753f", "#d64545"];

  function shade(open, max) {
    if (!open) { return "#9fb3c8"; }
    var i = Math.min(SHADES.length - 1, Math.floor((open / Math.max(max, 1)) * SHADES.length));
    return SHADES[i];
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function link(href, text) { return el("a", { href: href }, text); }

  function create(container, statusEl, cfg, opts) {
    var L = window.L;
    if (!container || !L) { return null; }
    opts = opts || {};
    var words = cfg.labels || {};
    // The cluster layer needs a maximum zoom, which a map without tiles does not get from a tile layer.
    var map = L.map(container, { attributionControl: Boolean(cfg.tileUrl), preferCanvas: true, zoomControl: !opts.dark, maxZoom: 18 });
    if (cfg.tileUrl) {
      L.tileLayer(cfg.tileUrl, { attribution: cfg.attribution || "", maxZoom: 19 }).addTo(map);
    }
    var outline = opts.dark ? "#5aa9ff" : "#1f5fa8";
    var maxOpen = 1;

    var grids = L.geoJSON(null, {
      style: function (feature) {
        var p = feature.properties;
        return {
          color: p.overdue ? "#ff3b30" : outline, weight: p.overdue ? 2.5 : 1,
          fillColor: shade(p.open, maxOpen), fillOpacity: p.open ? 0.55 : 0.08
        };
      },
      onEachFeature: function (feature, layer) {
        var p = feature.properties;
        var box = el("div", { "class": "insight-popup" });
        box.appendChild(el("strong", {}, p.name));
        var line1 = el("div");
        line1.appendChild(document.createTextNode(words.open + " "));
        line1.appendChild(link(p.open_url, String(p.open)));
        box.appendChild(line1);
        var line2 = el("div");
        line2.appendChild(document.createTextNode(words.overdue + " "));
        line2.appendChild(link(p.overdue_url, String(p.overdue)));
        box.appendChild(line2);
        layer.bindPopup(box);
      }
    });

    var clusters = L.markerClusterGroup
      ? L.markerClusterGroup({ showCoverageOnHover: false, chunkedLoading: true, maxClusterRadius: 50 })
      : L.layerGroup();
    var cells = L.layerGroup();
    var points = L.layerGroup([clusters, cells]);
    var heat = L.heatLayer ? L.heatLayer([], { radius: 22, blur: 18, maxZoom: 15, minOpacity: 0.3 }) : null;

    grids.addTo(map);
    points.addTo(map);
    if (heat && opts.heat) { heat.addTo(map); }
    var overlays = {};
    overlays[words.grids] = grids;
    overlays[words.points] = points;
    if (heat) { overlays[words.heat] = heat; }
    L.control.layers(null, overlays, { collapsed: Boolean(opts.dark) }).addTo(map);

    if (cfg.bounds) {
      map.fitBounds(cfg.bounds, { padding: [16, 16] });
    } else {
      map.setView(cfg.center, 12);
    }

    var layer = opts.layer || "open";
    var controller = null;

    function say(parts) {
      if (statusEl) { statusEl.textContent = parts.filter(Boolean).join(" "); }
    }

    function query(url) {
      var b = map.getBounds();
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (n) { return n.toFixed(5); }).join(",");
      var sep = url.indexOf("?") === -1 ? "?" : "&";
      return url + sep + "bbox=" + bbox + "&layer=" + encodeURIComponent(layer) + "&period=" + encodeURIComponent(cfg.period || "day");
    }

    function getJSON(url, signal) {
      return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: signal })
        .then(function (r) {
          if (!r.ok) { throw new Error(String(r.status)); }
          return r.json();
        });
    }

    function drawGrids(data) {
      maxOpen = 1;
      data.features.forEach(function (f) { maxOpen = Math.max(maxOpen, f.properties.open); });
      grids.clearLayers();
      grids.addData(data.features);
      if (data.too_large) { return words.zoomForGrids; }
      return data.truncated ? words.gridsTruncated : "";
    }

    function dot(warning) {
      return L.divIcon({ className: "insight-dot insight-dot-" + warning, iconSize: [12, 12] });
    }

    function drawPoints(data) {
      clusters.clearLayers();
      cells.clearLayers();
      var heatData = [];
      if (data.mode === "points") {
        var markers = data.points.map(function (p) {
          var m = L.marker([p.lat, p.lng], { icon: dot(p.warning), title: p.number });
          var box = el("div", { "class": "insight-popup" });
          box.appendChild(link(cfg.detailUrl.replace("{id}", String(p.id)), p.number));
          box.appendChild(el("div", {}, p.title));
          box.appendChild(el("div", { "class": "muted" }, p.status_label));
          m.bindPopup(box);
          heatData.push([p.lat, p.lng, p.warning === "red" ? 1 : 0.6]);
          return m;
        });
        if (clusters.addLayers) { clusters.addLayers(markers); } else { markers.forEach(function (m) { clusters.addLayer(m); }); }
        if (heat) { heat.setOptions({ max: 1 }); heat.setLatLngs(heatData); }
        return "";
      }
      var top = 1;
      data.cells.forEach(function (c) { top = Math.max(top, c[2]); });
      data.cells.forEach(function (c) {
        var size = 24 + Math.round(20 * Math.sqrt(c[2] / top));
        var icon = L.divIcon({
          className: "insight-cell" + (c[3] ? " has-overdue" : ""),
          html: "<span>" + String(c[2]) + "</span>", iconSize: [size, size]
        });
        var m = L.marker([c[0], c[1]], { icon: icon });
        m.on("click", function () { map.setView([c[0], c[1]], Math.min(map.getZoom() + 2, 18)); });
        cells.addLayer(m);
        heatData.push([c[0], c[1], c[2]]);
      });
      if (heat) { heat.setOptions({ max: top }); heat.setLatLngs(heatData); }
      return words.cells;
    }

    function load() {
      if (controller && controller.abort) { controller.abort(); }
      controller = window.AbortController ? new AbortController() : null;
      var signal = controller ? controller.signal : undefined;
      return Promise.all([getJSON(query(cfg.gridsUrl), signal), getJSON(query(cfg.pointsUrl), signal)])
        .then(function (answers) {
          say([drawGrids(answers[0]), drawPoints(answers[1])]);
          container.setAttribute("data-ready", "true");
        })
        .catch(function (err) {
          if (err && err.name === "AbortError") { return; }
          say([words.failed]);
        });
    }

    map.on("moveend", debounce(load, 250));
    load();

    return {
      map: map,
      refresh: load,
      setLayer: function (value) { layer = value; return load(); }
    };
  }

  window.SizhiInsightMap = { create: create };
})();
