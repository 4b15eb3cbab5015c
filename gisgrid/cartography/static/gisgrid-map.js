/*
 * gisgrid map pages: draws the layers that a gisgrid map builder embedded in the page as JSON.
 * Part of gisgrid (MIT). Needs Leaflet; the incident map also Leaflet.markercluster and
 * Leaflet.heat. Everything is local: this script fetches nothing.
 *
 * window.gisgrid holds the state (map, layers, counts, ready) for tests and for the web app.
 */
(function () {
  "use strict";

  var G = (window.gisgrid = window.gisgrid || {});
  G.layers = {};
  G.counts = {};
  G.ready = false;

  // --- helpers -------------------------------------------------------------------------------

  // Everything is built as DOM nodes and every name goes in as text (textContent, text
  // nodes, attributes): no data ever passes through innerHTML, so a name like
  // "<img src=x onerror=…>" shows as those characters.
  function text(value) {
    return String(value === null || value === undefined ? "" : value);
  }

  // append children: nodes as they are, anything else as text; arrays flattened, null skipped
  function append(parent, children) {
    if (children === null || children === undefined) return parent;
    if (Array.isArray(children)) {
      children.forEach(function (c) { append(parent, c); });
    } else if (children instanceof Node) {
      parent.appendChild(children);
    } else {
      parent.appendChild(document.createTextNode(text(children)));
    }
    return parent;
  }

  // an element: el("div", "cls", children) or el("a", { href: …, class: … }, children)
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (typeof attrs === "string") {
      if (attrs) e.className = attrs;
    } else if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "style") e.style.cssText = attrs.style;
        else if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, text(attrs[k]));
      });
    }
    return append(e, children);
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function fmt(T, value, kind) {
    if (value === null || value === undefined || (typeof value === "number" && isNaN(value))) {
      return T.no_data;
    }
    if (kind === "pct") return (value * 100).toFixed(1) + "%";
    if (kind === "m") return Math.round(value).toLocaleString() + " " + T.metres;
    if (kind === "area") return Math.round(value).toLocaleString();
    return Number(value).toLocaleString();
  }

  // signed integers packed by gisgrid.cartography.encode.encode_ints
  function decodeInts(text) {
    var out = [];
    var shift = 0;
    var result = 0;
    for (var i = 0; i < text.length; i++) {
      var b = text.charCodeAt(i) - 63;
      result += (b & 31) * Math.pow(2, shift);
      shift += 5;
      if (b < 32) {
        out.push(result % 2 === 1 ? -(result + 1) / 2 : result / 2);
        shift = 0;
        result = 0;
      }
    }
    return out;
  }

  // a delta string of lon/lat pairs → [[lat, lng], …]
  function decodeCoords(text, grid) {
    var v = decodeInts(text);
    var out = [];
    var x = 0;
    var y = 0;
    for (var i = 0; i + 1 < v.length; i += 2) {
      x += v[i];
      y += v[i + 1];
      out.push([(grid.o[1] + y) * grid.q, (grid.o[0] + x) * grid.q]);
    }
    return out;
  }

  function decodePolygon(polys, grid) {
    return polys.map(function (rings) {
      return rings.map(function (r) {
        return decodeCoords(r, grid);
      });
    });
  }

  // rows of [label, value]: a value is text or a node (a link, a list)
  function table(rows) {
    var tbl = el("table", "gg-table");
    rows.forEach(function (r) {
      if (r) tbl.appendChild(el("tr", null, [el("th", null, r[0]), el("td", null, r[1])]));
    });
    return tbl;
  }

  function popupNode(cls, code, title, rows) {
    return el("div", { class: "gg-popup " + cls, "data-code": code }, [
      el("div", "gg-popup-title", title),
      table(rows),
    ]);
  }

  function telLink(phone) {
    if (!phone) return "";
    return el("a", { href: "tel:" + text(phone).replace(/[^0-9+]/g, "") }, text(phone));
  }

  var SVG = "http://www.w3.org/2000/svg";
  function iconSvg(icon, size) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", text(icon.vb));
    svg.setAttribute("width", String(size));
    svg.setAttribute("height", String(size));
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", text(icon.d));
    svg.appendChild(path);
    return svg;
  }

  function haversine(a, b) {
    var r = 6371008.8;
    var toRad = Math.PI / 180;
    var dLat = (b[0] - a[0]) * toRad;
    var dLng = (b[1] - a[1]) * toRad;
    var h =
      Math.sin(dLat / 2) * Math.sin(dLat / 2) +
      Math.cos(a[0] * toRad) * Math.cos(b[0] * toRad) * Math.sin(dLng / 2) * Math.sin(dLng / 2);
    return 2 * r * Math.asin(Math.sqrt(h));
  }

  function inRing(pt, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var yi = ring[i][0], xi = ring[i][1], yj = ring[j][0], xj = ring[j][1];
      if (yi > pt[0] !== yj > pt[0] && pt[1] < ((xj - xi) * (pt[0] - yi)) / (yj - yi) + xi) {
        inside = !inside;
      }
    }
    return inside;
  }

  function inPolygon(pt, polys) {
    for (var p = 0; p < polys.length; p++) {
      if (!inRing(pt, polys[p][0])) continue;
      var hole = false;
      for (var h = 1; h < polys[p].length; h++) if (inRing(pt, polys[p][h])) hole = true;
      if (!hole) return true;
    }
    return false;
  }

  // --- controls ------------------------------------------------------------------------------

  // the layer panel: overlays grouped under headings (a two-level tree), radios, widgets
  var Panel = L.Control.extend({
    options: { position: "topright", title: "", collapsed: false },
    onAdd: function (map) {
      this._map = map;
      var div = L.DomUtil.create("div", "gg-panel leaflet-bar");
      if (this.options.collapsed) L.DomUtil.addClass(div, "gg-collapsed");
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      var head = L.DomUtil.create("button", "gg-panel-toggle", div);
      head.type = "button";
      head.textContent = this.options.title;
      L.DomEvent.on(head, "click", function () {
        L.DomUtil.hasClass(div, "gg-collapsed")
          ? L.DomUtil.removeClass(div, "gg-collapsed")
          : L.DomUtil.addClass(div, "gg-collapsed");
      });
      this._body = L.DomUtil.create("div", "gg-panel-body", div);
      this._groups = {};
      return div;
    },
    group: function (key, label) {
      if (!this._groups[key]) {
        var fs = L.DomUtil.create("fieldset", "gg-group", this._body);
        fs.setAttribute("data-group", key);
        var lg = L.DomUtil.create("legend", "", fs);
        lg.textContent = label;
        this._groups[key] = fs;
      }
      return this._groups[key];
    },
    overlay: function (groupKey, groupLabel, key, label, layer, checked, swatch, count) {
      var map = this._map;
      var row = L.DomUtil.create("label", "gg-row", this.group(groupKey, groupLabel));
      var input = L.DomUtil.create("input", "", row);
      input.type = "checkbox";
      input.setAttribute("data-layer", key);
      input.checked = !!checked;
      append(L.DomUtil.create("span", "", row), [
        swatch || null,
        label,
        count !== undefined ? [" ", el("span", "gg-count", count)] : null,
      ]);
      L.DomEvent.on(input, "change", function () {
        input.checked ? map.addLayer(layer) : map.removeLayer(layer);
      });
      if (checked) map.addLayer(layer);
      G.layers[key] = layer;
      return row;
    },
    radio: function (groupKey, groupLabel, name, value, label, checked, onChange) {
      var row = L.DomUtil.create("label", "gg-row", this.group(groupKey, groupLabel));
      var input = L.DomUtil.create("input", "", row);
      input.type = "radio";
      input.name = name;
      input.value = value;
      input.checked = !!checked;
      L.DomUtil.create("span", "", row).textContent = label;
      L.DomEvent.on(input, "change", function () {
        if (input.checked) onChange(value);
      });
      return row;
    },
    widget: function (groupKey, groupLabel, element) {
      this.group(groupKey, groupLabel).appendChild(element);
    },
  });

  var Legend = L.Control.extend({
    options: { position: "bottomright" },
    onAdd: function () {
      this._div = L.DomUtil.create("div", "gg-legend");
      L.DomEvent.disableClickPropagation(this._div);
      return this._div;
    },
    // nodes to show (none: hidden)
    set: function (nodes) {
      clear(this._div);
      if (nodes) append(this._div, nodes);
      this._div.style.display = this._div.firstChild ? "" : "none";
      if (this._map) layoutRight(this._map);
    },
  });

  function swatch(color, cls) {
    var i = el("i", "gg-swatch " + (cls || ""));
    i.style.background = color;
    return i;
  }

  function legendNodes(title, items) {
    return [el("div", "gg-legend-title", title)].concat(items.map(function (it) {
      return el("div", "gg-legend-row", [swatch(it[0], it[2]), it[1]]);
    }));
  }

  // a coloured box around an icon (service points, warnings, incidents)
  function badge(cls, color, icon, size) {
    var d = el("div", cls, icon ? iconSvg(icon, size) : null);
    if (color) d.style.background = color;
    return d;
  }

  // --- layers --------------------------------------------------------------------------------

  // polygons are drawn, not clicked: a click goes to the uppermost level shown (clickable())
  function polygonLayer(tbl, grid, style, popup, renderer) {
    var group = L.featureGroup();
    group.items = [];
    group.ggPopup = popup;
    for (var i = 0; i < tbl.code.length; i++) {
      var rings = decodePolygon(tbl.geom[i], grid);
      var poly = L.polygon(rings, L.extend({ renderer: renderer, interactive: false }, style));
      poly.ggIndex = i;
      poly.ggCode = tbl.code[i];
      poly.ggRings = rings;
      group.addLayer(poly);
      group.items.push(poly);
    }
    return group;
  }

  // a click on the map opens the popup of the area under it, in the first layer shown that
  // has one there (the finest level first), whatever the drawing order of the boundaries
  // (first: what a click opens before any area, or false; e.g. the check findings there)
  function clickable(map, groups, first) {
    map.on("click", function (e) {
      var p = [e.latlng.lat, e.latlng.lng];
      var before = first ? first(e.latlng) : false;
      if (before) {
        L.popup({ maxWidth: 340, maxHeight: 360 }).setLatLng(e.latlng).setContent(before).openOn(map);
        return;
      }
      for (var g = 0; g < groups.length; g++) {
        var group = groups[g];
        if (!group.ggPopup || !map.hasLayer(group)) continue;
        for (var k = 0; k < group.items.length; k++) {
          var poly = group.items[k];
          if (poly.getBounds().contains(e.latlng) && inPolygon(p, poly.ggRings)) {
            L.popup({ maxWidth: 340 }).setLatLng(e.latlng).setContent(group.ggPopup(poly.ggIndex)).openOn(map);
            return;
          }
        }
      }
    });
  }

  // names above the service points' and warnings' icons (never under one), below popups
  function labelPane(map) {
    if (!map.getPane("ggLabels")) {
      var pane = map.createPane("ggLabels");
      pane.style.zIndex = 640; // markers 600, tooltips 650, popups 700
      pane.style.pointerEvents = "none";
    }
    return "ggLabels";
  }

  // names shown only from the zoom at which they fit inside their area, or from group.floor
  // on (set to the opening zoom for the townships: a leader's first view names every one)
  function labelLayer(map, labels, cls, maxZoom) {
    var group = L.layerGroup();
    var pane = labelPane(map);
    group.floor = 99;
    var markers = labels.map(function (l) {
      return L.marker([l[0], l[1]], {
        icon: L.divIcon({ className: "gg-label " + cls, html: el("span", null, l[3]), iconSize: null }),
        interactive: false,
        keyboard: false,
        pane: pane,
      });
    });
    function update() {
      var z = map.getZoom();
      markers.forEach(function (m, k) {
        var show = z >= Math.min(labels[k][2], group.floor) && z <= (maxZoom || 99);
        if (show && !group.hasLayer(m)) group.addLayer(m);
        if (!show && group.hasLayer(m)) group.removeLayer(m);
        // shown before it fits (from the floor): smaller, so that neighbours' names stay apart
        var e = show ? m.getElement() : null;
        if (e) (z < labels[k][2] ? L.DomUtil.addClass : L.DomUtil.removeClass)(e, "gg-label-compact");
      });
      group.shown = group.getLayers().length;
    }
    map.on("zoomend", update);
    group.on("add", update);
    group.update = update;
    update();
    return group;
  }

  // township names from the zoom the map opens at (call once the view is fitted)
  function nameTownshipsFromHere(map, labels) {
    labels.floor = Math.floor(map.getZoom() + 1e-9);
    labels.update();
  }

  function servicePopup(D, sp, i) {
    var T = D.t;
    var kind = D.service_kinds[sp.kind[i]];
    return popupNode("gg-service", sp.id[i], sp.name[i], [
      [T.kind, kind.label],
      sp.watcher[i] ? [T.watcher, sp.watcher[i]] : null,
      sp.village[i] ? [T.village, sp.village[i]] : null,
    ]);
  }

  function serviceIcon(kind) {
    return L.divIcon({
      className: "gg-sp-icon",
      html: badge("gg-sp", kind.color, kind.icon, 14),
      iconSize: [24, 24],
      iconAnchor: [12, 12],
      popupAnchor: [0, -12],
    });
  }

  // service points by kind, one layer per kind in the panel
  function serviceLayers(map, D, panel, checked) {
    var sp = D.service;
    var pts = decodeCoords(sp.xy, D.grid);
    sp.latlng = pts;
    var total = 0;
    D.service_kinds.forEach(function (kind, k) {
      var group = L.layerGroup();
      var all = [];
      for (var i = 0; i < pts.length; i++) {
        if (sp.kind[i] !== k) continue;
        var m = L.marker(pts[i], { icon: serviceIcon(kind), title: sp.name[i] });
        m.ggIndex = i;
        m.bindPopup(function (layer) { return servicePopup(D, sp, layer.ggIndex); });
        all.push(m);
      }
      // kinds with many points show from the zoom at which they no longer crowd the map
      function update() {
        var show = map.getZoom() >= (kind.min_zoom || 0);
        if (show && !group.getLayers().length) all.forEach(function (m) { group.addLayer(m); });
        if (!show && group.getLayers().length) group.clearLayers();
      }
      map.on("zoomend", update);
      group.on("add", update);
      update();
      group.total = all.length;
      var n = all.length;
      total += n;
      G.counts["service_" + kind.key] = n;
      if (n) {
        panel.overlay("service", D.t.group_service, "service_" + kind.key, kind.label, group, checked,
          badge("gg-sp gg-sp-small", kind.color, kind.icon, 10), n);
      }
    });
    G.counts.service_points = total;
  }

  // households as dots, drawn only inside the view once zoomed in (never all at once)
  function dotLayer(map, pts, options) {
    var group = L.layerGroup();
    var renderer = L.canvas({ padding: 0.1 });
    var lat = new Float64Array(pts.length);
    var lng = new Float64Array(pts.length);
    pts.forEach(function (p, i) { lat[i] = p[0]; lng[i] = p[1]; });
    group.total = pts.length;
    group.shown = 0;
    function update() {
      group.clearLayers();
      group.shown = 0;
      if (!map.hasLayer(group)) return;
      var tooFar = map.getZoom() < options.minZoom;
      if (options.hint) options.hint.style.display = tooFar ? "" : "none";
      if (tooFar) return;
      var b = map.getBounds();
      var s = b.getSouth(), n = b.getNorth(), w = b.getWest(), e = b.getEast();
      for (var i = 0; i < lat.length && group.shown < options.cap; i++) {
        if (lat[i] < s || lat[i] > n || lng[i] < w || lng[i] > e) continue;
        group.addLayer(L.circleMarker([lat[i], lng[i]], {
          renderer: renderer, radius: 2.5, weight: 0.8, color: "#fff", fillColor: options.color, fillOpacity: 0.9, interactive: false,
        }));
        group.shown++;
      }
    }
    map.on("moveend", update);
    group.on("add", update);
    group.on("remove", function () { if (options.hint) options.hint.style.display = "none"; });
    group.update = update;
    return group;
  }

  // households not visited within their interval (check 12's rule): yellow squares; with
  // details (the finder) each one's popup, else dots drawn once zoomed in (a county map)
  function visitsDueLayer(map, D, panel, checked) {
    var T = D.t;
    var V = D.visits_due;
    var pts = V.xy ? decodeCoords(V.xy, D.grid) : [];
    var layer;
    if (V.id) {
      var renderer = L.canvas({ padding: 0.3 });
      layer = L.layerGroup(pts.map(function (p, i) {
        var m = L.circleMarker(p, {
          renderer: renderer, radius: 7, weight: 2.5, color: "#7a4f00", fillColor: "#ffd400", fillOpacity: 0.95,
        });
        m.ggIndex = i;
        m.bindPopup(function () {
          return popupNode("gg-visit-due", V.id[i], V.name[i] || V.id[i], [
            [T.household_id, V.id[i]],
            [T.visit_category, V.cats[V.cat[i]]],
            [T.unvisited_days, V.days[i] < 0 ? T.never_visited : fmt(T, V.days[i])],
            [T.visit_interval, fmt(T, V.interval[V.cat[i]])],
          ]);
        });
        return m;
      }));
    } else {
      layer = dotLayer(map, pts, { minZoom: D.households ? D.households.min_zoom : 0, cap: 20000, color: "#ffd400" });
    }
    panel.overlay("visits", T.group_visits, "visits_due", T.unvisited, layer, checked, swatch("#ffd400", "gg-swatch-dot"), pts.length);
    G.counts.visits_due = pts.length;

    // the 岁月港湾 watchers' elders not visited this week: few, always drawn, above the rest
    var W = D.watched_due;
    var wpts = W.xy ? decodeCoords(W.xy, D.grid) : [];
    var watched = L.layerGroup(wpts.map(function (p, i) {
      var m = L.marker(p, {
        icon: L.divIcon({ className: "gg-inc-icon", html: badge("gg-watched"), iconSize: [12, 12] }),
        title: T.watched_unvisited,
        zIndexOffset: 500,
      });
      if (W.id) {
        m.bindPopup(function () {
          return popupNode("gg-watched-due", W.id[i], W.name[i] || W.id[i], [
            [T.household_id, W.id[i]],
            [T.care_point, W.point[i]],
            [T.last_visit, W.last[i] ? W.last[i] : T.never_visited],
          ]);
        });
      }
      return m;
    }));
    panel.overlay("visits", T.group_visits, "watched_due", T.watched_unvisited, watched, true, swatch("#e08214", "gg-swatch-dot gg-swatch-watched"), wpts.length);
    G.counts.watched_due = wpts.length;
    return layer;
  }

  function warningIcon(D) {
    return L.divIcon({
      className: "gg-sp-icon",
      html: badge("gg-warn", null, D.icons.warning, 12),
      iconSize: [22, 22],
      iconAnchor: [11, 11],
    });
  }

  // check findings: the shape in a warning style, and a ring so small ones show at any zoom.
  // They are drawn, not clicked: a click opens every finding there at once (the shapes under
  // the point, the marks within reach), so a household's mark never hides the gap it sits in.
  function findingLayers(map, D, panel, renderer) {
    var T = D.t;
    var byCheck = {};
    var items = [];
    D.findings.forEach(function (f) {
      (byCheck[f.check] = byCheck[f.check] || []).push(f);
    });
    Object.keys(byCheck).forEach(function (check) {
      var group = L.featureGroup();
      byCheck[check].forEach(function (f) {
        var item = { f: f, group: group, at: L.latLng(f.at), reach: 11, rings: null };
        if (f.geom) {
          var shape = L.polygon(decodePolygon(f.geom, f.grid), {
            renderer: renderer, color: "#d7191c", weight: 2, dashArray: "4 3", fillColor: "#d7191c", fillOpacity: 0.45, interactive: false,
          });
          item.rings = shape.getLatLngs().map(function (poly) {
            return poly.map(function (ring) { return ring.map(function (q) { return [q.lat, q.lng]; }); });
          });
          item.bounds = shape.getBounds();
          group.addLayer(shape);
          group.addLayer(L.circleMarker(f.at, {
            renderer: renderer, radius: 9, color: "#d7191c", weight: 2.5, fill: true, fillOpacity: 0.05, interactive: false,
          }));
        } else {
          item.reach = 13; // the 22 px warning mark
          group.addLayer(L.marker(f.at, { icon: warningIcon(D), interactive: false, keyboard: false }));
        }
        items.push(item);
      });
      G.counts["check_" + check] = byCheck[check].length;
      panel.overlay("checks", T.group_checks, "check_" + check, T["check_" + check] || check, group, true,
        swatch("#d7191c", "gg-swatch-warn"), byCheck[check].length);
    });

    // the findings shown at a point, areas first; their popup, or false if none is there
    function at(latlng) {
      var p = map.latLngToContainerPoint(latlng);
      var ll = [latlng.lat, latlng.lng];
      var hits = items.filter(function (it) {
        if (!map.hasLayer(it.group)) return false;
        if (map.latLngToContainerPoint(it.at).distanceTo(p) <= it.reach) return true;
        return it.rings !== null && it.bounds.contains(latlng) && inPolygon(ll, it.rings);
      });
      if (!hits.length) return false;
      hits.sort(function (a, b) { return (a.rings ? 0 : 1) - (b.rings ? 0 : 1); });
      return el("div", "gg-findings", hits.map(function (it) {
        return popupNode("gg-finding gg-finding-" + it.f.check, it.f.code || "", T["check_" + it.f.check] || it.f.check, it.f.rows);
      }));
    }
    G.findingsAt = function (lat, lng) {
      var node = at(L.latLng(lat, lng));
      return node ? [].map.call(node.children, function (c) { return c.className; }) : [];
    };
    return at;
  }

  function basemaps(map, D, panel) {
    (D.tiles || []).forEach(function (t, k) {
      var layer = L.tileLayer(t.url, t.options);
      panel.overlay("basemap", D.t.group_basemap, "tiles_" + k, t.name, layer, true);
      layer.bringToBack();
    });
  }

  // the right-hand column: the layer panel above the legend, never over it (the panel
  // scrolls instead); its width, or 0 on a phone-sized map where both stay small
  function layoutRight(map) {
    var c = map.getContainer();
    var panel = c.querySelector(".gg-panel");
    var legend = c.querySelector(".gg-legend");
    var shown = legend && legend.style.display !== "none" && legend.firstChild ? legend : null;
    if (map.getSize().x < 640) {
      if (panel) panel.style.maxHeight = "";
      return 0;
    }
    if (panel) {
      // 10 px above the panel, between the two, and below the legend (the controls' margins)
      var free = map.getSize().y - 20 - (shown ? shown.offsetHeight + 10 : 0);
      panel.style.maxHeight = Math.max(80, free) + "px";
    }
    var open = panel && !L.DomUtil.hasClass(panel, "gg-collapsed") ? panel.offsetWidth : 0;
    return Math.max(open, shown ? shown.offsetWidth : 0);
  }

  function finish(map, D) {
    var b = D.bounds;
    L.control.scale({ metric: true, imperial: false, position: "bottomleft" }).addTo(map);
    map.on("resize", function () { layoutRight(map); });
    // keep the area clear of the panel and legend on the right, where there is room for both
    var column = layoutRight(map);
    var right = column && map.getSize().x - column - 20 >= 320 ? column + 20 : 10;
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { paddingTopLeft: [10, 10], paddingBottomRight: [right, 10] });
    G.map = map;
    G.data = D;
    G.ready = true;
    document.documentElement.setAttribute("data-gisgrid-ready", "1");
  }

  function titleControl(map, text) {
    var C = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        var d = L.DomUtil.create("div", "gg-title");
        d.textContent = text;
        return d;
      },
    });
    new C().addTo(map);
  }

  // --- the coverage map ------------------------------------------------------------------------

  function coverage(map, D) {
    var T = D.t;
    var renderer = L.canvas({ padding: 0.3, tolerance: 2 });
    var narrow = window.innerWidth < 640;
    var panel = new Panel({ title: T.layers, collapsed: narrow }).addTo(map);
    var legend = new Legend().addTo(map);
    titleControl(map, D.title);
    basemaps(map, D, panel);
    var V = D.villages;
    var villageName = {};
    V.code.forEach(function (c, i) { villageName[c] = V.name[i]; });
    var townshipName = {};
    D.townships.code.forEach(function (c, i) { townshipName[c] = D.townships.name[i]; });

    // the cases of an area: open, overdue, escalated to its level
    function caseRows(t, i) {
      return [
        [T.open_cases, fmt(T, t.open[i])],
        [T.overdue_cases, fmt(T, t.late[i])],
        [T.escalated_cases, fmt(T, t.esc[i])],
      ];
    }

    function gridRows(t, i, level) {
      var code = t.code[i];
      var person = t.resp[i] ? t.resp[i] + (t.role[i] ? "（" + t.role[i] + "）" : "") : T.unstaffed;
      var rows = [
        [T.code, code],
        [T.name, t.name[i]],
        [T.level, T["level_" + level]],
        [T.village, villageName[code.slice(0, 12)] || code.slice(0, 12)],
        [T.responsible, person],
        [T.phone, t.phone[i] ? telLink(t.phone[i]) : "—"],
        [T.households, fmt(T, t.hh[i])],
        [T.linkage, fmt(T, t.link[i], "pct")],
      ];
      if (level === 3) {
        rows.push([T.distance, fmt(T, t.dist[i], "m")]);
        rows.push([T.incidents, fmt(T, t.inc[i])]);
      }
      caseRows(t, i).forEach(function (r) { rows.push(r); });
      return rows;
    }

    var townships = polygonLayer(D.townships, D.grid,
      { color: "#222", weight: 3, fill: true, fillOpacity: 0, opacity: 0.9 },
      function (i) {
        return popupNode("gg-township", D.townships.code[i], D.townships.name[i], [
          [T.code, D.townships.code[i]],
          [T.households, fmt(T, D.townships.hh[i])],
          [T.linkage, fmt(T, D.townships.link[i], "pct")],
        ].concat(caseRows(D.townships, i)));
      }, renderer);
    var villages = polygonLayer(V, D.grid,
      { color: "#444", weight: 2, fill: true, fillOpacity: 0, opacity: 0.9 },
      function (i) {
        var rows = gridRows(V, i, 1);
        rows.splice(2, 0, [T.township, townshipName[V.township[i]] || V.township[i]]);
        rows.splice(3, 0, [T.kind, V.kind[i] === "community" ? T.kind_community : T.kind_village]);
        rows.splice(5, 1);
        if (V.credit[i]) rows.push([T.credit_village, T.yes]);
        return popupNode("gg-village", V.code[i], V.name[i], rows);
      }, renderer);
    var grids2 = polygonLayer(D.grids2, D.grid,
      { color: "#666", weight: 1.2, fill: true, fillOpacity: 0, opacity: 0.9 },
      function (i) { return popupNode("gg-grid gg-grid-2", D.grids2.code[i], D.grids2.name[i], gridRows(D.grids2, i, 2)); },
      renderer);
    var grids3 = polygonLayer(D.grids3, D.grid,
      { color: "#888", weight: 0.6, fill: true, fillOpacity: 0.65, fillColor: "#ccc", opacity: 0.9 },
      function (i) { return popupNode("gg-grid gg-grid-3", D.grids3.code[i], D.grids3.name[i], gridRows(D.grids3, i, 3)); },
      renderer);
    var findingsAt = null; // set once the findings are drawn
    clickable(map, [grids3, grids2, villages, townships], function (latlng) {
      return findingsAt ? findingsAt(latlng) : false;
    });
    var order = [grids3, grids2, villages, townships];

    panel.overlay("boundaries", T.group_boundaries, "grids3", T.grids3, grids3, true, swatch("#9ecae1"), D.grids3.code.length);
    panel.overlay("boundaries", T.group_boundaries, "grids2", T.grids2, grids2, true, swatch("#666", "gg-swatch-line"), D.grids2.code.length);
    panel.overlay("boundaries", T.group_boundaries, "villages", T.villages, villages, true, swatch("#444", "gg-swatch-line"), V.code.length);
    panel.overlay("boundaries", T.group_boundaries, "townships", T.townships, townships, true, swatch("#222", "gg-swatch-line"), D.townships.code.length);
    // drawing order: level-3 fills first, boundaries of higher levels on top of them (they
    // were added in that order; a layer turned on again later is put back in its place)
    order.forEach(function (l, k) {
      l.on("add", function () {
        order.slice(k + 1).forEach(function (o) { if (map.hasLayer(o)) o.bringToFront(); });
      });
    });
    G.counts.townships = D.townships.code.length;
    G.counts.villages = V.code.length;
    G.counts.grids2 = D.grids2.code.length;
    G.counts.grids3 = D.grids3.code.length;
    // grid popups are where a user clicks: keep them above the labels' pane
    var tLabels = labelLayer(map, D.townships.label, "gg-label-township", 12);
    var vLabels = labelLayer(map, V.label, "gg-label-village");
    map.addLayer(tLabels);
    map.addLayer(vLabels);
    G.layers.township_labels = tLabels;
    G.layers.village_labels = vLabels;

    // indicator colouring of level-3 grids
    var byKey = {};
    D.indicators.forEach(function (ind) { byKey[ind.key] = ind; });
    function colour(ind, v) {
      if (v === null || v === undefined || isNaN(v)) return "#d9d9d9";
      for (var k = 0; k < ind.breaks.length; k++) if (v < ind.breaks[k]) return ind.colors[k];
      return ind.colors[ind.colors.length - 1];
    }
    function setIndicator(key) {
      var ind = byKey[key];
      grids3.items.forEach(function (p) {
        var v = ind ? D.grids3[ind.column][p.ggIndex] : null;
        p.setStyle(ind ? { fillColor: colour(ind, v), fillOpacity: 0.65 } : { fillOpacity: 0 });
      });
      G.indicator = key;
      if (!ind) { legend.set(caseLegend()); return; }
      var items = [];
      for (var k = 0; k < ind.colors.length; k++) {
        var lo = k === 0 ? null : ind.breaks[k - 1];
        var hi = k < ind.breaks.length ? ind.breaks[k] : null;
        var label = lo === null ? "< " + fmt(T, hi, ind.format) :
          hi === null ? "≥ " + fmt(T, lo, ind.format) :
            fmt(T, lo, ind.format) + " – " + fmt(T, hi, ind.format);
        items.push([ind.colors[k], label]);
      }
      items.push(["#d9d9d9", T.no_data]);
      legend.set(legendNodes(ind.label, items).concat(caseLegend()));
    }
    // the area's cases under the colours: open, overdue, escalated to its level
    function caseLegend() {
      var C = D.cases;
      var box = el("div", "gg-legend-cases", [
        el("div", "gg-legend-title", T.open_cases + " " + fmt(T, C.open)),
        el("div", "gg-legend-row gg-legend-late", T.overdue_cases + " " + fmt(T, C.late)),
        el("div", "gg-legend-row gg-legend-esc", C.esc_label + " " + fmt(T, C.esc)),
      ]);
      return [box];
    }
    G.setIndicator = setIndicator;
    D.indicators.forEach(function (ind) {
      panel.radio("indicator", T.group_indicator, "gg-indicator", ind.key, ind.label, ind.key === D.indicator, setIndicator);
    });
    panel.radio("indicator", T.group_indicator, "gg-indicator", "", T.none, !D.indicator, setIndicator);
    setIndicator(D.indicator);

    serviceLayers(map, D, panel, true);
    visitsDueLayer(map, D, panel, false);

    // households: never one object each; dots inside the view once zoomed in
    var hh = decodeCoords(D.households.xy, D.grid);
    var hint = document.createElement("div");
    hint.className = "gg-hint";
    hint.textContent = T.households_zoom_hint.replace("{z}", D.households.min_zoom);
    var dots = dotLayer(map, hh, { minZoom: D.households.min_zoom, cap: 20000, color: "#e6550d", hint: hint });
    panel.overlay("households", T.group_households, "households", T.households_dots, dots, true, swatch("#e6550d", "gg-swatch-dot"), hh.length);
    panel.widget("households", T.group_households, hint);
    G.counts.households = hh.length;

    findingsAt = findingLayers(map, D, panel, renderer);
    finish(map, D);
    nameTownshipsFromHere(map, tLabels);
  }

  // --- the incident map ------------------------------------------------------------------------

  function incidents(map, D) {
    var T = D.t;
    var renderer = L.canvas({ padding: 0.3 });
    var narrow = window.innerWidth < 640;
    var panel = new Panel({ title: T.layers, collapsed: narrow }).addTo(map);
    var legend = new Legend().addTo(map);
    titleControl(map, D.title);
    basemaps(map, D, panel);
    var I = D.incidents;
    var pts = decodeCoords(I.xy, D.grid);
    var V = D.villages;

    // six-no status per village, recomputed for the months shown
    var sixColour = function (n) { return n === 0 ? "#1a9850" : n === 1 ? "#fdae61" : n <= 3 ? "#f46d43" : "#d73027"; };
    var sixCounts = [];
    var villages = polygonLayer(V, D.grid,
      { color: "#444", weight: 1.5, fill: true, fillOpacity: 0.35, fillColor: "#1a9850" },
      function (i) {
        var c = sixCounts[i] || [];
        var total = c.reduce(function (a, b) { return a + b; }, 0);
        var rows = [[T.code, V.code[i]], [T.six_no, total === 0 ? T.six_no_ok : T.six_no_fail]];
        D.six_no.forEach(function (cat, k) { rows.push([cat.label, c[k] || 0]); });
        return popupNode("gg-six-no", V.code[i], V.name[i], rows);
      }, renderer);
    var townships = polygonLayer(D.townships, D.grid, { color: "#222", weight: 3, fill: false }, null, renderer);
    clickable(map, [villages]);

    var groups = D.incident_kinds.map(function (kind) {
      return L.markerClusterGroup({
        chunkedLoading: true,
        showCoverageOnHover: false,
        maxClusterRadius: 50,
        iconCreateFunction: function (cluster) {
          var n = cluster.getChildCount();
          var size = n < 10 ? 28 : n < 100 ? 34 : 40;
          var box = badge("gg-cluster", kind.color);
          box.style.width = box.style.height = box.style.lineHeight = size + "px";
          box.textContent = String(n);
          return L.divIcon({
            className: "gg-cluster-icon",
            html: box,
            iconSize: [size, size],
          });
        },
      });
    });
    var markers = pts.map(function (p, i) {
      var kind = D.incident_kinds[I.kind[i]];
      // an overdue incident: a bigger marker in a dark red frame, told apart from the rest
      var late = I.overdue[i] === 1;
      var size = late ? 20 : 14;
      var m = L.marker(p, {
        icon: L.divIcon({
          className: "gg-inc-icon",
          html: badge(late ? "gg-inc gg-inc-overdue" : "gg-inc", kind.color),
          iconSize: [size, size],
        }),
        title: kind.label + (late ? " · " + T.overdue : ""),
        zIndexOffset: late ? 1000 : 0,
      });
      m.ggIndex = i;
      m.bindPopup(function (layer) {
        var j = layer.ggIndex;
        return popupNode(I.overdue[j] === 1 ? "gg-incident gg-incident-overdue" : "gg-incident", I.id[j], kind.label, [
          [T.code, I.id[j]],
          [T.reported_at, I.at[j]],
          [T.stage, D.statuses[I.status[j]]],
          I.due[j] ? [T.due, I.due[j]] : null,
          I.due[j] ? [T.overdue, I.overdue[j] === 1 ? T.overdue_yes.replace("{level}", D.levels[I.level[j]]) : T.overdue_no] : null,
          I.desc[j] ? [T.description, I.desc[j]] : null,
          [T.village, I.village[j] >= 0 ? V.name[I.village[j]] : "—"],
          [T.grid, I.grid[j] || "—"],
        ]);
      });
      return m;
    });
    var heat = L.heatLayer([], { radius: 22, blur: 18, maxZoom: 13, minOpacity: 0.35 });

    panel.overlay("analysis", T.group_analysis, "six_no", T.six_no, villages, true, swatch("#1a9850"), V.code.length);
    // the heat map would hide the six-no colours: off until asked for
    panel.overlay("analysis", T.group_analysis, "heat", T.heat, heat, false, swatch("linear-gradient(90deg,#00f,#0f0,#ff0,#f00)"));
    panel.overlay("analysis", T.group_analysis, "townships", T.townships, townships, true, swatch("#222", "gg-swatch-line"), D.townships.code.length);
    var kindCounts = [];
    D.incident_kinds.forEach(function (kind, k) {
      var n = I.kind.filter(function (x) { return x === k; }).length;
      if (n) {
        var row = panel.overlay("kinds", T.group_incidents, "kind_" + kind.key, kind.label, groups[k], true, swatch(kind.color, "gg-swatch-dot"), n);
        kindCounts[k] = row.querySelector(".gg-count");
      }
    });
    var vLabels = labelLayer(map, V.label, "gg-label-village");
    map.addLayer(vLabels);
    var tLabels = labelLayer(map, D.townships.label, "gg-label-township", 12);
    map.addLayer(tLabels);
    G.layers.township_labels = tLabels;
    G.layers.village_labels = vLabels;

    // the month filter
    var box = document.createElement("div");
    box.className = "gg-months";
    var prev = document.createElement("button");
    prev.type = "button"; prev.textContent = "‹"; prev.title = T.prev;
    var select = document.createElement("select");
    select.setAttribute("data-filter", "month");
    var next = document.createElement("button");
    next.type = "button"; next.textContent = "›"; next.title = T.next;
    var all = document.createElement("option");
    all.value = ""; all.textContent = T.all_months;
    select.appendChild(all);
    D.months.forEach(function (m, k) {
      var o = document.createElement("option");
      o.value = String(k); o.textContent = m;
      select.appendChild(o);
    });
    var shown = document.createElement("div");
    shown.className = "gg-shown";
    box.appendChild(prev); box.appendChild(select); box.appendChild(next); box.appendChild(shown);
    panel.widget("month", T.month, box);

    // the stage filter (one box per stage of the case flow) and 只看超期
    var stageBox = document.createElement("div");
    stageBox.className = "gg-stages";
    var stageInputs = D.stage_keys.map(function (key, k) {
      var n = I.status.filter(function (x) { return x === k; }).length;
      var label = document.createElement("label");
      var input = document.createElement("input");
      input.type = "checkbox";
      input.checked = true;
      input.value = key;
      input.setAttribute("data-filter", "stage");
      label.appendChild(input);
      label.appendChild(document.createTextNode(D.statuses[k] + " (" + n + ")"));
      stageBox.appendChild(label);
      L.DomEvent.on(input, "change", apply);
      return input;
    });
    var lateLabel = document.createElement("label");
    lateLabel.className = "gg-only-overdue";
    var lateInput = document.createElement("input");
    lateInput.type = "checkbox";
    lateInput.setAttribute("data-filter", "overdue");
    lateLabel.appendChild(lateInput);
    lateLabel.appendChild(document.createTextNode(T.only_overdue + " (" + I.overdue.filter(function (x) { return x === 1; }).length + ")"));
    stageBox.appendChild(lateLabel);
    L.DomEvent.on(lateInput, "change", apply);
    panel.widget("stage", T.group_stage, stageBox);

    function apply() {
      var month = select.value === "" ? -1 : Number(select.value);
      var stages = stageInputs.map(function (input) { return input.checked; });
      var onlyLate = lateInput.checked;
      var keep = [];
      var late = 0;
      var perKind = D.incident_kinds.map(function () { return []; });
      sixCounts = V.code.map(function () { return D.six_no.map(function () { return 0; }); });
      for (var i = 0; i < pts.length; i++) {
        if (month >= 0 && I.month[i] !== month) continue;
        // six-no counts every incident of the months shown, whatever its stage
        var cat = D.six_no_of_kind[I.kind[i]];
        if (cat >= 0 && I.village[i] >= 0) sixCounts[I.village[i]][cat] += 1;
        if (!stages[I.status[i]] || (onlyLate && I.overdue[i] !== 1)) continue;
        keep.push(pts[i]);
        perKind[I.kind[i]].push(markers[i]);
        if (I.overdue[i] === 1) late++;
      }
      groups.forEach(function (g, k) {
        g.clearLayers();
        g.addLayers(perKind[k]);
        G.counts["kind_" + D.incident_kinds[k].key] = perKind[k].length;
        if (kindCounts[k]) kindCounts[k].textContent = perKind[k].length;
      });
      heat.setLatLngs(keep);
      var failing = 0;
      villages.items.forEach(function (p) {
        var n = sixCounts[p.ggIndex].reduce(function (a, b) { return a + b; }, 0);
        if (n) failing++;
        p.setStyle({ fillColor: sixColour(n) });
      });
      G.counts.incidents_shown = keep.length;
      G.counts.overdue_shown = late;
      G.counts.six_no_failing = failing;
      G.month = month >= 0 ? D.months[month] : null;
      shown.textContent = T.shown + keep.length;
    }
    L.DomEvent.on(select, "change", apply);
    L.DomEvent.on(prev, "click", function () {
      var k = select.selectedIndex;
      select.selectedIndex = k <= 1 ? D.months.length : k - 1;
      apply();
    });
    L.DomEvent.on(next, "click", function () {
      var k = select.selectedIndex;
      select.selectedIndex = k >= D.months.length ? 1 : k + 1;
      apply();
    });
    G.setMonth = function (m) { select.value = m === null ? "" : String(D.months.indexOf(m)); apply(); };
    apply();
    G.counts.incidents = pts.length;
    G.counts.villages = V.code.length;

    var items = D.incident_kinds.map(function (k) { return [k.color, k.label, "gg-swatch-dot"]; });
    legend.set(
      legendNodes(T.six_no, [["#1a9850", T.six_no_ok], ["#fdae61", "1"], ["#f46d43", "2–3"], ["#d73027", "≥ 4"]]).concat(
        legendNodes(T.group_incidents, items)).concat(
        legendNodes(T.overdue, [["#fff", T.overdue_marker, "gg-swatch-overdue"]]))
    );
    finish(map, D);
    nameTownshipsFromHere(map, tLabels);
  }

  // --- the household finder --------------------------------------------------------------------

  function finder(map, D) {
    var T = D.t;
    var renderer = L.canvas({ padding: 0.3, tolerance: 4 });
    var panel = new Panel({ title: T.layers, collapsed: true }).addTo(map);
    var legend = new Legend().addTo(map);
    basemaps(map, D, panel);
    var H = D.households;
    var pts = decodeCoords(H.xy, D.grid);
    var G3 = D.grids3;
    var g3polys = G3.geom.map(function (g) { return decodePolygon(g, D.grid); });

    var village = polygonLayer(D.village, D.grid, { color: "#222", weight: 3, fill: false }, null, renderer);
    var grids2 = polygonLayer(D.grids2, D.grid, { color: "#555", weight: 2, fill: false }, null, renderer);
    function gridRows(i) {
      return [
        [T.code, G3.code[i]],
        [T.responsible, G3.resp[i] ? G3.resp[i] + (G3.role[i] ? "（" + G3.role[i] + "）" : "") : T.unstaffed],
        [T.phone, G3.phone[i] ? telLink(G3.phone[i]) : "—"],
        [T.households, fmt(T, G3.hh[i])],
      ];
    }
    var grids3 = polygonLayer(G3, D.grid,
      { color: "#777", weight: 1, fill: true, fillColor: "#9ecae1", fillOpacity: 0.15 },
      function (i) { return popupNode("gg-grid gg-grid-3", G3.code[i], G3.name[i], gridRows(i)); }, renderer);
    clickable(map, [grids3]);
    panel.overlay("boundaries", T.group_boundaries, "grids3", T.grids3, grids3, true, swatch("#9ecae1"), G3.code.length);
    panel.overlay("boundaries", T.group_boundaries, "grids2", T.grids2, grids2, true, swatch("#555", "gg-swatch-line"), D.grids2.code.length);
    panel.overlay("boundaries", T.group_boundaries, "villages", T.village, village, true, swatch("#222", "gg-swatch-line"), 1);
    var gLabels = labelLayer(map, G3.label, "gg-label-grid");
    map.addLayer(gLabels);

    var colours = { backbone: "#d7301f", linked: "#3182bd", unlinked: "#969696" };
    function hhColour(i) { return H.backbone[i] ? colours.backbone : H.bb[i] >= 0 ? colours.linked : colours.unlinked; }
    var links = L.layerGroup();
    var dots = L.featureGroup();
    var markers = pts.map(function (p, i) {
      var m = L.circleMarker(p, {
        renderer: renderer, radius: H.backbone[i] ? 6 : 4, weight: 1, color: "#fff", fillColor: hhColour(i), fillOpacity: 0.95,
        bubblingMouseEvents: false,
      });
      m.ggIndex = i;
      m.on("click", function () { select(i, false); });
      dots.addLayer(m);
      if (H.bb[i] >= 0) {
        links.addLayer(L.polyline([p, pts[H.bb[i]]], { renderer: renderer, color: colours.backbone, weight: 1, opacity: 0.5, interactive: false }));
      }
      return m;
    });
    panel.overlay("households", T.group_households, "links", T.links, links, true, swatch(colours.backbone, "gg-swatch-line"));
    panel.overlay("households", T.group_households, "households", T.group_households, dots, true, swatch(colours.linked, "gg-swatch-dot"), pts.length);
    G.counts.households = pts.length;
    G.counts.links = links.getLayers().length;
    G.counts.grids3 = G3.code.length;
    serviceLayers(map, D, panel, true);
    visitsDueLayer(map, D, panel, true);
    legend.set(legendNodes(T.group_households, [
      [colours.backbone, T.legend_backbone, "gg-swatch-dot"],
      [colours.linked, T.legend_linked, "gg-swatch-dot"],
      [colours.unlinked, T.legend_unlinked, "gg-swatch-dot"],
      ["#ffd400", T.unvisited, "gg-swatch-dot"],
      ["#e08214", T.watched_unvisited, "gg-swatch-dot gg-swatch-watched"],
    ]));

    function gridOf(p) {
      for (var k = 0; k < g3polys.length; k++) if (inPolygon(p, g3polys[k])) return k;
      return -1;
    }
    function nearestServices(p, n) {
      var sp = D.service;
      var order = sp.latlng.map(function (q, k) { return [haversine(p, q), k]; });
      order.sort(function (a, b) { return a[0] - b[0]; });
      return order.slice(0, n).map(function (d) {
        var k = d[1];
        return el("li", { "data-service": sp.id[k] }, [
          sp.name[k], "（", D.service_kinds[sp.kind[k]].label, "）",
          Math.round(d[0]).toLocaleString() + " " + T.metres,
        ]);
      });
    }
    function gridBlock(g) {
      if (g < 0) return el("p", null, T.not_in_grid);
      return table([[T.grid, G3.name[g] + "（" + G3.code[g] + "）"]].concat(gridRows(g).slice(1, 3)));
    }

    // popup options keeping it clear of the search box (it spans the top of a phone's screen)
    function popupClear() {
      var box = document.querySelector(".gg-search");
      var top = box ? box.getBoundingClientRect().bottom - map.getContainer().getBoundingClientRect().top + 10 : 10;
      return { maxWidth: 320, maxHeight: Math.max(200, map.getSize().y - top - 60), autoPanPaddingTopLeft: [10, top] };
    }

    // selection: highlight, link line(s), details
    var highlight = L.featureGroup().addTo(map);
    var svg = L.svg({ padding: 0.3 }); // the highlight is a DOM element one can find and style
    G.layers.highlight = highlight;
    function select(i, zoom) {
      map.closePopup();
      highlight.eachLayer(function (l) { l.closePopup && l.closePopup(); });
      highlight.clearLayers();
      var p = pts[i];
      var ring = L.circleMarker(p, { renderer: svg, bubblingMouseEvents: false, radius: 13, color: "#ff0", weight: 4, fill: false, className: "gg-highlight" });
      ring.ggIndex = i;
      highlight.addLayer(ring);
      var lines = 0;
      if (H.bb[i] >= 0) {
        highlight.addLayer(L.polyline([p, pts[H.bb[i]]], { renderer: renderer, color: "#d7301f", weight: 4, dashArray: "6 4", interactive: false }));
        lines++;
      }
      var members = [];
      if (H.backbone[i]) {
        for (var k = 0; k < pts.length; k++) {
          if (H.bb[k] === i) {
            members.push(k);
            highlight.addLayer(L.polyline([p, pts[k]], { renderer: renderer, color: "#d7301f", weight: 3, dashArray: "6 4", interactive: false }));
            lines++;
          }
        }
      }
      var g = H.grid[i];
      var bbText = H.backbone[i] ? T.yes : H.bb[i] >= 0 ? H.name[H.bb[i]] + "（" + (H.num[H.bb[i]] || H.id[H.bb[i]]) + "）" : T.not_linked;
      var rows = [
        [T.id, H.id[i]],
        [T.house_number, H.num[i] || "—"],
        [T.members, H.members[i]],
        [T.elderly, H.elderly[i]],
        [T.party_member, H.party[i] ? T.yes : T.no],
        [T.backbone, H.backbone[i] ? T.yes : T.no],
        H.backbone[i] ? [T.linked_households, members.map(function (k) { return H.name[k]; }).join("、") || "—"] : [T.backbone_of, bbText],
        H.credit[i] ? [T.credit_rating, H.credit[i]] : null,
      ];
      var content = el("div", { class: "gg-popup gg-household", "data-id": H.id[i] }, [
        el("div", "gg-popup-title", H.name[i]),
        table(rows),
        gridBlock(g),
        el("div", "gg-sub", T.nearest_service),
        el("ol", "gg-nearest", nearestServices(p, 3)),
      ]);
      ring.bindPopup(content, popupClear());
      G.selected = { id: H.id[i], index: i, lines: lines };
      if (zoom) {
        map.setView(p, Math.max(map.getZoom(), 17), { animate: false });
      }
      ring.openPopup();
    }
    G.select = function (id) { var i = H.id.indexOf(id); if (i >= 0) select(i, true); return i; };

    // the search box
    var Search = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        var div = L.DomUtil.create("div", "gg-search");
        L.DomEvent.disableClickPropagation(div);
        L.DomEvent.disableScrollPropagation(div);
        var title = L.DomUtil.create("div", "gg-search-title", div);
        title.textContent = D.title;
        var form = L.DomUtil.create("form", "", div);
        var input = L.DomUtil.create("input", "", form);
        input.type = "search";
        input.placeholder = T.search_placeholder;
        input.setAttribute("aria-label", T.search_placeholder);
        var button = L.DomUtil.create("button", "", form);
        button.type = "submit";
        button.appendChild(iconSvg(D.icons.search, 14));
        button.title = T.search;
        var status = L.DomUtil.create("div", "gg-search-status", div);
        var list = L.DomUtil.create("ul", "gg-results", div);
        function run(force) {
          var q = input.value.trim();
          clear(list);
          if (!q) { status.textContent = ""; return; }
          var found = [];
          // pinyin as the server's search reads it: initials ("zfw") or full pinyin, from the start
          var spelled = q.toLowerCase().replace(/\s+/g, "");
          var roman = /^[a-z]+$/.test(spelled) && H.ini;
          for (var i = 0; i < H.id.length; i++) {
            if (H.name[i].indexOf(q) >= 0 || (H.num[i] && H.num[i].indexOf(q) >= 0) || H.id[i] === q ||
                (roman && (H.ini[i].indexOf(spelled) === 0 || H.py[i].indexOf(spelled) === 0))) found.push(i);
          }
          status.textContent = found.length ? T.matches.replace("{n}", found.length) : T.no_match;
          found.slice(0, 50).forEach(function (i) {
            var li = L.DomUtil.create("li", "", list);
            li.setAttribute("data-id", H.id[i]);
            append(li, [el("b", null, H.name[i]), " ", H.num[i] || H.id[i]]);
            // stopped here: once the list is cleared the tap's target is out of the page, and
            // Leaflet, no longer seeing it inside the search box, would take it for a click on
            // the map there, opening that grid's popup over (and closing) the household's card
            L.DomEvent.on(li, "click", function (e) { L.DomEvent.stop(e); clear(list); select(i, true); });
          });
          if (found.length === 1) {
            clear(list);
            var ring = highlight.getLayers()[0];
            var showing = G.selected && G.selected.index === found[0] && ring && ring.isPopupOpen();
            if (!showing && (force || !(G.selected && G.selected.index === found[0]))) select(found[0], true);
          }
        }
        L.DomEvent.on(form, "submit", function (e) { L.DomEvent.preventDefault(e); run(true); });
        L.DomEvent.on(input, "input", function () { run(false); });
        return div;
      },
    });
    new Search().addTo(map);

    // locate me (a phone's GPS gives WGS84, as the map is)
    var me = L.featureGroup().addTo(map);
    G.layers.me = me;
    var Locate = L.Control.extend({
      options: { position: "bottomleft" },
      onAdd: function () {
        var b = L.DomUtil.create("button", "gg-locate");
        b.type = "button";
        append(b, [iconSvg(D.icons.locate, 16), " " + T.locate_me]);
        L.DomEvent.disableClickPropagation(b);
        L.DomEvent.on(b, "click", function () {
          b.classList.add("gg-busy");
          map.locate({ setView: false, enableHighAccuracy: true, timeout: 15000, maximumAge: 0 });
        });
        this._b = b;
        return b;
      },
    });
    var locate = new Locate().addTo(map);
    map.on("locationfound", function (e) {
      locate._b.classList.remove("gg-busy");
      me.clearLayers();
      var p = [e.latlng.lat, e.latlng.lng];
      var g = gridOf(p);
      me.addLayer(L.circle(e.latlng, { renderer: renderer, radius: e.accuracy, color: "#2c7fb8", weight: 1, fillOpacity: 0.1, interactive: false }));
      var dot = L.circleMarker(e.latlng, { renderer: renderer, bubblingMouseEvents: false, radius: 8, color: "#fff", weight: 3, fillColor: "#2c7fb8", fillOpacity: 1 });
      me.addLayer(dot);
      var content = el("div", { class: "gg-popup gg-me", "data-grid": g >= 0 ? G3.code[g] : "" }, [
        el("div", "gg-popup-title", T.you_are_here),
        el("p", null, T.accuracy.replace("{m}", Math.round(e.accuracy))),
        gridBlock(g),
        el("div", "gg-sub", T.nearest_service),
        el("ol", "gg-nearest", nearestServices(p, 3)),
      ]);
      dot.bindPopup(content, popupClear());
      map.setView(e.latlng, Math.max(map.getZoom(), 16), { animate: false });
      dot.openPopup();
      G.located = { grid: g >= 0 ? G3.code[g] : null };
    });
    map.on("locationerror", function (e) {
      locate._b.classList.remove("gg-busy");
      G.located = { error: e.message };
      L.popup().setLatLng(map.getCenter()).setContent(el("div", "gg-popup gg-me-error", T.locate_failed + e.message)).openOn(map);
    });
    finish(map, D);
    // a household picked on the finder's first page (#household=ID): selected, its card open
    var wanted = /(?:^#|&)household=([^&]+)/.exec(window.location.hash);
    if (wanted) G.select(decodeURIComponent(wanted[1]));
  }

  G.build = function (map, data) {
    var t0 = performance.now();
    ({ coverage: coverage, incidents: incidents, finder: finder })[data.kind](map, data);
    // how long drawing took, and when the page was ready (ms since navigation)
    G.timing = { build_ms: performance.now() - t0, ready_ms: performance.now() };
  };
  G.decodeCoords = decodeCoords;
})();
