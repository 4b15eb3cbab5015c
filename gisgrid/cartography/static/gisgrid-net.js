/* gisgrid: the net drawn from vector tiles (/tiles/{layer}/{z}/{x}/{y}.mvt) with
 * protomaps-leaflet. The page passes its data in data- attributes (no inline script).
 * window.gisgrid tells a test what was drawn: the map, the tiles asked for, the features
 * painted and the codes of the grids painted; ready once the first tiles are drawn. */
(function () {
  "use strict";
  const el = document.getElementById("net");
  const status = document.getElementById("status");
  const b = el.dataset.bounds.split(",").map(Number);
  const gridZoom = Number(el.dataset.gridZoom);
  const householdZoom = Number(el.dataset.householdZoom);
  const state = { map: null, ready: false, tiles: 0, painted: {}, grids: new Set() };
  window.gisgrid = state;

  const map = L.map(el, { minZoom: gridZoom, maxZoom: 19, preferCanvas: true });
  map.fitBounds([[b[0], b[1]], [b[2], b[3]]]);
  state.map = map;

  function counted(layer, symbolizer) {
    // paints as the symbolizer does, and counts what it painted
    const wrapped = {
      draw(ctx, geom, z, feature) {
        state.painted[layer] = (state.painted[layer] || 0) + 1;
        if (layer === "grids" && feature.props.code) state.grids.add(String(feature.props.code));
        symbolizer.draw(ctx, geom, z, feature);
      },
    };
    if (symbolizer.before) wrapped.before = (ctx, z) => symbolizer.before(ctx, z);
    return wrapped;
  }

  function source(layer) {
    return { url: "/tiles/" + layer + "/{z}/{x}/{y}.mvt", levelDiff: 0, maxDataZoom: 19 };
  }

  const line = (color, width) => new protomapsL.LineSymbolizer({ color: color, width: width });
  const level = (n) => (z, f) => Number(f.props.level) === n;
  const net = protomapsL.leafletLayer({
    sources: { net: source("grids") },
    minZoom: gridZoom,
    attribution: "网格数据：本系统",
    paintRules: [
      { dataSource: "net", dataLayer: "grids", filter: level(3), symbolizer: counted("grids", line("#555", 0.8)) },
      { dataSource: "net", dataLayer: "grids", filter: level(2), symbolizer: counted("grids", line("#1565c0", 1.6)) },
      { dataSource: "net", dataLayer: "grids", filter: level(1), symbolizer: counted("grids", line("#b71c1c", 2.4)) },
    ],
    labelRules: [],
  });
  const layers = [net];
  if (el.dataset.households === "1") {
    layers.push(protomapsL.leafletLayer({
      sources: { homes: source("households") },
      minZoom: householdZoom,
      attribution: "",
      paintRules: [{
        dataSource: "homes", dataLayer: "households",
        symbolizer: counted("households", new protomapsL.CircleSymbolizer({ radius: 2.5, fill: "#2e7d32", stroke: "#fff", width: 0.5 })),
      }],
      labelRules: [],
    }));
  }
  let pending = layers.length;
  for (const layer of layers) {
    layer.on("tileloadstart", () => { state.tiles += 1; });
    layer.once("load", () => {
      pending -= 1;
      if (pending <= 0) {
        state.ready = true;
        status.textContent = "已绘制";
      }
    });
    layer.addTo(map);
  }
  if (map.getZoom() < householdZoom && layers.length > 1) {
    pending -= 1;  // the households' layer draws nothing at this zoom: nothing to wait for
    if (pending <= 0) { state.ready = true; status.textContent = "已绘制"; }
  }
})();
