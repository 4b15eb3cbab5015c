/* gisgrid case page: the script of /cases/{incident_id}, made for a phone.
 *
 * The page passes its data in data- attributes of #case (the Content-Security-Policy allows
 * no inline script). The case is read from GET /api/incidents/{id}/case: its stage, its
 * steps and the actions the signed-in person may take next, one button each. A step is
 * POSTed to /api/incidents/{id}/steps with the session's CSRF token in X-CSRF-Token and
 * `after` = the number of steps shown: when someone else moved the case meanwhile the server
 * answers 409 and nothing changes. After every answer the case is read again. 派遣 and
 * 重新派遣 go to someone chosen from a list (GET /api/incidents/{id}/assignees). Text from the
 * server goes into the page as text (textContent), never as markup.
 *
 * Photos chosen in #photos (taken with the phone's camera or picked) are uploaded first, one
 * by one, to POST /api/incidents/{id}/photos (the image's bytes as the body, its own type),
 * and the step names them by the SHA-256 the server answers. A photo the server refuses
 * (type, size) stops the step before it is sent. The history shows each step's photos as
 * thumbnails read from the server (img src: this server only, as the page's policy says).
 *
 * For the tests: window.gisgrid = {map, ready, cases}; cases.busy is true while a request is
 * under way, cases.case holds the case shown, cases.writes every answer to a write (a
 * photo's upload, a step).
 */
