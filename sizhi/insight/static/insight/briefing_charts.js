// The briefing's two bar charts (insight/briefings/detail.html). A static file rather than an
// inline script, so that the Content-Security-Policy can say script-src 'self' and nothing more.
(function () {
  var source = document.getElementById("briefing-chart-data");
  if (!source) { return; }
  var data = JSON.parse(source.textContent);
  function bar(id, names, values, label, color) {
    var el = document.getElementById(id);
    if (!el) { return; }
    // Without the library or without data there is nothing to draw; the tables say it all.
    if (!window.echarts || !names.length) { el.hidden = true; return; }
    var chart = window.echarts.init(el);
    chart.setOption({
      tooltip: {},
      grid: { left: 48, right: 16, top: 24, bottom: 100 },
      xAxis: { type: "category", data: names, axisLabel: { rotate: 35, interval: 0 } },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", name: label, data: values, barMaxWidth: 40, itemStyle: { color: color } }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  bar("category-chart", data.categories.names, data.categories.counts, data.categories.label, "#1f5fa8");
  bar("score-chart", data.scores.names, data.scores.scores, data.scores.label, "#b7282e");
})();
