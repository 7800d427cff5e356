// atlas.js: what every page does in the browser.
// - Keys: ← and → follow <link rel="prev"> / <link rel="next">, ↑ follows
//   <link rel="up">, `/` focuses the search box. Not while typing in a field.
// - Search: the index (search-index.js beside index.html, a script so that it
//   loads from file:// too) is loaded on first use; every keystroke matches all
//   units in memory and shows the best few: `layer:unit` first, then units whose
//   text holds the whole query, else those holding each of its words. Each search's time is kept in
//   window.atlasSearchTimings (milliseconds), which the browser tests read.
// - Weight maps: each <canvas class="weight-map" data-w="H W v1 v2 ..."> is
//   painted red (positive) and blue (negative), values from -99 to 99.
(function () {
  "use strict";

  var RESULTS = 12;
  var body = document.body;
  window.atlasSearchTimings = [];

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function follow(rel) {
    var link = document.querySelector('link[rel="' + rel + '"]');
    if (link) { window.location.href = link.href; return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || typing(event.target)) return;
    var done = false;
    if (event.key === "ArrowLeft") done = follow("prev");
    else if (event.key === "ArrowRight") done = follow("next");
    else if (event.key === "ArrowUp") done = follow("up");
    else if (event.key === "/") { input.focus(); input.select(); done = true; }
    if (done) event.preventDefault();
  });

  // ---- search ----
  var form = document.querySelector(".site-search");
  var input = document.getElementById("site-search-input");
  var list = document.getElementById("site-search-results");
  var status = document.getElementById("site-search-status");
  var root = body.getAttribute("data-root") || "";
  var entries = null;
  var loading = false;
  var selected = -1;

  function prepare(index) {
    return index.units.map(function (row, order) {
      // row: [id, label, text, page, thumb]
      return { id: row[0], label: row[1], text: row[2], page: row[3], thumb: row[4],
               idLower: row[0].toLowerCase(), labelLower: row[1].toLowerCase(),
               hay: (row[0] + " " + row[1] + " " + row[2]).toLowerCase(), order: order };
    });
  }

  function load() {
    if (entries || loading) return;
    if (window.ATLAS_SEARCH) { entries = prepare(window.ATLAS_SEARCH); return; }
    loading = true;
    status.textContent = "Loading the index…";
    var script = document.createElement("script");
    script.src = body.getAttribute("data-search-index");
    script.onload = function () {
      loading = false;
      entries = prepare(window.ATLAS_SEARCH || { units: [] });
      status.textContent = "";
      if (input.value) search();
    };
    script.onerror = function () {
      loading = false;
      status.textContent = "The search index (search-index.js) is missing: re-render the site.";
    };
    document.head.appendChild(script);
  }

  function rank(entry, query) {
    if (entry.idLower === query) return 0;
    if (entry.idLower.indexOf(query) === 0) return 1;
    if (entry.labelLower.indexOf(query) === 0) return 2;
    return 3;
  }

  function search() {
    if (!entries) { load(); return; }
    var started = performance.now();
    var query = input.value.trim().toLowerCase();
    var tokens = query.split(/\s+/).filter(Boolean);
    // Units whose text holds the whole query ("class 7") come first; only when none
    // does, units that hold each of its words somewhere ("conv3 red").
    var phrase = [], words = [];
    if (tokens.length) {
      for (var i = 0; i < entries.length; i++) {
        var entry = entries[i];
        if (entry.hay.indexOf(query) >= 0) { phrase.push([rank(entry, query), entry.order, entry]); continue; }
        if (phrase.length) continue;
        var all = true;
        for (var t = 0; t < tokens.length; t++) {
          if (entry.hay.indexOf(tokens[t]) < 0) { all = false; break; }
        }
        if (all) words.push([3, entry.order, entry]);
      }
    }
    var found = phrase.length ? phrase : words;
    found.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    show(found.slice(0, RESULTS).map(function (item) { return item[2]; }), found.length, tokens.length);
    window.atlasSearchTimings.push(performance.now() - started);
  }

  function show(results, total, asked) {
    list.textContent = "";
    selected = -1;
    var fragment = document.createDocumentFragment();
    results.forEach(function (entry, i) {
      var item = document.createElement("li");
      item.setAttribute("role", "option");
      item.id = "site-search-result-" + i;
      var link = document.createElement("a");
      link.href = root + entry.page;
      if (entry.thumb) {
        var image = document.createElement("img");
        image.src = root + entry.thumb;
        image.alt = "";
        image.className = "pixel";
        link.appendChild(image);
      }
      var name = document.createElement("span");
      name.className = "result-id";
      name.textContent = entry.id;
      link.appendChild(name);
      if (entry.label && entry.label !== entry.id) {
        var label = document.createElement("span");
        label.className = "result-label";
        label.textContent = entry.label;
        link.appendChild(label);
      }
      if (entry.text) {
        var text = document.createElement("span");
        text.className = "result-text";
        text.textContent = entry.text;
        link.appendChild(text);
      }
      item.appendChild(link);
      fragment.appendChild(item);
    });
    list.appendChild(fragment);
    list.hidden = results.length === 0;
    status.textContent = !asked ? "" : total === 0 ? "No unit matches."
      : total > results.length ? total + " units match; the first " + results.length + " are shown."
      : total + (total === 1 ? " unit matches." : " units match.");
  }

  function choose(step) {
    var items = list.querySelectorAll("li");
    if (!items.length) return;
    if (selected >= 0) items[selected].classList.remove("is-selected");
    selected = (selected + step + items.length) % items.length;
    items[selected].classList.add("is-selected");
    input.setAttribute("aria-activedescendant", items[selected].id);
    items[selected].scrollIntoView({ block: "nearest" });
  }

  if (input) {
    input.addEventListener("focus", load);
    input.addEventListener("input", search);
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown") { choose(1); event.preventDefault(); }
      else if (event.key === "ArrowUp") { choose(-1); event.preventDefault(); }
      else if (event.key === "Escape") { input.value = ""; search(); input.blur(); }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var links = list.querySelectorAll("a");
      var target = links[selected >= 0 ? selected : 0];
      if (target) window.location.href = target.href;
    });
  }

  // ---- weight maps ----
  function paint(canvas) {
    var numbers = canvas.getAttribute("data-w").split(" ").map(Number);
    var height = numbers[0], width = numbers[1];
    canvas.width = width;
    canvas.height = height;
    var context = canvas.getContext("2d");
    var image = context.createImageData(width, height);
    for (var i = 0; i < width * height; i++) {
      var value = numbers[2 + i] || 0;
      var fade = Math.round(255 * (1 - Math.min(1, Math.abs(value) / 99)));
      image.data[4 * i] = value < 0 ? fade : 255;
      image.data[4 * i + 1] = fade;
      image.data[4 * i + 2] = value > 0 ? fade : 255;
      image.data[4 * i + 3] = 255;
    }
    context.putImageData(image, 0, 0);
  }

  Array.prototype.forEach.call(document.querySelectorAll("canvas.weight-map[data-w]"), paint);
})();
