// Live updates: replace each region the server sends (Server-Sent Events).
"use strict";
(function () {
  var page = document.body.dataset.page;
  if (!page || !window.EventSource) return;
  var es = new EventSource("/events?page=" + encodeURIComponent(page));
  es.addEventListener("region", function (e) {
    var nl = e.data.indexOf("\n");
    var el = document.getElementById(e.data.slice(0, nl));
    if (el) el.innerHTML = e.data.slice(nl + 1);
  });
  es.addEventListener("gone", function () { es.close(); location.assign("/"); });
  document.addEventListener("submit", function (e) {
    var msg = e.target.dataset.confirm;
    if (msg && !confirm(msg)) e.preventDefault();
  });
})();