(function () {
  "use strict";

  var root = document.getElementById("case");
  if (!root) {
    return;
  }
  var cfg = {
    incident: root.dataset.incident,
    csrf: root.dataset.csrf || "",
    me: root.dataset.me || "",
    lon: parseFloat(root.dataset.lon),
    lat: parseFloat(root.dataset.lat),
    noteRequired: (root.dataset.noteRequired || "").split(" "),
    assigneeRequired: (root.dataset.assigneeRequired || "").split(" "),
    photoMax: parseInt(root.dataset.photoMax, 10) || 0,
    maxPhotos: parseInt(root.dataset.maxPhotos, 10) || 0,
  };
  var PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
  var LEVELS = { grid: "网格", village: "村", township: "乡镇", county: "县" };
  var ACTIONS = {
    report: "上报",
    dispatch: "派遣",
    reject: "不予受理",
    accept: "签收处置",
    decline: "退回",
    redispatch: "重新派遣",
    handled: "处置完毕",
    verify: "核查通过并结案",
    reopen: "核查不通过",
  };
  var cases = { pending: 0, case: null, last: null, writes: [] };
  Object.defineProperty(cases, "busy", {
    get: function () {
      return cases.pending > 0;
    },
  });
  var map = null;
  var url = "/api/incidents/" + encodeURIComponent(cfg.incident);

  var page = window.gisgridPage; // gisgrid-page.js, loaded before this script
  var $ = page.$;
  var el = page.el;
  var say = page.say;

  var call = page.caller(cases, cfg.csrf);

  function refusal(answer) {
    // what a refused step means, in Chinese; the server's own words follow
    var why = answer.data && answer.data.error ? answer.data.error.message : "";
    var text;
    if (answer.status === 409) {
      text = "未能办理：案件已被他人办理，或当前阶段不允许此操作（缺少说明或承办人也会被拒绝）。已重新载入案件，请查看后再办理。";
    } else if (answer.status === 403) {
      text = "无权办理：此步骤不应由您办理。";
    } else if (answer.status === 404) {
      text = "找不到此案件，或它不在您的辖区内。";
    } else if (answer.status === 401) {
      text = "登录已过期，请重新登录。";
    } else {
      text = "办理失败（" + answer.status + "），请稍后再试。";
    }
    return why ? text + "（" + why + "）" : text;
  }

  function draw(c) {
    cases.case = c;
    $("stage").textContent = c.stage_zh;
    $("stage").className = "stage stage-" + c.stage;
    var badge = $("overdue");
    badge.hidden = !c.overdue;
    badge.textContent = c.overdue ? "已超期 · 升级至" + (LEVELS[c.escalated_to] || c.escalated_to) : "";
    $("due").textContent = c.due ? "办理期限 " + c.due.slice(0, 16) : "已办结";
    $("assignee").textContent = c.assignee ? "承办人 " + c.assignee : "尚未派遣";

    var list = $("steps");
    list.replaceChildren();
    if (!c.steps.length) {
      // an incident imported in a stage, without the steps that led there
      list.appendChild(el("li", "导入时已处于“" + c.stage_zh + "”阶段，此前无办理记录。", "muted"));
    }
    c.steps.forEach(function (s) {
      var item = el("li");
      item.dataset.action = s.action;
      item.appendChild(el("span", ACTIONS[s.action] || s.action, "action"));
      item.appendChild(el("span", s.actor_zh || s.actor, "actor"));
      item.appendChild(el("time", s.at.slice(0, 16), "at"));
      if (s.assignee) {
        item.appendChild(el("span", "→ " + s.assignee, "to"));
      }
      if (s.note) {
        item.appendChild(el("p", s.note, "note"));
      }
      if (s.photos && s.photos.length) {
        var shots = el("div", null, "photos");
        s.photos.forEach(function (p) {
          var link = el("a");
          link.href = p.url;
          link.target = "_blank";
          link.rel = "noopener";
          var img = el("img", null, "thumb");
          img.src = p.url;
          img.alt = "办理照片";
          img.loading = "lazy";
          img.dataset.sha256 = p.sha256;
          link.appendChild(img);
          shots.appendChild(link);
        });
        item.appendChild(shots);
      }
      list.appendChild(item);
    });

    var buttons = $("buttons");
    buttons.replaceChildren();
    var needsAssignee = false;
    c.allowed.forEach(function (a) {
      var button = el("button", a.label_zh);
      button.type = "button";
      button.dataset.action = a.action;
      if (cfg.assigneeRequired.indexOf(a.action) >= 0) {
        needsAssignee = true;
      }
      button.addEventListener("click", function () {
        step(a.action, a.label_zh);
      });
      buttons.appendChild(button);
    });
    $("assignee-field").hidden = !needsAssignee;
    if (needsAssignee) {
      loadAssignees();
    }
    $("actions").hidden = c.allowed.length === 0;
  }

  // the dispatch form: who the case may go to (GET .../assignees, nearest level first), as a
  // list to choose from; read once per page, the names put in as text
  var assignees = null;

  async function loadAssignees() {
    if (assignees !== null) {
      return;
    }
    assignees = [];
    var answer = await call("GET", url + "/assignees");
    if (answer.status !== 200 || !answer.data) {
      assignees = null; // tried again at the next drawing
      say("未能载入可派遣人员（" + answer.status + "）。", true);
      return;
    }
    assignees = answer.data.assignees;
    var select = $("assignee-input");
    select.replaceChildren(el("option", "请选择承办人"));
    select.firstChild.value = "";
    assignees.forEach(function (a) {
      var where = a.area_name || a.area;
      var option = el("option", a.display_name + "（" + a.role_zh + " · " + where + "）");
      option.value = a.username;
      select.appendChild(option);
    });
    cases.assignees = assignees;
  }

  async function load() {
    var answer = await call("GET", url + "/case");
    if (answer.status !== 200) {
      say(refusal(answer), true);
      return false;
    }
    draw(answer.data);
    return true;
  }

  function photoProblem(files) {
    // what is wrong with the chosen photos before anything is sent; "" when nothing
    if (cfg.maxPhotos && files.length > cfg.maxPhotos) {
      return "一次最多上传 " + cfg.maxPhotos + " 张照片。";
    }
    for (var i = 0; i < files.length; i += 1) {
      if (PHOTO_TYPES.indexOf(files[i].type) < 0) {
        return "照片“" + files[i].name + "”不是 JPEG、PNG 或 WebP 图片。";
      }
      if (cfg.photoMax && files[i].size > cfg.photoMax) {
        return "照片“" + files[i].name + "”太大（不超过 " + (cfg.photoMax / 1048576).toFixed(1) + " MB）。";
      }
    }
    return "";
  }

  function photoRefusal(answer, name) {
    var why = answer.data && answer.data.error ? answer.data.error.message : "";
    var text;
    if (answer.status === 415) {
      text = "照片“" + name + "”不是 JPEG、PNG 或 WebP 图片";
    } else if (answer.status === 413) {
      text = "照片“" + name + "”太大";
    } else {
      return refusal(answer);
    }
    return "未能办理：" + text + "，步骤未提交。" + (why ? "（" + why + "）" : "");
  }

  async function step(action, label) {
    var note = $("note").value.trim();
    var assignee = $("assignee-input").value.trim();
    var files = Array.prototype.slice.call($("photos").files || []);
    var problem = photoProblem(files);
    if (problem) {
      say(problem, true);
      return;
    }
    if (cfg.noteRequired.indexOf(action) >= 0 && !note) {
      say("“" + label + "”需要填写说明。", true);
      $("note").focus();
      return;
    }
    if (cfg.assigneeRequired.indexOf(action) >= 0 && !assignee) {
      say("“" + label + "”需要选择承办人。", true);
      $("assignee-input").focus();
      return;
    }
    var body = { action: action, note: note, after: cases.case.steps.length };
    if (cfg.assigneeRequired.indexOf(action) >= 0) {
      body.assignee = assignee;
    }
    var buttons = $("buttons").querySelectorAll("button");
    buttons.forEach(function (b) {
      b.disabled = true;
    });
    cases.pending += 1; // busy from the tap until the case is shown again
    try {
      var names = [];
      for (var i = 0; i < files.length; i += 1) {
        say("正在上传照片 " + (i + 1) + "/" + files.length + "……");
        var sent = await call("POST", url + "/photos", files[i]);
        if (sent.status !== 201) {
          say(photoRefusal(sent, files[i].name), true);
          buttons.forEach(function (b) {
            b.disabled = false;
          });
          return;
        }
        names.push(sent.data.sha256);
      }
      if (names.length) {
        body.photos = names;
      }
      var answer = await call("POST", url + "/steps", body);
      if (answer.status === 201) {
        $("note").value = "";
        $("assignee-input").value = "";
        $("photos").value = "";
        draw(answer.data);
        await load();
        say("已办理：" + label + "。");
      } else {
        await load();
        say(refusal(answer), true);
      }
    } finally {
      cases.pending -= 1;
    }
  }

  function start() {
    map = L.map("map", { zoomControl: true, attributionControl: false });
    window.gisgrid = { map: map, ready: false, cases: cases };
    var here = [cfg.lat, cfg.lon];
    map.setView(here, 16);
    L.circleMarker(here, { radius: 9, color: "#b71c1c", weight: 3, fillOpacity: 0.6 }).addTo(map);
    // the grid around the point, for bearings (the page has no basemap: offline)
    var d = 0.002;
    var box = [cfg.lon - d, cfg.lat - d, cfg.lon + d, cfg.lat + d].join(",");
    call("GET", "/api/layers/grids?level=3&limit=50&bbox=" + box)
      .then(function (answer) {
        if (answer.status === 200 && answer.data && answer.data.features) {
          L.geoJSON(answer.data, {
            style: { color: "#1565c0", weight: 2, fill: false },
            interactive: false,
          }).addTo(map);
        }
      })
      .then(load)
      .then(function (ok) {
        if (ok) {
          say(cases.case.allowed.length ? "请选择下一步。" : "您目前无需办理此案件。");
        }
      })
      .finally(function () {
        window.gisgrid.ready = true;
      });
  }

  try {
    start();
  } catch (error) {
    window.gisgrid = window.gisgrid || {};
    window.gisgrid.failed = String(error);
    say("页面载入失败：" + error, true);
  }
})();
