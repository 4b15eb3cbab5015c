/* gisgrid dashboard: the area table (#areas) sorts by a click on a column's header.
 *
 * A static script (the Content-Security-Policy refuses inline ones). Each header's text
 * becomes a button (built with textContent only); a click sorts the rows by that column,
 * descending first (the largest count, the worst, on top), a second click ascending, a third
 * back to the server's order (the areas by code). A cell sorts by its data-sort (the number it
 * shows, a share unrounded) when it has one, else by its text; numbers before text, empty
 * last. The header's aria-sort says the order. window.gisgrid.dashboard = {sorted: [column,
 * order]} for the tests.
 */
(function () {
  "use strict";

  var ORDERS = ["descending", "ascending", "none"];
  var ARROWS = { descending: "▼", ascending: "▲", none: "" };
  var state = { sorted: [null, "none"] };
  window.gisgrid = window.gisgrid || {};
  window.gisgrid.dashboard = state;

  function key(cell) {
    var raw = cell && cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : null;
    if (raw === null) {
      raw = cell ? cell.textContent.trim() : "";
    }
    var n = raw === "" ? NaN : Number(raw);
    return { empty: raw === "", num: isNaN(n) ? null : n, text: raw };
  }

  function compare(a, b) {
    if (a.empty !== b.empty) {
      return a.empty ? 1 : -1;
    }
    if (a.num !== null && b.num !== null) {
      return a.num - b.num;
    }
    if ((a.num === null) !== (b.num === null)) {
      return a.num === null ? 1 : -1;
    }
    return a.text.localeCompare(b.text, "zh-CN");
  }

  function sortBy(table, headers, column, order) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      if (order === "none") {
        return Number(r1.dataset.order) - Number(r2.dataset.order);
      }
      var keys = [key(r1.cells[column]), key(r2.cells[column])];
      var c = compare(keys[0], keys[1]);
      if (keys[0].empty || keys[1].empty) {
        return c; // empty cells last in either order
      }
      c = order === "descending" ? -c : c;
      return c || Number(r1.dataset.order) - Number(r2.dataset.order);
    });
    rows.forEach(function (row) {
      body.appendChild(row);
    });
    headers.forEach(function (th, i) {
      var now = i === column ? order : "none";
      th.setAttribute("aria-sort", now);
      th.querySelector(".arrow").textContent = ARROWS[now];
    });
    state.sorted = [order === "none" ? null : column, order];
  }

  function setUp() {
    var table = document.getElementById("areas");
    if (!table || !table.tBodies.length) {
      return;
    }
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row, i) {
      row.dataset.order = String(i);
    });
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    headers.forEach(function (th, column) {
      var label = th.textContent;
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.title = "点击排序：降序、升序、默认顺序";
      var arrow = document.createElement("span");
      arrow.className = "arrow";
      button.appendChild(arrow);
      th.textContent = "";
      th.appendChild(button);
      th.classList.add("sortable");
      th.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () {
        var current = state.sorted[0] === column ? state.sorted[1] : "none";
        var next = ORDERS[(ORDERS.indexOf(current) + 1) % ORDERS.length];
        sortBy(table, headers, column, next);
      });
    });
    state.ready = true;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
