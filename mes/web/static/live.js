// Live updates by Server-Sent Events: an element with data-source receives HTML fragments.
// #last-update shows when the feed last spoke and turns red (with text) when it goes quiet.
// On the line page, a fragment carries the shift's stop count: more stops than the page shows
// reveal the "new stops" link (the page is not reloaded under the supervisor's finger).
(function () {
  "use strict";
  var target = document.querySelector("[data-source]");
  var stamp = document.getElementById("last-update");
  var newStops = document.getElementById("new-stops");
  if (!target) { return; }
  var staleAfter = 1000 * Number((stamp && stamp.dataset.staleAfter) || 5);
  var lastMessage = Date.now();

  function markStale() {
    if (stamp) { stamp.classList.toggle("stale", Date.now() - lastMessage > staleAfter); }
  }

  var source = new EventSource(target.dataset.source);
  source.addEventListener("update", function (event) {
    var data = JSON.parse(event.data);
    if (data.changed) {
      target.innerHTML = data.html;
      var count = target.querySelector("template[data-stops]");
      if (count && newStops && Number(count.dataset.stops) > Number(target.dataset.stops)) { newStops.hidden = false; }
    }
    lastMessage = Date.now();
    if (stamp) { stamp.querySelector("time").textContent = data.at; }
    markStale();
  });
  setInterval(markStale, 1000);
})();
