// The report form's map, photo picker, category questions and "same problem?" list.
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

  // --- the chosen category's further questions: a fragment rendered by the server -------------
  var categorySelect = document.getElementById("id_category");
  var questionsBox = document.getElementById("category-questions");
  if (categorySelect && questionsBox) {
    var questionsPending = null;
    categorySelect.addEventListener("change", function () {
      var value = categorySelect.value;
      if (questionsPending) {
        questionsPending.abort();
      }
      if (!value) {
        questionsBox.innerHTML = "";
        return;
      }
      questionsPending = new AbortController();
      fetch(questionsBox.getAttribute("data-url") + "?category=" + encodeURIComponent(value),
            { signal: questionsPending.signal, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : ""; })
        // Our own server-rendered, auto-escaped fragment; nothing typed by anyone is in it.
        .then(function (html) { questionsBox.innerHTML = html.trim(); })
        .catch(function () { /* aborted or offline: the server asks again after submission */ });
    });
  }

  // --- "same problem?": open cases nearby that read alike, before a second report is filed -----
  var similarBox = document.getElementById("similar-cases");
  var similarList = document.getElementById("similar-list");
  var description = document.getElementById("id_description");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]");
  var similarTimer = null;
  var similarPending = null;
  var similarLast = "";
  var similarDismissed = false;

  function msg(name) {
    return similarBox.getAttribute("data-msg-" + name) || "";
  }

  function hideSimilar() {
    similarBox.hidden = true;
    similarList.textContent = "";
  }

  function supportButton(item, note) {
    if (similarBox.getAttribute("data-authenticated") !== "1") {
      var login = document.createElement("a");
      login.className = "button button-small button-secondary";
      login.href = similarBox.getAttribute("data-login-url");
      login.textContent = msg("login");
      login.setAttribute("data-testid", "similar-login");
      return login;
    }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button button-small";
    button.textContent = msg("support");
    button.setAttribute("data-testid", "similar-support");
    button.addEventListener("click", function () {
      button.disabled = true;
      note.textContent = msg("working");
      fetch(item.support_url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrf ? csrf.value : "", "Accept": "application/json" }
      })
        .then(function (r) { return r.json().catch(function () { return {}; }); })
        .then(function (data) {
          note.textContent = data.message || msg("failed");
          if (!data.ok && data.error === "login_required" && data.login_url) {
            window.location.href = data.login_url;
          } else if (!data.ok) {
            button.disabled = false;
          }
        })
        .catch(function () {
          note.textContent = msg("failed");
          button.disabled = false;
        });
    });
    return button;
  }

  function showSimilar(items) {
    similarList.textContent = "";
    if (!items || !items.length) {
      similarBox.hidden = true;
      return;
    }
    items.forEach(function (item) {
      // Text content only: titles are what residents typed.
      var li = document.createElement("li");
      li.className = "similar-item";
      li.setAttribute("data-testid", "similar-item");
      var title = document.createElement("strong");
      title.className = "similar-title";
      title.textContent = item.title;
      var meta = document.createElement("span");
      meta.className = "similar-meta";
      meta.textContent = [
        item.status,
        msg("distance").replace("%(n)s", String(item.distance_m)),
        msg("created").replace("%(date)s", item.created)
      ].join(" · ");
      var note = document.createElement("span");
      note.className = "similar-note";
      note.setAttribute("role", "status");
      li.appendChild(title);
      li.appendChild(meta);
      li.appendChild(supportButton(item, note));
      li.appendChild(note);
      similarList.appendChild(li);
    });
    similarBox.hidden = false;
  }

  function lookUpSimilar() {
    var lat = document.getElementById("id_lat");
    var lng = document.getElementById("id_lng");
    var text = description ? description.value.trim() : "";
    var minText = parseInt(similarBox.getAttribute("data-min-text"), 10) || 8;
    if (similarDismissed || !lat || !lng || !lat.value || !lng.value || text.length < minText) {
      hideSimilar();
      similarLast = "";
      return;
    }
    var query = "lat=" + encodeURIComponent(lat.value) + "&lng=" + encodeURIComponent(lng.value) +
      "&text=" + encodeURIComponent(text.slice(0, 500));
    if (query === similarLast) {
      return;
    }
    similarLast = query;
    if (similarPending) {
      similarPending.abort();
    }
    similarPending = new AbortController();
    fetch(similarBox.getAttribute("data-url") + "?" + query, { signal: similarPending.signal, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { showSimilar(data ? data.items : []); })
      .catch(function () { /* aborted, throttled or offline: submitting still works */ });
  }

  function scheduleSimilar() {
    if (similarTimer) {
      window.clearTimeout(similarTimer);
    }
    similarTimer = window.setTimeout(lookUpSimilar, 700);
  }

  if (similarBox && similarList) {
    if (description) {
      description.addEventListener("input", scheduleSimilar);
    }
    // The map below announces every new or cleared point; a new place is worth a new look.
    form.addEventListener("sizhi:location", function () {
      similarDismissed = false;
      scheduleSimilar();
    });
    document.getElementById("similar-dismiss").addEventListener("click", function () {
      similarDismissed = true;
      hideSimilar();
    });
    scheduleSimilar();
  }

  function locationChanged() {
    form.dispatchEvent(new Event("sizhi:location"));
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
    locationChanged();
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
    locationChanged();
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
