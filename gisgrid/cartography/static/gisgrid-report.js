/* gisgrid public report form: the script of /report (群众上报), made for a phone.
 *
 * No sign-in. The resident picks a kind, writes what happened and gives the place: the
 * phone's position ("使用我的当前位置") or a tap on the offline map, which shows only the
 * county's township outlines (passed in the page as JSON in a data- attribute: the
 * Content-Security-Policy allows no inline script, and nothing is loaded from outside the
 * server). The report is POSTed as JSON to /api/public/reports; the answer's tracking code is
 * shown as text (textContent), with a link to its progress page /report/{code}.
 *
 * For the tests: window.gisgrid = {map, ready, report}; report.busy is true while a request is
 * under way, report.last holds the last answer, report.writes every answer to a report.
 */
(function () {
  "use strict";

  var form = document.getElementById("report");
  if (!form) {
    return;
  }
  var page = window.gisgridPage; // gisgrid-page.js, loaded before this script
  var $ = page.$;
  var say = page.say;
  var report = { pending: 0, last: null, writes: [], point: null };
  Object.defineProperty(report, "busy", {
    get: function () {
      return report.pending > 0;
    },
  });
  // no session: the public route needs no CSRF token (it acts for no account)
  var call = page.caller(report, "");
  var map = null;
  var marker = null;
  var outline = null;

  function inCounty(lat, lon) {
    // a quick check on the drawn outlines; the server decides
    var inside = false;
    outline.eachLayer(function (layer) {
      if (!inside && layer.getBounds().contains([lat, lon])) {
        inside = true;
      }
    });
    return inside;
  }

  function place(lat, lon, how) {
    report.point = { lat: lat, lon: lon };
    if (marker) {
      marker.setLatLng([lat, lon]);
    } else {
      marker = L.circleMarker([lat, lon], { radius: 9, color: "#b71c1c", weight: 3, fillOpacity: 0.6 }).addTo(map);
    }
    $("place").textContent = how + "：" + lon.toFixed(5) + ", " + lat.toFixed(5);
    if (!inCounty(lat, lon)) {
      say("所选位置似乎不在本县范围内，请在地图上本县境内重新选择。", true);
    } else {
      say("已选择位置，请确认后提交。");
    }
  }

  function locateMe() {
    if (!navigator.geolocation) {
      say("此设备不能定位，请在地图上点选位置。", true);
      return;
    }
    say("正在定位……");
    navigator.geolocation.getCurrentPosition(
      function (pos) {
        var lat = pos.coords.latitude;
        var lon = pos.coords.longitude;
        map.setView([lat, lon], Math.max(map.getZoom(), 15));
        place(lat, lon, "当前位置");
      },
      function () {
        say("未能取得您的位置（可能未允许定位），请在地图上点选位置。", true);
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  }

  function refusal(answer) {
    var why = answer.data && answer.data.error ? answer.data.error.message : "";
    if (answer.status === 429) {
      return "上报过于频繁，请稍后再试。" + (why ? "（" + why + "）" : "");
    }
    if (answer.status === 422) {
      return "上报内容有误：" + (why || "请检查事件类型、描述和位置。");
    }
    if (answer.status === 413) {
      return "内容过长，请缩短描述。";
    }
    return "上报失败（" + answer.status + "），请稍后再试。" + (why ? "（" + why + "）" : "");
  }

  async function submit(event) {
    event.preventDefault();
    var kind = $("kind").value;
    var description = $("description").value.trim();
    var phone = $("phone").value.trim();
    if (!kind) {
      say("请选择事件类型。", true);
      $("kind").focus();
      return;
    }
    if (!description) {
      say("请填写情况描述。", true);
      $("description").focus();
      return;
    }
    if (!report.point) {
      say("请给出事发位置：使用当前位置，或在地图上点选。", true);
      return;
    }
    var body = { kind: kind, description: description, lon: report.point.lon, lat: report.point.lat };
    if (phone) {
      body.contact_phone = phone;
    }
    $("submit").disabled = true;
    try {
      var answer = await call("POST", "/api/public/reports", body);
      if (answer.status === 201) {
        $("code").textContent = answer.data.code;
        $("track").href = "/report/" + encodeURIComponent(answer.data.code);
        $("done").hidden = false;
        form.hidden = true;
        $("lookup-code").value = answer.data.code;
        $("done").scrollIntoView();
      } else {
        say(refusal(answer), true);
      }
    } finally {
      $("submit").disabled = false;
    }
  }

  function lookup(event) {
    event.preventDefault();
    var code = $("lookup-code").value.trim();
    if (code) {
      window.location.href = "/report/" + encodeURIComponent(code);
    }
  }

  function start() {
    map = L.map("map", { zoomControl: true, attributionControl: false });
    window.gisgrid = { map: map, ready: false, report: report };
    var data = JSON.parse($("outlines").dataset.outlines);
    outline = L.geoJSON(data, {
      style: { color: "#1565c0", weight: 1.5, fillColor: "#bbdefb", fillOpacity: 0.25 },
      onEachFeature: function (feature, layer) {
        layer.bindTooltip(String(feature.properties.name), { sticky: true });
      },
    }).addTo(map);
    map.fitBounds(outline.getBounds());
    // a tap on a township bubbles up to the map: one handler for both
    map.on("click", function (e) {
      place(e.latlng.lat, e.latlng.lng, "地图点选");
    });
    $("locate-me").addEventListener("click", locateMe);
    form.addEventListener("submit", submit);
    $("lookup").addEventListener("submit", lookup);
    window.gisgrid.ready = true;
  }

  try {
    start();
  } catch (error) {
    window.gisgrid = window.gisgrid || {};
    window.gisgrid.failed = String(error);
    say("页面载入失败：" + error, true);
  }
})();
