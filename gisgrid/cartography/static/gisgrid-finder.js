/* gisgrid finder: the script of /finder, the finder's first page, made for a phone.
 *
 * A search across the signed-in person's area: what is typed in #q (a head of household's
 * name, pinyin initials such as "zfw", full pinyin, a house number or an id) goes to
 * GET /api/households/search, which keeps to the caller's area; each result names its
 * township and village, and picking one opens the finder map of the household's village (or,
 * for a grid worker, its grid) with the household selected and its card open
 * (#household=ID in the map's address). The same text filters the list of townships and
 * villages below. Text from the server goes into the page as text, never as markup.
 *
 * The page passes its data in data- attributes of #finder (no inline script): the caller's
 * reason for reading household records (if their role needs one) and the names of their
 * villages by code ("乡镇 · 村").
 *
 * For the tests: window.gisgrid = {finder}; finder.busy is true while a search is under way,
 * finder.shown holds the query whose results are shown.
 */
(function () {
  "use strict";

  var P = window.gisgridPage;
  var form = document.getElementById("finder");
  if (!form || !P) {
    return;
  }
  var input = P.$("q");
  var list = P.$("results");
  var reason = form.dataset.reason || "";
  var villageNames = JSON.parse(form.dataset.villages || "{}");
  var initial = P.$("status").textContent;
  var tracker = { pending: 0, last: null, writes: [] };
  var call = P.caller(tracker, "");
  var finder = { shown: null, results: [] };
  Object.defineProperty(finder, "busy", {
    get: function () {
      return tracker.pending > 0 || timer !== null;
    },
  });
  window.gisgrid = { finder: finder };

  function withReason(url) {
    return reason ? url + "&reason=" + encodeURIComponent(reason) : url;
  }

  // the household's place on a finder map: its village's, or its grid's for a grid worker
  function mapUrl(hit) {
    var area = villageNames[hit.village_code] ? "village=" + hit.village_code : hit.grid_code ? "grid=" + hit.grid_code : null;
    if (!area) return null;
    return withReason("/maps/finder?" + area) + "#household=" + encodeURIComponent(hit.id);
  }

  function show(query, hits) {
    while (list.firstChild) list.removeChild(list.firstChild);
    finder.results = hits;
    hits.forEach(function (hit) {
      var url = mapUrl(hit);
      var li = P.el("li", null, "result");
      li.setAttribute("data-id", hit.id);
      var a = P.el(url ? "a" : "span", null, "hit");
      if (url) a.href = url;
      a.appendChild(P.el("b", hit.head_name || hit.id, "name"));
      a.appendChild(P.el("span", hit.house_number || hit.id, "number"));
      var where = villageNames[hit.village_code] || hit.village_code || "";
      a.appendChild(P.el("span", where + (hit.members ? " · " + hit.members + " 人" : ""), "where"));
      li.appendChild(a);
      list.appendChild(li);
    });
    finder.shown = query;
  }

  // the townships and villages whose names hold the text; their townships opened
  function filterVillages(q) {
    var groups = document.querySelectorAll("details.township");
    for (var g = 0; g < groups.length; g++) {
      var group = groups[g];
      var townshipHit = !q || group.querySelector("summary .name").textContent.indexOf(q) >= 0;
      var any = false;
      var items = group.querySelectorAll("li[data-village]");
      for (var k = 0; k < items.length; k++) {
        var hit = townshipHit || items[k].dataset.name.indexOf(q) >= 0;
        items[k].hidden = !hit;
        any = any || hit;
      }
      group.hidden = !any;
      if (q && any && !townshipHit) group.open = true;
    }
  }

  var timer = null;
  var asked = null;
  async function search() {
    timer = null;
    var q = input.value.trim();
    filterVillages(q);
    if (!q) {
      asked = null;
      show("", []);
      P.say(initial);
      return;
    }
    if (q === asked) return;
    asked = q;
    P.say("正在查找……");
    var answer = await call("GET", withReason("/api/households/search?limit=30&q=" + encodeURIComponent(q)));
    if (q !== input.value.trim()) return; // typed on meanwhile: that search follows
    if (answer.status !== 200 || !answer.data) {
      var why = answer.data && answer.data.error ? answer.data.error.message.split(" (")[0] : "";
      show(q, []);
      P.say("查找失败" + (why ? "：" + why : ""), true);
      return;
    }
    var hits = answer.data.results;
    show(q, hits);
    P.say(hits.length ? "找到 " + hits.length + " 户" + (hits.length >= 30 ? "（只列出前 30 户，请输入更多字）" : "") + "，点击查看" : "没有找到符合的农户");
  }

  input.addEventListener("input", function () {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(search, 250);
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (timer !== null) clearTimeout(timer);
    asked = null;
    search();
  });
  if (input.value.trim()) search();
})();
