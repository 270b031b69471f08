/* The map page: one map, with a switch between open cases and cases reported in the period. */
(function () {
  "use strict";
  var cfgEl = document.getElementById("insight-map-config");
  if (!cfgEl || !window.SizhiInsightMap) { return; }
  var cfg = JSON.parse(cfgEl.textContent);
  var view = window.SizhiInsightMap.create(
    document.getElementById("insight-map"), document.getElementById("insight-map-status"), cfg, { heat: true }
  );
  var chooser = document.getElementById("insight-map-layer");
  if (view && chooser) {
    chooser.addEventListener("change", function () { view.setLayer(chooser.value); });
  }
})();
