// The evaluation ranking's bar chart (cases/command/ranking.html). A static file rather than an
// inline script, so that the Content-Security-Policy can say script-src 'self' and nothing more.
(function () {
  var el = document.getElementById("score-chart");
  var source = document.getElementById("score-chart-data");
  if (!el || !source) { return; }
  var data = JSON.parse(source.textContent);
  // Without the library or without a scored unit there is nothing to draw; the table says it all.
  if (!window.echarts || !data.names.length) { el.hidden = true; return; }
  var chart = window.echarts.init(el);
  chart.setOption({
    tooltip: {},
    grid: { left: 48, right: 16, top: 24, bottom: 110 },
    xAxis: { type: "category", data: data.names, axisLabel: { rotate: 40, interval: 0 } },
    yAxis: { type: "value", min: 0, max: 100 },
    series: [{ type: "bar", name: data.label, data: data.scores, barMaxWidth: 48, itemStyle: { color: "#1f5fa8" } }]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
