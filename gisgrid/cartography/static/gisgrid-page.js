/* gisgrid page helpers, shared by the scripts of the web app's own pages (the grid editor,
 * the case pages): elements built with text only (never markup from the server), the page's
 * status line, and calls to the JSON API that carry the session's CSRF token on writes and
 * keep a record of the answers that the tests read (tracker.pending, .last, .writes). A body
 * that is a Blob (a File from a file input: a photo) is sent as it is, with its own type.
 *
 * Loaded before the page's own script: window.gisgridPage = {$, el, say, caller}.
 */
(function () {
  "use strict";

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    if (cls) {
      node.className = cls;
    }
    return node;
  }

  function say(text, isError) {
    var status = $("status");
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  // call(method, url, body) for a page: answers are {method, url, body, status, data}
  function caller(tracker, csrf) {
    return async function call(method, url, body) {
      var options = {
        method: method,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      };
      if (method !== "GET") {
        options.headers["X-CSRF-Token"] = csrf;
      }
      if (body instanceof Blob) {
        options.headers["Content-Type"] = body.type || "application/octet-stream";
        options.body = body;
      } else if (body !== undefined) {
        options.headers["Content-Type"] = "application/json";
        options.body = JSON.stringify(body);
      }
      tracker.pending += 1;
      try {
        var response = await fetch(url, options);
        var data = null;
        try {
          data = await response.json();
        } catch (e) {
          data = null;
        }
        var sent = body instanceof Blob ? { type: body.type, size: body.size } : body;
        tracker.last = { method: method, url: url, body: sent, status: response.status, data: data };
        if (method !== "GET") {
          tracker.writes.push(tracker.last);
        }
        return tracker.last;
      } finally {
        tracker.pending -= 1;
      }
    };
  }

  window.gisgridPage = { $: $, el: el, say: say, caller: caller };
})();
