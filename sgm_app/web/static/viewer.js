// The mammography viewer: one OpenSeadragon viewer per hung image, full-resolution zoom and pan,
// window/level as display contrast/brightness, finding and model boxes as overlays, optional linked zoom.
(function () {
  "use strict";
  const viewers = [];
  window.sgmViewers = viewers;
  let syncing = false;

  function overlay(viewer, box) {
    const el = document.createElement("div");
    el.className = "finding";
    el.title = box.label;
    el.setAttribute("aria-label", box.label);
    const [x, y, w, h] = box.rect;
    viewer.addOverlay({ element: el, location: new OpenSeadragon.Rect(x, y, w, h) });
  }

  // A model's box: dashed, its score written on a tag, drawn through the same overlay mechanism as findings.
  function aiOverlay(viewer, box) {
    const el = document.createElement("div");
    el.className = "ai-box";
    el.title = box.title;
    el.setAttribute("aria-label", box.title);
    const tag = document.createElement("span");
    tag.className = "ai-score";
    tag.textContent = box.label;
    el.appendChild(tag);
    el.dataset.score = box.score;
    el.classList.toggle("ai-below", box.score < minScore());  // not in the page until OpenSeadragon draws it
    const [x, y, w, h] = box.rect;
    viewer.addOverlay({ element: el, location: new OpenSeadragon.Rect(x, y, w, h) });
  }

  // A score tag sits above its box, unless the viewer's top edge leaves it no room there (a box touching the
  // image's top, or panned up to the edge): then inside the box, or below a box too short to hold it as well as
  // show what it marks, so the score is never cut off.
  // Sideways, a tag starts at its box's left edge but slides back inside the viewer when the box sits at (or
  // was zoomed or panned past) the viewer's left or right edge.
  function placeTags(viewer) {
    const frame = viewer.element.getBoundingClientRect();
    for (const tag of viewer.element.querySelectorAll(".ai-score")) {
      const box = tag.parentElement.getBoundingClientRect();
      const high = tag.offsetHeight;
      tag.dataset.place = box.top - frame.top >= high ? "above" : box.height >= 2 * high ? "inside" : "below";
      tag.style.transform = "";
      const left = tag.getBoundingClientRect().left;
      const shift = Math.max(frame.left - left, Math.min(0, frame.right - (left + tag.offsetWidth)));
      if (shift) tag.style.transform = `translateX(${shift}px)`;
    }
  }

  function showAi() {
    const toggle = document.getElementById("ai-toggle");
    const studies = document.querySelector(".studies");
    if (studies) studies.classList.toggle("ai-hidden", !(toggle && toggle.checked));
    viewers.forEach(placeTags);  // hidden tags have no size: measure them once shown
  }

  // Boxes under the reader's minimum score are hidden (the form carries the value to the next study or model).
  function minScore() {
    const input = document.getElementById("ai-min");
    return input ? Number(input.value) || 0 : 0;
  }

  function applyMinScore() {
    const min = minScore();
    for (const el of document.querySelectorAll(".ai-box")) {
      el.classList.toggle("ai-below", Number(el.dataset.score) < min);
    }
    viewers.forEach(placeTags);
  }

  function link(source) {
    source.addHandler("animation", () => {
      if (syncing || !document.getElementById("link-views").checked) return;
      syncing = true;
      const zoom = source.viewport.getZoom(), center = source.viewport.getCenter();
      for (const other of viewers) {
        if (other !== source && other.world.getItemCount()) {
          other.viewport.zoomTo(zoom, null, true);
          other.viewport.panTo(center, true);
        }
      }
      syncing = false;
    });
  }

  function applyWindow() {
    const width = Number(document.getElementById("wl-width").value) / 100;
    const level = Number(document.getElementById("wl-level").value) / 100;
    const invert = document.getElementById("wl-invert").checked ? 1 : 0;
    // A narrower window means more contrast; the level moves brightness.
    const filter = `contrast(${(1 / width).toFixed(2)}) brightness(${level.toFixed(2)}) invert(${invert})`;
    document.documentElement.style.setProperty("--wl-filter", filter);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const config = JSON.parse(document.getElementById("osd-config").textContent);
    for (const el of document.querySelectorAll(".view[data-src]")) {
      const viewer = OpenSeadragon({
        element: el,
        prefixUrl: config.prefixUrl,
        tileSources: { type: "image", url: el.dataset.src, buildPyramid: false },
        showNavigator: false,
        showRotationControl: false,
        maxZoomPixelRatio: 6,
        visibilityRatio: 0.5,
        gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
        keyboardNavEnabled: true,
      });
      viewer.sgmPosition = el.dataset.position;
      viewer.addOnceHandler("open", () => {
        JSON.parse(el.dataset.boxes || "[]").forEach((b) => overlay(viewer, b));
        JSON.parse(el.dataset.aiBoxes || "[]").forEach((b) => aiOverlay(viewer, b));
      });
      // After every redraw (open, zoom, pan, resize) the overlays move; OpenSeadragon raises this event just before
      // it moves them, so the tags are measured once the redraw has finished, still before the frame is painted.
      viewer.addHandler("update-viewport", () => queueMicrotask(() => placeTags(viewer)));
      link(viewer);
      viewers.push(viewer);
    }
    for (const id of ["wl-width", "wl-level", "wl-invert"]) {
      document.getElementById(id).addEventListener("input", applyWindow);
    }
    document.getElementById("wl-reset").addEventListener("click", () => {
      document.getElementById("wl-width").value = 100;
      document.getElementById("wl-level").value = 100;
      document.getElementById("wl-invert").checked = false;
      applyWindow();
      viewers.forEach((v) => v.viewport.goHome(true));
    });
    const toggle = document.getElementById("ai-toggle");
    if (toggle) toggle.addEventListener("change", showAi);
    const minimum = document.getElementById("ai-min");
    if (minimum) minimum.addEventListener("input", applyMinScore);
    showAi();
    applyWindow();
  });
})();
