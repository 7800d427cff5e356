// layer.js: sort, filter and group a layer page's tiles.
// Everything it needs is in the page: each tile's data attributes (index, text,
// status: "ok", "dead" or "failed" then its flags, space-separated; family, branch,
// and data-s-<score> for every score it can be sorted by) and the group headings in the grid (data-group-kind, data-group). It
// moves tiles and headings inside the grid, hides what the filters leave out,
// and keeps each update's time (milliseconds, layout included) in
// window.atlasLayerTimings, which the browser tests read.
(function () {
  "use strict";

  var grid = document.getElementById("unit-grid");
  var form = document.querySelector(".layer-controls");
  if (!grid || !form) return;
  window.atlasLayerTimings = [];

  var tiles = Array.prototype.map.call(grid.querySelectorAll(".unit-tile"), function (el) {
    return { el: el, index: parseInt(el.dataset.index, 10), text: el.dataset.text || "",
             statuses: el.dataset.status.split(" "), family: el.dataset.family, branch: el.dataset.branch,
             scores: {} };
  });
  var headings = Array.prototype.slice.call(grid.querySelectorAll(".grid-group"));
  var controls = form.elements;
  var direction = form.querySelector('[name="direction"]');
  var shown = form.querySelector(".shown-count");
  var arranged = "index false " + grid.getAttribute("data-grouping");  // as the page comes

  // A tile's score under `key` (data-s-<key>), read once and kept; NaN if unmeasured.
  function score(tile, key) {
    if (!(key in tile.scores)) {
      var raw = tile.el.getAttribute("data-s-" + key);
      tile.scores[key] = raw === null || raw === "" ? NaN : parseFloat(raw);
    }
    return tile.scores[key];
  }

  function ordered(key, descending) {
    var sign = descending ? -1 : 1;
    return tiles.slice().sort(function (a, b) {
      if (key === "index") return sign * (a.index - b.index);
      var x = score(a, key), y = score(b, key);
      var xMissing = isNaN(x), yMissing = isNaN(y);
      if (xMissing || yMissing) return xMissing === yMissing ? a.index - b.index : xMissing ? 1 : -1;
      return sign * (x - y) || a.index - b.index;
    });
  }

  function groupOf(tile, kind) {
    return kind === "family" ? tile.family : kind === "branch" ? tile.branch : null;
  }

  function update() {
    var started = performance.now();
    var key = controls.sort.value;
    var descending = direction.getAttribute("data-direction") === "descending";
    var words = controls.text.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    var wanted = controls.status.value;
    var kind = controls.group ? controls.group.value : grid.getAttribute("data-grouping");
    var fragment = document.createDocumentFragment();
    var count = 0;
    var list = ordered(key, descending);
    list.forEach(function (tile) {
      var keep = wanted === "all" || tile.statuses.indexOf(wanted) >= 0;
      for (var i = 0; keep && i < words.length; i++) keep = tile.text.indexOf(words[i]) >= 0;
      if (tile.el.hidden === keep) tile.el.hidden = !keep;
      if (keep) count++;
    });
    var groups = headings.filter(function (h) { return h.getAttribute("data-group-kind") === kind; });
    var byGroup = {};
    if (groups.length) {
      list.forEach(function (tile) {
        var group = groupOf(tile, kind);
        (byGroup[group] = byGroup[group] || []).push(tile);
      });
    }
    headings.forEach(function (h) {
      var members = groups.indexOf(h) < 0 ? [] : byGroup[h.getAttribute("data-group")] || [];
      h.hidden = !members.some(function (tile) { return !tile.el.hidden; });
    });
    // Move the tiles only when their order changed: filtering alone just hides some.
    var arrangement = key + " " + descending + " " + kind;
    if (arrangement !== arranged) {
      if (groups.length) {
        groups.forEach(function (h) {
          fragment.appendChild(h);
          (byGroup[h.getAttribute("data-group")] || []).forEach(function (tile) {
            fragment.appendChild(tile.el);
          });
        });
        headings.forEach(function (h) { if (groups.indexOf(h) < 0) fragment.appendChild(h); });
      } else {
        list.forEach(function (tile) { fragment.appendChild(tile.el); });
        headings.forEach(function (h) { fragment.appendChild(h); });
      }
      grid.appendChild(fragment);
      arranged = arrangement;
    }
    grid.setAttribute("data-grouping", kind);
    shown.value = count === tiles.length ? "all " + tiles.length + " units"
      : count + " of " + tiles.length + " units";
    void grid.offsetHeight; // include style and layout in the measured time
    window.atlasLayerTimings.push(performance.now() - started);
  }

  direction.addEventListener("click", function () {
    var descending = direction.getAttribute("data-direction") !== "descending";
    direction.setAttribute("data-direction", descending ? "descending" : "ascending");
    direction.textContent = descending ? "↓ descending" : "↑ ascending";
    direction.setAttribute("aria-label", "Sort direction: " + (descending ? "descending" : "ascending"));
    update();
  });
  controls.sort.addEventListener("change", function () {
    // Scores read best from the top: sorting by one starts high to low.
    var descending = controls.sort.value !== "index";
    direction.setAttribute("data-direction", descending ? "descending" : "ascending");
    direction.textContent = descending ? "↓ descending" : "↑ ascending";
    update();
  });
  controls.text.addEventListener("input", update);
  controls.status.addEventListener("change", update);
  if (controls.group) controls.group.addEventListener("change", update);
  form.addEventListener("submit", function (event) { event.preventDefault(); });

  Array.prototype.forEach.call(document.querySelectorAll(".family-show"), function (button) {
    button.addEventListener("click", function () {
      if (controls.group) controls.group.value = "family";
      update();
      var target = document.getElementById("family-" + button.getAttribute("data-family"))
        || document.getElementById("family-none");
      if (target) target.scrollIntoView();
    });
  });

  form.hidden = false;
  update();
  window.atlasLayerTimings = [];
})();
