/* The big screen: draws the page's figures, then asks the JSON endpoint every minute and updates
   the numbers, charts, ticker and map in place (no page reload, so the wall never flashes). If a
   refresh fails the last figures stay, with a note saying how old they are. */
(function () {
  "use strict";
  var dataEl = document.getElementById("insight-data");
  var cfgEl = document.getElementById("screen-config");
  if (!dataEl || !cfgEl) { return; }
  var data = JSON.parse(dataEl.textContent);
  var cfg = JSON.parse(cfgEl.textContent);
  var C = window.SizhiCharts;
  var trend = C ? C.trend(document.getElementById("screen-trend-chart"), true) : null;
  var categories = C ? C.bars(document.getElementById("screen-category-chart"), data.names, true, true) : null;
  var mapView = window.SizhiInsightMap
    ? window.SizhiInsightMap.create(document.getElementById("screen-map"), document.getElementById("screen-map-status"), cfg.map, { dark: true, heat: true })
    : null;
  var alertEl = document.getElementById("screen-alert");

  function text(id, value) {
    var node = document.getElementById(id);
    if (node) { node.textContent = value; }
  }

  function drawKpis(d) {
    var figures = d.kpis.slice();
    figures.push({ key: "satisfaction", value: d.satisfaction.text, url: d.satisfaction.numerator.url });
    figures.forEach(function (f) {
      var card = document.querySelector('.screen-kpi[data-key="' + f.key + '"]');
      if (!card) { return; }
      card.setAttribute("href", f.url);
      card.querySelector(".value").textContent = String(f.value);
    });
  }

  function drawTicker(rows) {
    var list = document.getElementById("screen-ticker");
    if (!list || !rows) { return; }
    list.textContent = "";
    rows.forEach(function (c) {
      var li = document.createElement("li");
      li.className = "warning-" + c.warning;
      var a = document.createElement("a");
      a.href = c.url;
      [["time", c.created_at], ["number", c.number], ["title", c.title], ["region", c.region], ["status", c.status]]
        .forEach(function (part) {
          var span = document.createElement(part[0] === "time" ? "time" : "span");
          span.className = part[0];
          span.textContent = part[1];
          a.appendChild(span);
          a.appendChild(document.createTextNode(" "));
        });
      li.appendChild(a);
      list.appendChild(li);
    });
  }

  function draw(d) {
    drawKpis(d);
    if (trend) { trend.update(d.trend); }
    if (categories) { categories.update(d.categories); }
    drawTicker(d.latest);
    text("screen-time", d.generated_at);
    text("screen-period", d.period.label);
  }

  function warn(message) {
    if (!alertEl) { return; }
    alertEl.textContent = message;
    alertEl.hidden = !message;
  }

  function refresh() {
    fetch(cfg.dataUrl, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) {
        if (r.status === 401 || r.status === 403) { throw new Error("expired"); }
        if (!r.ok) { throw new Error(String(r.status)); }
        return r.json();
      })
      .then(function (d) {
        data = d;
        draw(d);
        warn("");
        if (mapView) { mapView.refresh(); }
      })
      .catch(function (err) {
        warn(err && err.message === "expired" ? cfg.labels.expired : cfg.labels.stale.replace("%(time)s", data.generated_at));
      });
  }

  // The ticker moves one case to the end every few seconds, so a wall shows them all in turn.
  setInterval(function () {
    var list = document.getElementById("screen-ticker");
    if (list && list.children.length > 6) { list.appendChild(list.firstElementChild); }
  }, 4000);

  setInterval(function () {
    var now = new Date();
    function two(n) { return (n < 10 ? "0" : "") + n; }
    text("screen-clock", two(now.getHours()) + ":" + two(now.getMinutes()) + ":" + two(now.getSeconds()));
  }, 1000);

  var full = document.getElementById("screen-fullscreen");
  if (full) {
    full.addEventListener("click", function () {
      var root = document.documentElement;
      if (!document.fullscreenElement && root.requestFullscreen) { root.requestFullscreen(); }
      else if (document.exitFullscreen) { document.exitFullscreen(); }
    });
  }

  draw(data);
  setInterval(refresh, Math.max(10, cfg.refreshSeconds || 60) * 1000);
})();
