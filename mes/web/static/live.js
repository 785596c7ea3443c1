// Live updates by Server-Sent Events: an element with data-source receives HTML fragments.
// #last-update shows when the feed last spoke and turns red (with text) when it goes quiet.
(function () {
  "use strict";
  var target = document.querySelector("[data-source]");
  var stamp = document.getElementById("last-update");
  if (!target) { return; }
  var staleAfter = 1000 * Number((stamp && stamp.dataset.staleAfter) || 5);
  var lastMessage = Date.now();

  function markStale() {
    if (stamp) { stamp.classList.toggle("stale", Date.now() - lastMessage > staleAfter); }
  }

  var source = new EventSource(target.dataset.source);
  source.addEventListener("tiles", function (event) {
    var data = JSON.parse(event.data);
    if (data.changed) { target.innerHTML = data.html; }
    lastMessage = Date.now();
    if (stamp) { stamp.querySelector("time").textContent = data.at; }
    markStale();
  });
  setInterval(markStale, 1000);
})();
