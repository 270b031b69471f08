/* The dashboard page: draws its four charts from the JSON the server rendered into the page. */
(function () {
  "use strict";
  var source = document.getElementById("insight-data");
  if (!source || !window.SizhiCharts) { return; }
  var data = JSON.parse(source.textContent);
  var C = window.SizhiCharts;
  C.trend(document.getElementById("trend-chart"), false).update(data.trend);
  C.pie(document.getElementById("channel-chart"), false).update(data.channels);
  C.bars(document.getElementById("category-chart"), data.names, false, true).update(data.categories);
  C.bars(document.getElementById("region-chart"), data.names, false, false).update(data.regions.rows);
})();
