/* Draws the benchmark report's charts with Chart.js from the JSON in #bench-data. No network. */
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('bench-data').textContent);
  var fg, grid, palette;
  /** Reads the colours: the theme's inside VS Code (--vscode-* through report.css), fixed ones in a browser. */
  function readColours() {
    var css = getComputedStyle(document.documentElement);
    fg = css.getPropertyValue('--fg').trim() || '#1f2328';
    grid = css.getPropertyValue('--border').trim() || '#d1d9e0';
    // The theme's chart colours inside VS Code; fixed ones in a browser.
    palette = [
      ['blue', '#0969da'],
      ['red', '#cf222e'],
      ['green', '#1a7f37'],
      ['yellow', '#9a6700'],
      ['purple', '#8250df'],
      ['orange', '#bc4c00'],
    ].map(function (c) {
      return css.getPropertyValue('--vscode-charts-' + c[0]).trim() || c[1];
    });
    Chart.defaults.color = fg;
    Chart.defaults.borderColor = grid;
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.font.size = 11;
  }
  var charts = {};
  window.__loupeCharts = charts;

  function make(id, config) {
    var el = document.getElementById(id);
    if (!el) return;
    charts[id] = new Chart(el, config);
  }
  function axis(title, extra) {
    var a = { title: { display: true, text: title }, grid: { color: grid } };
    for (var k in extra || {}) a[k] = extra[k];
    return a;
  }

  /** Draws every chart afresh in the current colours. */
  function draw() {
    for (var id in charts) {
      charts[id].destroy();
      delete charts[id];
    }
    readColours();
    var s = data.sweeps;
    if (s.batch.length) {
      make('chart-batch', {
        type: 'bar',
        data: {
          labels: s.batch.map(function (p) {
            return String(p.batchSize);
          }),
          datasets: [
            {
              label: 'chunks/s',
              data: s.batch.map(function (p) {
                return p.chunksPerSec;
              }),
              backgroundColor: palette[0],
              yAxisID: 'y',
            },
            {
              label: 'tokens/s',
              type: 'line',
              data: s.batch.map(function (p) {
                return p.tokensPerSec;
              }),
              borderColor: palette[2],
              backgroundColor: palette[2],
              yAxisID: 'y1',
            },
          ],
        },
        options: {
          scales: {
            x: axis('chunks per unit of work'),
            y: axis('chunks/s', { beginAtZero: true }),
            y1: axis('tokens/s', { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } }),
          },
        },
      });
    }
    if (s.seqLen.length) {
      make('chart-seqlen', {
        type: 'line',
        data: {
          labels: s.seqLen.map(function (p) {
            return String(p.tokens);
          }),
          datasets: [
            {
              label: 'latency p50 (ms)',
              data: s.seqLen.map(function (p) {
                return p.latency.p50;
              }),
              borderColor: palette[0],
              backgroundColor: palette[0],
              yAxisID: 'y',
            },
            {
              label: 'latency p99 (ms)',
              data: s.seqLen.map(function (p) {
                return p.latency.p99;
              }),
              borderColor: palette[1],
              backgroundColor: palette[1],
              borderDash: [4, 3],
              yAxisID: 'y',
            },
            {
              label: 'context memory, RSS Δ (MiB)',
              data: s.seqLen.map(function (p) {
                return p.memoryMiB;
              }),
              borderColor: palette[2],
              backgroundColor: palette[2],
              yAxisID: 'y1',
            },
            {
              label: 'context memory, estimate (MiB)',
              data: s.seqLen.map(function (p) {
                return p.estimatedMiB;
              }),
              borderColor: palette[3],
              backgroundColor: palette[3],
              borderDash: [2, 2],
              yAxisID: 'y1',
            },
          ],
        },
        options: {
          scales: {
            x: axis('tokens per text'),
            y: axis('milliseconds', { beginAtZero: true }),
            y1: axis('MiB', { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } }),
          },
        },
      });
    }
    if (data.roofline && data.roofline.points) {
      var rf = data.roofline;
      var xs = rf.points.map(function (p) {
        return p.intensity;
      });
      var lo = Math.min.apply(null, xs.concat([rf.ridge])) / 4;
      var hi = Math.max.apply(null, xs.concat([rf.ridge])) * 4;
      var roof = [];
      for (var i = 0; i <= 40; i++) {
        var x = lo * Math.pow(hi / lo, i / 40);
        roof.push({ x: x, y: Math.min(rf.peak.flops, rf.peak.bytesPerSec * x) / 1e9 });
      }
      make('chart-roofline', {
        type: 'scatter',
        data: {
          datasets: [
            {
              label: 'measured (one text, by tokens)',
              data: rf.points.map(function (p) {
                return { x: p.intensity, y: p.achievedFlops / 1e9, tokens: p.seqLen };
              }),
              backgroundColor: palette[1],
              borderColor: palette[1],
              pointRadius: 5,
            },
            {
              label: 'roofline: ' + rf.peak.label,
              data: roof,
              type: 'line',
              showLine: true,
              pointRadius: 0,
              borderColor: palette[0],
              borderWidth: 2,
            },
          ],
        },
        options: {
          scales: { x: axis('arithmetic intensity (FLOP/byte)', { type: 'logarithmic' }), y: axis('GFLOP/s', { type: 'logarithmic' }) },
          plugins: {
            tooltip: {
              callbacks: {
                label: function (c) {
                  return (
                    (c.raw.tokens ? c.raw.tokens + ' tokens: ' : '') + c.raw.y.toFixed(2) + ' GFLOP/s at ' + c.raw.x.toFixed(1) + ' FLOP/B'
                  );
                },
              },
            },
          },
        },
      });
    }
    if (s.dimension.length) {
      make('chart-dimension', {
        type: 'bar',
        data: {
          labels: s.dimension.map(function (p) {
            return p.dims + (p.trained ? '' : ' (cut)');
          }),
          datasets: [
            {
              label: 'vectors (MiB)',
              data: s.dimension.map(function (p) {
                return p.vectorBytes / 1048576;
              }),
              backgroundColor: palette[0],
              stack: 'm',
              yAxisID: 'y',
            },
            {
              label: 'HNSW graph (MiB)',
              data: s.dimension.map(function (p) {
                return Math.max(0, p.hnswBytes - p.vectorBytes) / 1048576;
              }),
              backgroundColor: palette[4],
              stack: 'm',
              yAxisID: 'y',
            },
            {
              label: 'cohesion gap',
              type: 'line',
              data: s.dimension.map(function (p) {
                return p.cohesionGap;
              }),
              borderColor: palette[2],
              backgroundColor: palette[2],
              yAxisID: 'y1',
            },
          ],
        },
        options: {
          scales: {
            x: axis('dimensions'),
            y: axis('MiB for ' + s.dimension[0].points + ' chunks', { beginAtZero: true, stacked: true }),
            y1: axis('intra − inter cosine', { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false } }),
          },
        },
      });
    }
    var coh = data.sanity.cohesion;
    make('chart-cohesion', {
      type: 'bar',
      data: {
        labels: coh.perCategory.map(function (c) {
          return c.category;
        }),
        datasets: [
          {
            label: 'same topic',
            data: coh.perCategory.map(function (c) {
              return c.intra;
            }),
            backgroundColor: palette[2],
          },
          {
            label: 'other topics',
            data: coh.perCategory.map(function (c) {
              return c.inter;
            }),
            backgroundColor: palette[1],
          },
        ],
      },
      options: { scales: { x: axis('topic'), y: axis('mean cosine') } },
    });
    if (data.cache && data.cache.status !== 'not-measured') {
      make('chart-cache', {
        type: 'bar',
        data: {
          labels: ['first index', 'same content again'],
          datasets: [
            { label: 'seconds', data: [data.cache.coldSeconds, data.cache.cachedSeconds], backgroundColor: [palette[1], palette[2]] },
          ],
        },
        options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: axis('seconds', { beginAtZero: true }) } },
      });
    }
    if (data.answer && data.answer.status === 'measured') {
      make('chart-parallel', {
        type: 'bar',
        data: {
          labels: data.answer.parallel.map(function (p) {
            return String(p.requests);
          }),
          datasets: [
            {
              label: 'generated tokens/s (all requests)',
              data: data.answer.parallel.map(function (p) {
                return p.tokensPerSec;
              }),
              backgroundColor: palette[4],
            },
          ],
        },
        options: { scales: { x: axis('parallel requests'), y: axis('tokens/s', { beginAtZero: true }) } },
      });
    }
    if (data.contention && data.contention.status === 'measured') {
      make('chart-contention', {
        type: 'scatter',
        data: {
          datasets: [
            {
              label: 'back-off settings',
              data: data.contention.frontier.map(function (p) {
                return { x: p.loupeSpeed, y: p.workloadKept, label: p.label };
              }),
              backgroundColor: palette[3],
              pointRadius: 6,
            },
          ],
        },
        options: {
          scales: {
            x: axis('Loupe indexing speed (vs alone)', { min: 0, max: 1.05 }),
            y: axis('workload throughput kept (vs alone)', { min: 0, max: 1.05 }),
          },
          plugins: {
            tooltip: {
              callbacks: {
                label: function (c) {
                  return c.raw.label + ': ' + c.raw.y.toFixed(2) + ' kept, Loupe at ' + c.raw.x.toFixed(2);
                },
              },
            },
          },
        },
      });
    }
    document.body.setAttribute('data-charts', Object.keys(charts).join(' '));
  }
  draw();
  // VS Code changes the body's theme class and the --vscode-* variables on <html> when the colour
  // theme changes, and a browser's colour scheme can change too: redraw the charts in the new colours.
  var redraw;
  function later() {
    window.clearTimeout(redraw);
    redraw = window.setTimeout(draw, 50);
  }
  var observer = new window.MutationObserver(later);
  observer.observe(document.body, { attributes: true, attributeFilter: ['class'] });
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  if (window.matchMedia) window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', later);
})();
