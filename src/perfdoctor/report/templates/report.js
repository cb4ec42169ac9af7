/* perfdoctor HTML report: draws the charts from the JSON block with Chart.js. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("perfdoctor-data").textContent);
  var css = getComputedStyle(document.documentElement);
  function colour(name) { return css.getPropertyValue("--" + name).trim(); }
  var KIND = {
    "db": colour("db"),
    "db.connect": colour("connect"),
    "http": colour("http"),
    "cache": colour("cache"),
    "request": colour("request")
  };
  var OTHER = colour("python");
  var HIT = colour("hit");
  var ROW_PX = 20;
  // Every chart made, by what it shows: the browser test reads it, and so can a person
  // in the console.
  var charts = window.perfdoctorCharts = {};

  Chart.defaults.font.family = css.getPropertyValue("font-family");
  Chart.defaults.color = colour("fg");
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;

  function cut(text, n) { return text.length > n ? text.slice(0, n - 1) + "\u2026" : text; }
  function ms(value) {
    if (value >= 100) return value.toFixed(0);
    if (value >= 10) return value.toFixed(1);
    return value.toFixed(2);
  }
  // Labels of a y axis: fewer characters on a narrow screen, so the bars keep most of the width.
  function labelRoom(canvas) { return canvas.parentNode.clientWidth < 560 ? 22 : 52; }

  function waterfall(canvas, w) {
    var rows = [{ kind: "request", label: w.name, detail: w.name, start: 0, end: w.latency,
                  ms: w.latency, at: null, hit: false }].concat(w.spans);
    var room = labelRoom(canvas);
    canvas.parentNode.style.height = (rows.length * ROW_PX + 56) + "px";
    return new Chart(canvas, {
      type: "bar",
      data: {
        // On a narrow screen the bar's colour alone tells the kind.
        labels: rows.map(function (r) {
          if (r.kind === "request") return "request";
          return room < 30 ? r.label.replace(/^SELECT \u2026 /, "") : r.kind + "  " + r.label;
        }),
        datasets: [{
          data: rows.map(function (r) { return [r.start, r.end]; }),
          backgroundColor: rows.map(function (r) { return r.hit ? HIT : (KIND[r.kind] || OTHER); }),
          borderWidth: 0,
          borderSkipped: false,
          // A 0.02 ms query on a 500 ms axis must still show.
          minBarLength: 3,
          barPercentage: 0.8,
          categoryPercentage: 1.0
        }]
      },
      options: {
        indexAxis: "y",
        responsive: true,
        plugins: {
          legend: { display: false },
          tooltip: {
            callbacks: {
              title: function (items) {
                var r = rows[items[0].dataIndex];
                return r.kind + (r.hit ? " (this finding)" : "");
              },
              label: function (item) {
                var r = rows[item.dataIndex];
                var lines = [cut(r.detail, 120),
                  ms(r.start) + " \u2192 " + ms(r.end) + " ms (" + ms(r.ms) + " ms)"];
                if (r.at) lines.push("at " + r.at);
                return lines;
              }
            }
          }
        },
        scales: {
          x: {
            type: "linear", position: "top", min: 0, suggestedMax: w.end || 1,
            title: { display: true, text: "ms since the request started" },
            grid: { color: "#eaeef2" }
          },
          y: {
            grid: { display: false },
            ticks: {
              autoSkip: false,
              crossAlign: "far",
              font: { size: 11, family: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" },
              callback: function (value) { return cut(String(this.getLabelForValue(value)), room); }
            }
          }
        }
      }
    });
  }

  // Draws the p95 of a histogram as a dashed vertical line.
  var p95Line = {
    id: "p95Line",
    afterDatasetsDraw: function (chart, args, options) {
      if (options.value == null) return;
      var x = chart.scales.x.getPixelForValue(options.value);
      var area = chart.chartArea;
      if (x < area.left || x > area.right) return;
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = colour("error");
      ctx.setLineDash([4, 3]);
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(x, area.top);
      ctx.lineTo(x, area.bottom);
      ctx.stroke();
      ctx.fillStyle = colour("error");
      ctx.font = "11px " + Chart.defaults.font.family;
      var text = "p95 " + ms(options.value);
      var width = ctx.measureText(text).width;
      // Above the bars, in the padding kept for it, where no bar can hide it.
      ctx.textBaseline = "bottom";
      ctx.fillText(text, Math.max(area.left, Math.min(x - width / 2, area.right - width)), area.top - 2);
      ctx.restore();
    }
  };

  function histogram(canvas, h) {
    var width = h.edges.length > 1 ? h.edges[1] - h.edges[0] : 1;
    return new Chart(canvas, {
      type: "bar",
      plugins: [p95Line],
      data: {
        datasets: [{
          data: h.counts.map(function (n, i) { return { x: h.edges[i] + width / 2, y: n }; }),
          backgroundColor: colour("db"),
          borderColor: "#ffffff",
          borderWidth: { left: 1, right: 0, top: 0, bottom: 0 },
          barPercentage: 1.0,
          categoryPercentage: 1.0,
          grouped: false
        }]
      },
      options: {
        responsive: true,
        layout: { padding: { top: 14 } },
        plugins: {
          legend: { display: false },
          p95Line: { value: h.p95 },
          tooltip: {
            callbacks: {
              title: function (items) {
                var i = items[0].dataIndex;
                return ms(h.edges[i]) + "\u2013" + ms(h.edges[i + 1]) + " ms";
              },
              label: function (item) {
                return item.parsed.y + " request" + (item.parsed.y === 1 ? "" : "s");
              }
            }
          }
        },
        scales: {
          x: {
            type: "linear", offset: false, min: h.edges[0], max: h.edges[h.edges.length - 1],
            title: { display: true, text: "ms", padding: 0 },
            ticks: { maxTicksLimit: 6, callback: function (v) { return v.toFixed(h.decimals); } },
            grid: { display: false }
          },
          y: {
            beginAtZero: true,
            title: { display: true, text: "requests", padding: 0 },
            ticks: { precision: 0, maxTicksLimit: 4 },
            grid: { color: "#eaeef2" }
          }
        }
      }
    });
  }

  function breakdown(canvas, rows) {
    var parts = [["db", "db"], ["http", "http"], ["cache", "cache"], ["python", "python"]];
    var room = labelRoom(canvas);
    canvas.parentNode.style.height = (rows.length * 24 + 80) + "px";
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.map(function (r) { return r.name; }),
        datasets: parts.map(function (p) {
          return {
            label: p[0] === "python" ? "python (own code)" : p[0],
            data: rows.map(function (r) { return r[p[0]]; }),
            backgroundColor: colour(p[1]),
            barPercentage: 0.8,
            categoryPercentage: 0.9
          };
        })
      },
      options: {
        indexAxis: "y",
        responsive: true,
        plugins: {
          legend: { position: "top", align: "start" },
          tooltip: {
            callbacks: {
              label: function (item) {
                return item.dataset.label + ": " + ms(item.parsed.x) + " ms per request";
              }
            }
          }
        },
        scales: {
          x: { stacked: true, beginAtZero: true, position: "top",
               title: { display: true, text: "mean ms per request" }, grid: { color: "#eaeef2" } },
          y: { stacked: true, grid: { display: false },
               ticks: { autoSkip: false, callback: function (value) {
                 return cut(String(this.getLabelForValue(value)), room);
               } } }
        }
      }
    });
  }

  function compare(canvas, rows) {
    var room = labelRoom(canvas);
    canvas.parentNode.style.height = (rows.length * 36 + 80) + "px";
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.map(function (r) { return r.name; }),
        datasets: [
          { label: "median before", data: rows.map(function (r) { return r.before; }),
            backgroundColor: colour("python") },
          { label: "median after", data: rows.map(function (r) { return r.after; }),
            backgroundColor: colour("db") }
        ]
      },
      options: {
        indexAxis: "y",
        responsive: true,
        plugins: {
          legend: { position: "top", align: "start" },
          tooltip: { callbacks: { label: function (item) {
            return item.dataset.label + ": " + ms(item.parsed.x) + " ms";
          } } }
        },
        scales: {
          x: { beginAtZero: true, title: { display: true, text: "median latency, ms" },
               grid: { color: "#eaeef2" } },
          y: { grid: { display: false }, ticks: { autoSkip: false, callback: function (value) {
            return cut(String(this.getLabelForValue(value)), room);
          } } }
        }
      }
    });
  }

  document.querySelectorAll("canvas.waterfall-chart").forEach(function (canvas) {
    var key = canvas.dataset.finding;
    charts["waterfall:" + key] = waterfall(canvas, data.waterfalls[key]);
  });
  document.querySelectorAll("canvas.histogram-chart").forEach(function (canvas) {
    var key = canvas.dataset.endpoint;
    charts["histogram:" + key] = histogram(canvas, data.histograms[key]);
  });
  var breakdownCanvas = document.getElementById("breakdown-chart");
  if (breakdownCanvas) charts.breakdown = breakdown(breakdownCanvas, data.breakdown);
  var compareCanvas = document.getElementById("compare-chart");
  if (compareCanvas && data.compare && data.compare.length) {
    charts.compare = compare(compareCanvas, data.compare);
  } else if (compareCanvas) {
    compareCanvas.parentNode.style.display = "none";
  }

  function openAll(open) {
    document.querySelectorAll("details.finding").forEach(function (d) { d.open = open; });
  }
  var expand = document.getElementById("expand-all");
  var collapse = document.getElementById("collapse-all");
  if (expand) expand.addEventListener("click", function () { openAll(true); });
  if (collapse) collapse.addEventListener("click", function () { openAll(false); });
  // Following a link to a collapsed finding opens it.
  function openTarget() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === "DETAILS") target.open = true;
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
})();
