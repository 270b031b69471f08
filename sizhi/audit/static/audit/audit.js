// Records per day by result, from the json_script block the log page renders (no inline script,
// so a strict Content-Security-Policy holds).
(function () {
  "use strict";
  var el = document.getElementById("audit-chart");
  var source = document.getElementById("audit-chart-data");
  if (!el || !source || !window.echarts) { if (el) { el.hidden = true; } return; }
  var data = JSON.parse(source.textContent);
  var colours = { ok: "#3a8f52", denied: "#d98b00", failed: "#c62828" };
  var chart = window.echarts.init(el);
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis" },
    legend: { top: 0 },
    grid: { left: 40, right: 16, top: 32, bottom: 24 },
    xAxis: { type: "category", data: data.days },
    yAxis: { type: "value", minInterval: 1 },
    series: data.series.map(function (s) {
      return { name: s.label, type: "bar", stack: "total", data: s.counts, itemStyle: { color: colours[s.result] } };
    })
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
