/* gisgrid grid editor: the script of the page /editor.
 *
 * The page passes its data in data- attributes of #editor (the Content-Security-Policy allows
 * no inline script); everything else comes from the JSON API. Drawing is Leaflet-Geoman
 * (installed from the npm registry at set-up, served from /assets/). Every write carries the
 * session's CSRF token in the X-CSRF-Token header. Text from the server is put into the page
 * as text (textContent), never as markup.
 *
 * For the tests (and a curious developer's console): window.gisgrid = {map, ready, editor};
 * editor.busy is true while an action or a request is under way, editor.last holds the last
 * answer and editor.writes every answer to a write (POST).
 */
(function () {
  "use strict";

  var root = document.getElementById("editor");
  if (!root) {
    return;
  }
  var cfg = {
    village: root.dataset.village || "",
    villageName: root.dataset.villageName || "",
    csrf: root.dataset.csrf || "",
    me: root.dataset.me || "",
    canEdit: root.dataset.canEdit === "1",
    canReview: root.dataset.canReview === "1",
  };
  var LEVEL_NAMES = { 1: "一级网格", 2: "二级网格", 3: "三级网格" };
  var OP_NAMES = {
    split: "划线分割",
    merge: "合并",
    reshape: "修整边界",
    add: "新增网格",
    attributes: "编辑属性",
    undo: "撤销",
  };
  var STATUS_NAMES = {
    draft: "草稿",
    submitted: "审核中",
    returned: "已退回",
    published: "已发布",
    withdrawn: "已撤回",
  };
  var CHANGE_NAMES = { added: "新增", reshaped: "修整", retired: "撤销", edited: "改属性" };
  //: snapping distance on the screen (pixels) and on the ground (metres, done by the server)
  var SNAP_PX = 15;
  var SNAP_M = 3;

  var editor = {
    pending: 0, // actions and requests under way
    last: null, // {method, url, body, status, data} of the last API answer
    writes: [], // the same, of every write
    base: new Map(), // code → GeoJSON feature of the net in force
    view: new Map(), // code → feature: the net as the open change set leaves it
    changeSet: null, // the open change set (JSON of GET /api/changesets/{id})
    reviewing: null, // the change set open for review
    selected: null, // code
    tool: null, // reshape | split | merge | add | attributes
    picks: [], // merge: the other codes
    problems: [],
  };
  var map = null;
  var layers = { net: null, problems: null, diff: null };
  var byCode = new Map(); // code → Leaflet layer drawn
  var editing = null; // the Leaflet layer whose vertices are being dragged

  var page = window.gisgridPage; // gisgrid-page.js, loaded before this script
  var $ = page.$;
  var el = page.el;
  var say = page.say;

  // --- the API ---------------------------------------------------------------------------

  var call = page.caller(editor, cfg.csrf);

  function action(fn) {
    // an event handler whose work (several requests) counts as one: busy until it is done
    return async function () {
      editor.pending += 1;
      try {
        return await fn.apply(this, arguments);
      } catch (error) {
        say("编辑器出错：" + error, true);
      } finally {
        editor.pending -= 1;
        enableTools();
      }
    };
  }
  Object.defineProperty(editor, "busy", {
    get: function () {
      return editor.pending > 0;
    },
  });

  function problemsOf(answer) {
    // the located problems of a refused edit or submit (in the error body)
    var data = answer.data || {};
    return data.problems || (data.error && data.error.problems) || [];
  }

  function errorText(answer) {
    var error = answer.data && answer.data.error;
    if (error && error.message) {
      return error.message;
    }
    return "服务器答复 " + answer.status;
  }

  // --- the net ---------------------------------------------------------------------------

  function props(feature) {
    return feature.properties || {};
  }

  function level(feature) {
    return Number(props(feature).level);
  }

  function editLevel() {
    var select = $("edit-level");
    return select ? Number(select.value) : 3;
  }

  function styleOf(feature) {
    var code = props(feature).code;
    var lv = level(feature);
    var style = { color: "#546e7a", weight: 1, fillOpacity: 0.08, fillColor: "#90a4ae" };
    if (lv === 1) {
      style = { color: "#37474f", weight: 3, dashArray: "6 4", fill: false };
    } else if (lv === 2) {
      style = { color: "#1a237e", weight: lv === editLevel() ? 2.5 : 2, fillOpacity: lv === editLevel() ? 0.12 : 0, fillColor: "#5c6bc0" };
    }
    var change = props(feature).change;
    if (change === "added" || change === "reshaped") {
      style.fillColor = "#ff9800";
      style.fillOpacity = 0.25;
    }
    if (code === editor.selected) {
      style.color = "#1565c0";
      style.weight = 4;
      style.fillOpacity = 0.3;
    } else if (editor.picks.indexOf(code) >= 0) {
      style.color = "#6a1b9a";
      style.weight = 4;
      style.fillOpacity = 0.3;
    }
    return style;
  }

  function draw() {
    if (layers.net) {
      layers.net.remove();
    }
    byCode = new Map();
    var features = Array.from(editor.view.values());
    // the editable level on top; the others still draw (and are snapped to), not clicked
    features.sort(function (a, b) {
      return (level(a) === editLevel() ? 1 : 0) - (level(b) === editLevel() ? 1 : 0) || level(a) - level(b);
    });
    layers.net = L.geoJSON({ type: "FeatureCollection", features: features }, {
      style: styleOf,
      // only the edited layer is edited by Geoman; every drawn grid is a snapping target
      pmIgnore: true,
      snapIgnore: false,
      onEachFeature: function (feature, layer) {
        var p = props(feature);
        var interactive = level(feature) === editLevel();
        layer.options.interactive = interactive;
        layer.options.pmIgnore = true;
        layer.options.snapIgnore = false;
        if (interactive) {
          // a string tooltip is set as HTML by Leaflet: hand it an element made from text
          layer.bindTooltip(function () {
            return el("span", p.name + "（" + p.code + "）");
          }, { sticky: true });
          // the click goes on to the map too: a drawing tool places its vertex there
          layer.on("click", function () {
            clicked(p.code);
          });
        }
        byCode.set(p.code, layer);
      },
    }).addTo(map);
  }

  function restyle() {
    byCode.forEach(function (layer, code) {
      var feature = editor.view.get(code);
      if (feature && layer !== editing) {
        layer.setStyle(styleOf(feature));
      }
    });
  }

  async function loadNet() {
    var url = "/api/layers/grids?village=" + encodeURIComponent(cfg.village) + "&limit=5000";
    var answer = await call("GET", url);
    if (answer.status !== 200) {
      say("无法载入网格：" + errorText(answer), true);
      return false;
    }
    editor.base = new Map();
    answer.data.features.forEach(function (feature) {
      editor.base.set(props(feature).code, feature);
    });
    return true;
  }

  function applyChange(collection) {
    // the net as a change set leaves it: its changed grids over the net in force
    editor.view = new Map(editor.base);
    var features = (collection && collection.features) || [];
    features.forEach(function (feature) {
      var p = props(feature);
      if (p.change === "retired") {
        editor.view.delete(p.code);
      } else {
        editor.view.set(p.code, feature);
      }
    });
    if (editor.selected && !editor.view.has(editor.selected)) {
      editor.selected = null;
    }
    editor.picks = editor.picks.filter(function (code) {
      return editor.view.has(code);
    });
  }

  function fit() {
    var bounds = null;
    editor.view.forEach(function (feature) {
      var b = L.geoJSON(feature).getBounds();
      bounds = bounds ? bounds.extend(b) : b;
    });
    if (bounds && bounds.isValid()) {
      map.fitBounds(bounds, { padding: [10, 10], animate: false });
    }
  }

  // --- choosing a grid -------------------------------------------------------------------

  function clicked(code) {
    if (editor.tool === "merge") {
      if (code === editor.selected) {
        return;
      }
      var i = editor.picks.indexOf(code);
      if (i >= 0) {
        editor.picks.splice(i, 1);
      } else if (!siblings(editor.selected, code)) {
        say("只能合并同一上级网格下相邻的同级网格。", true);
        return;
      } else {
        editor.picks.push(code);
      }
      hint("合并：已选 " + (editor.picks.length + 1) + " 个网格。点击其他同级网格加入或移出，再点“完成”。");
      restyle();
      return;
    }
    if (editor.tool) {
      return; // finish or cancel the tool first
    }
    select(code);
  }

  function siblings(a, b) {
    var fa = editor.view.get(a);
    var fb = editor.view.get(b);
    return !!(fa && fb && level(fa) === level(fb) && props(fa).parent_code === props(fb).parent_code);
  }

  function select(code) {
    editor.selected = code;
    var feature = code ? editor.view.get(code) : null;
    var selected = $("selected");
    selected.textContent = "";
    if (feature) {
      var p = props(feature);
      selected.appendChild(el("b", p.name));
      selected.appendChild(el("span", "（" + p.code + "，" + (LEVEL_NAMES[p.level] || "") + "）"));
      var who = p.responsible_name ? "负责人：" + p.responsible_name + (p.responsible_phone ? " " + p.responsible_phone : "") : "负责人：（无）";
      selected.appendChild(el("div", who, "muted"));
      if (p.change) {
        selected.appendChild(el("div", "草稿中：" + (CHANGE_NAMES[p.change] || p.change), "muted"));
      }
      selected.classList.remove("muted");
    } else {
      selected.textContent = "在地图上点击一个网格。";
      selected.classList.add("muted");
    }
    enableTools();
    restyle();
    showHistory(feature);
  }

  function editable() {
    var cs = editor.changeSet;
    return cfg.canEdit && !editor.reviewing && (!cs || cs.status === "draft" || cs.status === "returned");
  }

  function enableTools() {
    var tools = $("tools");
    if (!tools) {
      return;
    }
    var can = editable() && !editor.busy;
    tools.querySelectorAll("button[data-tool]").forEach(function (button) {
      var tool = button.dataset.tool;
      var needsGrid = tool !== "add";
      button.disabled = !can || !!editor.tool || (needsGrid && !editor.selected);
      button.classList.toggle("active", editor.tool === tool);
    });
  }

  // --- the tools -------------------------------------------------------------------------

  function hint(text) {
    var box = $("tool-hint");
    box.textContent = text;
    box.hidden = !text;
  }

  function startTool(tool) {
    clearProblems();
    editor.tool = tool;
    editor.picks = [];
    $("tool-actions").hidden = tool === "attributes";
    $("tool-finish").hidden = tool === "split" || tool === "add";
    var drawOptions = { snappable: true, snapDistance: SNAP_PX, allowSelfIntersection: false, continueDrawing: false };
    if (tool === "reshape") {
      editing = byCode.get(editor.selected);
      editing.options.pmIgnore = false;
      L.PM.reInitLayer(editing);
      editing.pm.enable({ snappable: true, snapDistance: SNAP_PX, allowSelfIntersection: false, draggable: false });
      hint("修整边界：拖动顶点（靠近相邻网格的顶点或边时自动吸附），再点“完成”。");
    } else if (tool === "split") {
      // the line only has to cross the grid: the server cuts it, no snapping needed
      map.pm.enableDraw("Line", Object.assign({}, drawOptions, { snappable: false }));
      hint("划线分割：在地图上逐点画一条穿过网格的线，在最后一点上再点一次结束。");
    } else if (tool === "merge") {
      hint("合并：点击要并入的同级相邻网格，再点“完成”。");
    } else if (tool === "add") {
      fillParents();
      $("add-form").hidden = false;
      map.pm.enableDraw("Polygon", drawOptions);
      hint("新增网格：先填写名称和上级网格，再在上级网格内逐点画出边界，点回第一个点闭合。");
    } else if (tool === "attributes") {
      fillAttributes();
      $("attributes-form").hidden = false;
      hint("编辑属性：修改后点“保存属性”。");
      $("tool-actions").hidden = false;
      $("tool-finish").hidden = true;
    }
    enableTools();
    restyle();
  }

  function stopTool() {
    if (editing) {
      editing.pm.disable();
      editing = null;
    }
    if (map.pm.globalDrawModeEnabled()) {
      map.pm.disableDraw();
    }
    editor.tool = null;
    editor.picks = [];
    $("tool-actions").hidden = true;
    $("add-form").hidden = true;
    $("attributes-form").hidden = true;
    hint("");
    enableTools();
  }

  function fillParents() {
    var select = $("add-parent");
    select.textContent = "";
    var chosen = editor.selected ? editor.view.get(editor.selected) : null;
    var preferred = chosen ? (level(chosen) < 3 ? props(chosen).code : props(chosen).parent_code) : null;
    var parents = Array.from(editor.view.values()).filter(function (f) {
      return level(f) < 3;
    });
    parents.sort(function (a, b) {
      return props(a).code < props(b).code ? -1 : 1;
    });
    parents.forEach(function (f) {
      var p = props(f);
      var option = el("option", p.name + "（" + (LEVEL_NAMES[p.level] || "") + " " + p.code + "）");
      option.value = p.code;
      option.selected = p.code === preferred;
      select.appendChild(option);
    });
  }

  function fillAttributes() {
    var form = $("attributes-form");
    var p = props(editor.view.get(editor.selected));
    ["name", "responsible_name", "responsible_phone", "responsible_role"].forEach(function (name) {
      form.elements[name].value = p[name] || "";
    });
  }

  async function finishTool() {
    if (editor.tool === "reshape") {
      var geometry = onePart(editing.toGeoJSON(false).geometry); // full precision: snapped vertices exact
      await edit({ op: "reshape", code: editor.selected, geometry: geometry, snap_m: SNAP_M });
    } else if (editor.tool === "merge") {
      if (editor.picks.length === 0) {
        say("请至少再选一个相邻的同级网格。", true);
        return;
      }
      await edit({ op: "merge", codes: [editor.selected].concat(editor.picks) });
    }
  }

  function onePart(geometry) {
    // a grid of one part is sent as the Polygon it is (the store keeps it as a MultiPolygon)
    if (geometry.type === "MultiPolygon" && geometry.coordinates.length === 1) {
      return { type: "Polygon", coordinates: geometry.coordinates[0] };
    }
    return geometry;
  }

  async function drawn(event) {
    var geometry = event.layer.toGeoJSON(false).geometry;
    event.layer.remove();
    if (editor.tool === "split" && event.shape === "Line") {
      await edit({ op: "split", code: editor.selected, line: geometry });
    } else if (editor.tool === "add" && event.shape === "Polygon") {
      var name = $("add-name").value.trim() || "新网格";
      await edit({ op: "add", parent_code: $("add-parent").value, geometry: geometry, name: name });
    }
  }

  async function saveAttributes() {
    var form = $("attributes-form");
    var body = { op: "attributes", code: editor.selected };
    ["name", "responsible_name", "responsible_phone", "responsible_role"].forEach(function (name) {
      body[name] = form.elements[name].value.trim();
    });
    await edit(body);
  }

  // --- change sets -----------------------------------------------------------------------

  function editCount(cs) {
    // the number of the last edit: the change set's counter (or its list of edits)
    if (Array.isArray(cs.edits)) {
      return cs.edits.reduce(function (most, e) {
        return Math.max(most, Number(e.seq) || 0);
      }, 0);
    }
    return Number(cs.edits) || 0;
  }

  function changeSetOf(data) {
    return (data && (data.change_set || data.changeset)) || data;
  }

  async function ensureDraft() {
    if (editor.changeSet) {
      return editor.changeSet;
    }
    var title = $("draft-title").value.trim() || "调整网格：" + (cfg.villageName || cfg.village);
    var answer = await call("POST", "/api/changesets", {
      village_code: cfg.village,
      title: title,
      note: $("draft-note").value.trim(),
    });
    if (answer.status !== 201 && answer.status !== 200) {
      say("无法创建草稿：" + errorText(answer), true);
      return null;
    }
    await openChangeSet(changeSetOf(answer.data).id);
    return editor.changeSet;
  }

  async function edit(body) {
    var cs = await ensureDraft();
    if (!cs) {
      return;
    }
    body.after = editCount(cs);
    var answer = await call("POST", "/api/changesets/" + cs.id + "/edits", body);
    if (answer.status === 201 || answer.status === 200) {
      stopTool();
      clearProblems();
      await openChangeSet(cs.id);
      say("已记入草稿：" + (OP_NAMES[body.op] || body.op) + "。");
      return;
    }
    var problems = problemsOf(answer);
    if (answer.status === 422 && problems.length) {
      showProblems(problems);
      say("修改未被接受：" + errorText(answer) + "（问题已在地图上用红色标出）", true);
      if (editor.tool === "reshape" && editing) {
        // back to the outline as it stands, the tool stays on for another try
        var feature = editor.view.get(editor.selected);
        editing.pm.disable();
        editing.setLatLngs(L.geoJSON(feature).getLayers()[0].getLatLngs());
        editing.pm.enable({ snappable: true, snapDistance: SNAP_PX, allowSelfIntersection: false, draggable: false });
      }
      return;
    }
    say(errorText(answer), true);
    if (answer.status === 409) {
      await openChangeSet(cs.id);
    }
  }

  async function openChangeSet(id) {
    var answer = await call("GET", "/api/changesets/" + id);
    if (answer.status !== 200) {
      say("无法读取草稿：" + errorText(answer), true);
      return;
    }
    var cs = changeSetOf(answer.data);
    editor.changeSet = cs;
    cs.features = answer.data.features || cs.features;
    cs.edit_list = Array.isArray(answer.data.edits) ? answer.data.edits : cs.edit_list || [];
    cs.effective = answer.data.effective || null; // the edits still in force (not undone)
    applyChange(cs.features);
    draw();
    select(editor.selected);
    showDraft();
  }

  function showDraft() {
    var cs = editor.changeSet;
    var list = $("edits");
    if (!list) {
      return;
    }
    list.textContent = "";
    if (!cs) {
      $("draft-state").textContent = "尚无草稿：第一次修改时自动创建。";
      ["undo", "show-diff", "submit", "withdraw"].forEach(function (id) {
        $(id).disabled = true;
      });
      return;
    }
    $("draft-state").textContent = "#" + cs.id + " " + cs.title + " · " + (STATUS_NAMES[cs.status] || cs.status) +
      (cs.comment ? " · 审核意见：" + cs.comment : "") +
      (cs.stale ? " · 注意：本村网格在草稿开始后已有修改发布，提交时将被拒绝，请撤回后重新编辑。" : "");
    $("draft-title").value = cs.title || "";
    $("draft-note").value = cs.note || "";
    (cs.edit_list || []).forEach(function (e) {
      var params = e.params || {};
      var what = params.code || (params.codes || []).join("、") || params.parent_code || "";
      var undone = e.op !== "undo" && cs.effective && cs.effective.indexOf(e.seq) < 0;
      list.appendChild(el("li", (OP_NAMES[e.op] || e.op) + (what ? " " + what : "") + (e.actor ? " · " + e.actor : "") +
        (undone ? "（已撤销）" : ""), undone ? "undone" : ""));
    });
    var editableNow = editable();
    var count = (cs.edit_list || []).length || editCount(cs);
    $("undo").disabled = !editableNow || count === 0;
    $("show-diff").disabled = count === 0;
    $("submit").disabled = !editableNow || count === 0;
    $("withdraw").disabled = cs.author !== cfg.me || ["draft", "returned", "submitted"].indexOf(cs.status) < 0;
  }

  async function undo() {
    await edit({ op: "undo" });
  }

  async function showDiff(id) {
    var answer = await call("GET", "/api/changesets/" + id + "/diff");
    if (answer.status !== 200) {
      say("无法计算差异：" + errorText(answer), true);
      return;
    }
    renderDiff(answer.data);
  }

  async function submit() {
    var cs = editor.changeSet;
    await showDiff(cs.id);
    var answer = await call("POST", "/api/changesets/" + cs.id + "/submit");
    if (answer.status === 200) {
      say("已提交审核。");
      await openChangeSet(cs.id);
      return;
    }
    if (problemsOf(answer).length) {
      showProblems(problemsOf(answer));
    }
    say("提交未成功：" + errorText(answer), true);
  }

  async function withdraw() {
    var cs = editor.changeSet;
    var answer = await call("POST", "/api/changesets/" + cs.id + "/withdraw");
    if (answer.status !== 200) {
      say("撤回未成功：" + errorText(answer), true);
      return;
    }
    editor.changeSet = null;
    clearProblems();
    applyChange(null);
    draw();
    select(editor.selected);
    showDraft();
    say("草稿 #" + cs.id + " 已撤回，网格未作修改。");
  }

  async function resumeDraft() {
    // the caller's own open draft of this village, if any: editing goes on in it
    var url = "/api/changesets?village=" + encodeURIComponent(cfg.village);
    var answer = await call("GET", url);
    if (answer.status !== 200) {
      return;
    }
    var items = Array.isArray(answer.data) ? answer.data : answer.data.items || answer.data.change_sets || [];
    var mine = items.filter(function (cs) {
      return cs.author === cfg.me && ["draft", "returned", "submitted"].indexOf(cs.status) >= 0;
    });
    if (mine.length) {
      await openChangeSet(mine[0].id);
    }
    if (cfg.canReview) {
      showReviews(items.filter(function (cs) {
        return cs.status === "submitted";
      }));
    }
  }

  // --- review ----------------------------------------------------------------------------

  function showReviews(items) {
    var list = $("reviews");
    list.textContent = "";
    if (!items.length) {
      list.appendChild(el("li", "无待审核的修改。", "muted"));
      return;
    }
    items.forEach(function (cs) {
      var item = el("li");
      var button = el("button", "#" + cs.id + " " + cs.title + "（" + cs.author + "）");
      button.type = "button";
      button.dataset.changeSet = cs.id;
      button.addEventListener("click", action(function () {
        return review(cs.id);
      }));
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  async function review(id) {
    var answer = await call("GET", "/api/changesets/" + id);
    if (answer.status !== 200) {
      say(errorText(answer), true);
      return;
    }
    var cs = changeSetOf(answer.data);
    editor.reviewing = cs;
    applyChange(answer.data.features || cs.features);
    draw();
    fit();
    enableTools();
    $("review-actions").hidden = false;
    $("review-title").textContent = "#" + cs.id + " " + cs.title + "（" + cs.author + "）" + (cs.note ? "：" + cs.note : "");
    var own = cs.author === cfg.me;
    $("approve").disabled = own;
    $("return").disabled = own;
    if (own) {
      say("不能审核自己提交的修改。", true);
    }
    await showDiff(id);
  }

  async function decide(action) {
    var cs = editor.reviewing;
    var comment = $("review-comment").value.trim();
    if (action === "return" && !comment) {
      say("退回时请填写意见。", true);
      return;
    }
    var answer = await call("POST", "/api/changesets/" + cs.id + "/" + action, action === "return" ? { comment: comment } : { comment: comment || null });
    if (answer.status !== 200) {
      say((action === "approve" ? "发布未成功：" : "退回未成功：") + errorText(answer), true);
      return;
    }
    editor.reviewing = null;
    $("review-actions").hidden = true;
    say(action === "approve" ? "已批准并发布。" : "已退回。");
    await loadNet();
    applyChange(null);
    draw();
    await resumeDraft();
  }

  // --- problems, diff, history -----------------------------------------------------------

  function clearProblems() {
    editor.problems = [];
    layers.problems.clearLayers();
    $("problems").textContent = "";
    $("problems-panel").hidden = true;
  }

  function showProblems(problems) {
    clearProblems();
    editor.problems = problems;
    var list = $("problems");
    problems.forEach(function (problem) {
      var text = problem.message_zh || problem.message || problem.kind;
      var codes = (problem.codes || []).join("、");
      list.appendChild(el("li", text + (codes ? "（" + codes + "）" : "")));
      if (problem.geometry) {
        var shape = L.geoJSON(problem.geometry, {
          pane: "problems",
          pmIgnore: true,
          snapIgnore: true,
          interactive: false,
          style: { color: "#d50000", weight: 3, fillColor: "#ff1744", fillOpacity: 0.45 },
          pointToLayer: function (feature, latlng) {
            return L.circleMarker(latlng, { pane: "problems", radius: 8, color: "#d50000", pmIgnore: true, snapIgnore: true });
          },
        });
        shape.bindTooltip(function () {
          return el("span", text);
        });
        layers.problems.addLayer(shape);
      }
    });
    $("problems-panel").hidden = problems.length === 0;
  }

  function table(headers, rows) {
    var t = el("table", null, "diff");
    var head = el("tr");
    headers.forEach(function (h) {
      head.appendChild(el("th", h));
    });
    t.appendChild(head);
    rows.forEach(function (row) {
      var tr = el("tr");
      row.forEach(function (cell) {
        var td = el("td", cell && cell.text !== undefined ? cell.text : cell);
        if (cell && cell.cls) {
          td.className = cell.cls;
        }
        tr.appendChild(td);
      });
      t.appendChild(tr);
    });
    return t;
  }

  function codesOf(list) {
    return (list || []).map(function (g) {
      return typeof g === "string" ? g : g.code + (g.name ? " " + g.name : "");
    });
  }

  function renderDiff(data) {
    var box = $("diff");
    box.textContent = "";
    var grids = data.grids || {};
    var rows = [];
    [["added", "新增"], ["removed", "撤销"], ["reshaped", "修整边界"], ["edited", "改属性"]].forEach(function (pair) {
      var list = codesOf(grids[pair[0]]);
      rows.push([pair[1], list.length, list.join("、")]);
    });
    box.appendChild(el("h3", "网格"));
    box.appendChild(table(["变化", "个数", "网格"], rows));
    // households (and service points, incidents) moving, counted by grid: from → to
    var moves = data.moves || {};
    [["households", "农户"], ["service_points", "服务点"], ["incidents", "事件"]].forEach(function (pair) {
      var counted = new Map();
      (moves[pair[0]] || []).forEach(function (m) {
        var from = m.from !== undefined ? m.from : m.from_grid;
        var to = m.to !== undefined ? m.to : m.to_grid;
        var key = (from || "（无）") + " → " + (to || "（无）");
        counted.set(key, (counted.get(key) || 0) + (Number(m.count) || 1));
      });
      if (counted.size) {
        box.appendChild(el("h3", pair[1] + "变动"));
        box.appendChild(table(["从 → 到", "户数"], Array.from(counted.entries()).map(function (kv) {
          return [kv[0], { text: kv[1], cls: "num" }];
        })));
      }
    });
    if ((data.persons || []).length) {
      box.appendChild(el("h3", "负责人管辖户数"));
      box.appendChild(table(["负责人", "网格", "之前", "之后"], data.persons.map(function (p) {
        var delta = Number(p.after) - Number(p.before);
        var grids = p.grid || [].concat(p.grids_after || [], p.grids_before || []).filter(function (g, i, all) {
          return all.indexOf(g) === i;
        }).join("、");
        return [p.name || "（无）", grids, { text: p.before, cls: "num" }, { text: p.after, cls: "num " + (delta > 0 ? "gain" : delta < 0 ? "loss" : "") }];
      })));
    }
    if ((data.workload || []).length) {
      box.appendChild(el("h3", "修改后工作量"));
      var BANDS = { low: "偏少", normal: "适中", ok: "适中", high: "偏多" };
      box.appendChild(table(["网格", "修改前", "修改后", "负荷"], data.workload.map(function (w) {
        var before = w.households_before !== undefined ? w.households_before : "";
        return [w.grid || w.code, { text: before, cls: "num" }, { text: w.households, cls: "num" }, BANDS[w.band] || w.band || ""];
      })));
    }
    $("diff-panel").hidden = false;
    layers.diff.clearLayers();
    var features = (data.features && data.features.features) || [];
    features.forEach(function (feature) {
      var before = props(feature).side === "before" || props(feature).state === "before" || props(feature).when === "before";
      layers.diff.addLayer(L.geoJSON(feature, {
        pane: "diff",
        pmIgnore: true,
        snapIgnore: true,
        interactive: false,
        style: before ? { color: "#616161", weight: 2, dashArray: "4 4", fill: false } : { color: "#e65100", weight: 2, fill: false },
      }));
    });
  }

  async function showHistory(feature) {
    var panel = $("history-panel");
    var box = $("history");
    box.textContent = "";
    if (!feature || !editor.base.has(props(feature).code)) {
      panel.hidden = true;
      return;
    }
    var code = props(feature).code;
    var answer = await call("GET", "/api/grids/" + encodeURIComponent(code) + "/history");
    if (editor.selected !== code) {
      return; // another grid was chosen meanwhile
    }
    panel.hidden = false;
    if (answer.status !== 200) {
      box.appendChild(el("p", "无法读取历史：" + errorText(answer), "muted"));
      return;
    }
    var data = answer.data || {};
    var versions = data.versions || [];
    box.appendChild(table(["版本", "名称", "启用", "停用", "修改单"], versions.map(function (v) {
      var p = v.properties || v;
      return [p.version || 1, p.name || "", p.valid_from || "", p.valid_to || "", p.change_set ? "#" + p.change_set : "导入"];
    })));
    var from = codesOf(data.came_from || data.derived_from);
    var into = codesOf(data.went_into || data.succeeded_by);
    if (from.length) {
      box.appendChild(el("p", "来自：" + from.join("、")));
    }
    if (into.length) {
      box.appendChild(el("p", "演变为：" + into.join("、")));
    }
  }

  // --- start -----------------------------------------------------------------------------

  function wire() {
    if ($("edit-level")) {
      $("edit-level").addEventListener("change", function () {
        stopTool();
        select(null);
        draw();
      });
    }
    if ($("tools")) {
      $("tools").querySelectorAll("button[data-tool]").forEach(function (button) {
        button.addEventListener("click", function () {
          startTool(button.dataset.tool);
        });
      });
      $("tool-finish").addEventListener("click", action(finishTool));
      $("tool-cancel").addEventListener("click", function () {
        stopTool();
        clearProblems();
        say("已取消，未作修改。");
        draw();
        restyle();
      });
      var save = action(saveAttributes);
      $("attributes-form").addEventListener("submit", function (event) {
        event.preventDefault();
        save();
      });
      $("undo").addEventListener("click", action(undo));
      $("show-diff").addEventListener("click", action(function () {
        return showDiff(editor.changeSet.id);
      }));
      $("submit").addEventListener("click", action(submit));
      $("withdraw").addEventListener("click", action(withdraw));
      map.on("pm:create", action(drawn));
    }
    if ($("review-actions")) {
      $("approve").addEventListener("click", action(function () {
        return decide("approve");
      }));
      $("return").addEventListener("click", action(function () {
        return decide("return");
      }));
    }
  }

  async function start() {
    map = L.map("map", { zoomControl: true, preferCanvas: false });
    map.setView([29.5, 112.55], 11);
    // problems and the diff draw over the net: panes above the overlay pane
    map.createPane("diff").style.zIndex = 450;
    map.createPane("problems").style.zIndex = 460;
    layers.diff = L.featureGroup().addTo(map);
    layers.problems = L.featureGroup().addTo(map);
    if (map.pm) {
      map.pm.setGlobalOptions({ snappable: true, snapDistance: SNAP_PX });
    }
    window.gisgrid = { map: map, ready: false, editor: editor };
    if (!cfg.village) {
      window.gisgrid.ready = true;
      return;
    }
    wire();
    if (!(await loadNet())) {
      window.gisgrid.ready = true;
      return;
    }
    applyChange(null);
    draw();
    fit();
    await resumeDraft();
    select(editor.selected);
    say(editor.base.size ? "已载入 " + editor.base.size + " 个网格。" : "该村（社区）没有网格。");
    window.gisgrid.ready = true;
  }

  start().catch(function (error) {
    say("编辑器出错：" + error, true);
    window.gisgrid = window.gisgrid || {};
    window.gisgrid.failed = String(error);
  });
})();
