/* Dashboard charts drawn with the locally served ECharts. Every data item carries the URL of its
   case list, so a click on a point, bar or slice opens the cases behind that number. Words come
   from the page's JSON (translated on the server); this file holds no text of its own. */
(function () {
  "use strict";

  var LIGHT = { text: "#1f2933", muted: "#66788a", line: "#d9e2ec", series: ["#1f5fa8", "#1c7c54", "#b42318", "#b7791f", "#6b21a8", "#00695c"] };
  var DARK = { text: "#e6f1ff", muted: "#8fb3d9", line: "#1e3a5f", series: ["#3fa7ff", "#34d399", "#ff5d5d", "#fbbf24", "#c084fc", "#2dd4bf"] };

  function palette(dark) { return dark ? DARK : LIGHT; }

  function item(figure) { return { value: figure.value, url: figure.url }; }

  function follow(chart) {
    chart.on("click", function (params) {
      var url = params && params.data && params.data.url;
      if (url) { window.location.href = url; }
    });
  }

  function make(el) {
    if (!el) { return null; }
    if (!window.echarts) { el.hidden = true; return null; }
    var chart = window.echarts.init(el);
    follow(chart);
    window.addEventListener("resize", function () { chart.resize(); });
    return chart;
  }

  function axisStyle(p) {
    return {
      axisLine: { lineStyle: { color: p.line } },
      axisLabel: { color: p.muted },
      splitLine: { lineStyle: { color: p.line } }
    };
  }

  function trendOption(trend, p) {
    var x = axisStyle(p);
    var y = axisStyle(p);
    return {
      color: [p.series[0], p.series[1]],
      tooltip: { trigger: "axis" },
      legend: { data: [trend.names.created, trend.names.closed], textStyle: { color: p.text }, top: 0 },
      grid: { left: 44, right: 16, top: 36, bottom: 28 },
      xAxis: Object.assign({ type: "category", boundaryGap: false, data: trend.labels }, x),
      yAxis: Object.assign({ type: "value", minInterval: 1 }, y),
      series: [
        { name: trend.names.created, type: "line", smooth: true, symbolSize: 6, areaStyle: { opacity: 0.12 }, data: trend.created.map(item) },
        { name: trend.names.closed, type: "line", smooth: true, symbolSize: 6, data: trend.closed.map(item) }
      ]
    };
  }

  function barOption(rows, names, p, horizontal) {
    var labels = rows.map(function (r) { return r.label; });
    var cat = Object.assign({ type: "category", data: labels, axisLabel: { color: p.muted, interval: 0, rotate: horizontal ? 0 : 30 } }, { axisLine: { lineStyle: { color: p.line } } });
    var val = Object.assign({ type: "value", minInterval: 1 }, axisStyle(p));
    if (horizontal) { cat.inverse = true; }
    return {
      color: [p.series[0], p.series[3], p.series[2]],
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { data: [names.total, names.open, names.overdue], textStyle: { color: p.text }, top: 0 },
      grid: { left: horizontal ? 110 : 44, right: 16, top: 36, bottom: horizontal ? 24 : 70 },
      xAxis: horizontal ? val : cat,
      yAxis: horizontal ? cat : val,
      series: [
        { name: names.total, type: "bar", data: rows.map(function (r) { return item(r.total); }) },
        { name: names.open, type: "bar", data: rows.map(function (r) { return item(r.open); }) },
        { name: names.overdue, type: "bar", data: rows.map(function (r) { return item(r.overdue); }) }
      ]
    };
  }

  function pieOption(rows, p) {
    return {
      color: p.series,
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { bottom: 0, textStyle: { color: p.text } },
      series: [{
        type: "pie", radius: ["35%", "65%"], center: ["50%", "45%"],
        label: { color: p.text },
        data: rows.map(function (r) { return { name: r.label, value: r.total.value, url: r.total.url }; })
      }]
    };
  }

  function chartOf(el, optionFor) {
    var chart = make(el);
    return {
      update: function (data) {
        if (chart) { chart.setOption(optionFor(data), { notMerge: true }); }
      }
    };
  }

  window.SizhiCharts = {
    trend: function (el, dark) { return chartOf(el, function (d) { return trendOption(d, palette(dark)); }); },
    bars: function (el, names, dark, horizontal) {
      return chartOf(el, function (rows) { return barOption(rows, names, palette(dark), horizontal); });
    },
    pie: function (el, dark) { return chartOf(el, function (rows) { return pieOption(rows, palette(dark)); }); }
  };
})();
