// The report form's map and photo picker.
//
// The map must work on a closed government network with no tile server: grid outlines of the
// visible area come from our own GeoJSON endpoint and are drawn on a plain background; tiles
// are added only when SIZHI_TILE_URL is configured. A tap places the pin and fills the hidden
// lat/lng inputs; without JavaScript (or Leaflet) the address field is the way to say where.
(function () {
  "use strict";

  var form = document.getElementById("report-form");
  if (!form) {
    return;
  }

  // --- photos: tell the limit before the upload, the server checks again anyway ---------------
  var photos = document.getElementById("id_photos");
  var photosCount = document.getElementById("photos-count");
  var maxPhotos = parseInt(form.getAttribute("data-max-photos"), 10) || 9;
  if (photos && photosCount) {
    photos.addEventListener("change", function () {
      var n = photos.files ? photos.files.length : 0;
      if (n > maxPhotos) {
        var message = photosCount.getAttribute("data-msg-too-many");
        photos.setCustomValidity(message);
        photosCount.textContent = message;
      } else {
        photos.setCustomValidity("");
        photosCount.textContent = n ? n + " / " + maxPhotos : "";
      }
    });
  }

  // --- map -------------------------------------------------------------------------------------
  var el = document.getElementById("report-map");
  var latInput = document.getElementById("id_lat");
  var lngInput = document.getElementById("id_lng");
  var chosen = document.getElementById("location-chosen");
  var locateButton = document.getElementById("locate-me");
  var clearButton = document.getElementById("location-clear");
  if (!el || !latInput || !lngInput) {
    return;
  }
  if (typeof window.L === "undefined") {
    el.innerHTML = "";
    var p = document.createElement("p");
    p.className = "map-fallback";
    p.textContent = el.getAttribute("data-msg-nomap");
    el.appendChild(p);
    return;
  }
  var L = window.L;

  var center = [parseFloat(el.getAttribute("data-center-lat")), parseFloat(el.getAttribute("data-center-lng"))];
  var map = L.map(el, { zoomControl: true, attributionControl: true }).setView(center, 14);
  var tileUrl = el.getAttribute("data-tile-url");
  if (tileUrl) {
    L.tileLayer(tileUrl, { maxZoom: 19, attribution: el.getAttribute("data-tile-attribution") || "" }).addTo(map);
  }

  var gridStyle = { color: "#4b6b2f", weight: 1.5, fillColor: "#9fbf7f", fillOpacity: 0.15 };
  var gridLayer = L.geoJSON(null, {
    style: function () { return gridStyle; },
    // Interactive so that a tap shows the grid's name; the click still reaches the map and places the pin.
    onEachFeature: function (feature, layer) {
      if (feature.properties && feature.properties.name) {
        // Text content only: names come from data, never inserted as HTML.
        var label = document.createElement("span");
        label.textContent = feature.properties.name;
        layer.bindTooltip(label, { permanent: false, direction: "center", className: "grid-label" });
      }
    }
  }).addTo(map);

  var hint = L.control({ position: "bottomleft" });
  hint.onAdd = function () {
    var div = L.DomUtil.create("div", "grid-label");
    div.hidden = true;
    div.textContent = el.getAttribute("data-msg-zoom");
    return div;
  };
  hint.addTo(map);

  var gridsUrl = el.getAttribute("data-grids-url");
  var pending = null;
  function loadGrids() {
    var b = map.getBounds();
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (n) { return n.toFixed(5); }).join(",");
    if (pending) {
      pending.abort();
    }
    pending = new AbortController();
    fetch(gridsUrl + "?bbox=" + encodeURIComponent(bbox), { signal: pending.signal, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) {
          return;
        }
        gridLayer.clearLayers();
        gridLayer.addData(data);
        hint.getContainer().hidden = !data.truncated;
      })
      .catch(function () { /* aborted or offline: keep what is drawn */ });
  }
  map.on("moveend", loadGrids);
  loadGrids();

  var marker = null;
  function place(lat, lng, pan) {
    latInput.value = lat.toFixed(6);
    lngInput.value = lng.toFixed(6);
    if (marker) {
      marker.setLatLng([lat, lng]);
    } else {
      marker = L.circleMarker([lat, lng], { radius: 10, color: "#b8282d", weight: 3, fillColor: "#b8282d", fillOpacity: 0.6 }).addTo(map);
    }
    if (pan) {
      map.setView([lat, lng], Math.max(map.getZoom(), 16));
    }
    chosen.textContent = chosen.getAttribute("data-msg-chosen") + "：" + lat.toFixed(5) + ", " + lng.toFixed(5);
    clearButton.hidden = false;
  }
  function clear() {
    latInput.value = "";
    lngInput.value = "";
    if (marker) {
      map.removeLayer(marker);
      marker = null;
    }
    chosen.textContent = chosen.getAttribute("data-msg-none");
    clearButton.hidden = true;
  }

  map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng, false); });
  clearButton.addEventListener("click", clear);

  // After a refused submission the form comes back with the point the user had chosen.
  var lat0 = parseFloat(latInput.value);
  var lng0 = parseFloat(lngInput.value);
  if (isFinite(lat0) && isFinite(lng0)) {
    place(lat0, lng0, true);
  }

  // Phones give WGS-84, the same datum as our grids (and 天地图); GCJ-02 tile servers would be off by a few hundred metres.
  if (navigator.geolocation && window.isSecureContext) {
    locateButton.hidden = false;
    locateButton.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(
        function (pos) { place(pos.coords.latitude, pos.coords.longitude, true); },
        function () { /* refused or unavailable: the user taps the map instead */ },
        { enableHighAccuracy: true, timeout: 10000 }
      );
    });
  }
})();
