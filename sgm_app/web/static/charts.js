// Bar charts from the data-chart attribute (Chart.js, served locally); the tables carry the same numbers.
document.addEventListener("DOMContentLoaded", () => {
  if (!window.Chart) return;
  const palette = ["#0b5394", "#b45f06", "#38761d", "#741b47", "#134f5c"];
  window.sgmCharts = [];
  for (const canvas of document.querySelectorAll("canvas.chart[data-chart]")) {
    const spec = JSON.parse(canvas.dataset.chart);
    const datasets = spec.series.map((s, i) => ({ label: s.label, data: s.data, backgroundColor: palette[i % palette.length] }));
    window.sgmCharts.push(new Chart(canvas, {
      type: "bar",
      data: { labels: spec.labels, datasets },
      options: { responsive: true, maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true } } },
    }));
  }
});
