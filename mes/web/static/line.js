// The line page's small interactions: the 10 s undo offer, and inspection values checked
// against the spec band as they are typed (the server checks again when saving).
(function () {
  "use strict";
  var undo = document.getElementById("undo");
  if (undo) {
    var left = Number(undo.dataset.seconds || 10);
    var counter = undo.querySelector(".countdown");
    var timer = setInterval(function () {
      left -= 1;
      if (counter) { counter.textContent = String(left); }
      if (left <= 0) { clearInterval(timer); undo.hidden = true; }
    }, 1000);
  }
  function limit(text) { return text === "" ? null : Number(text); }
  document.querySelectorAll("form.inspection").forEach(function (form) {
    var input = form.querySelector("input[name=values]");
    var flag = form.querySelector(".limit-flag");
    if (!input || !flag) { return; }
    var lsl = limit(form.dataset.lsl), usl = limit(form.dataset.usl);
    input.addEventListener("input", function () {
      var values = input.value.replace(/,/g, " ").split(/\s+/).filter(Boolean).map(Number);
      var out = values.some(function (v) {
        return !isNaN(v) && ((lsl !== null && v < lsl) || (usl !== null && v > usl));
      });
      flag.hidden = !out;
      input.classList.toggle("out", out);
      input.setAttribute("aria-invalid", out ? "true" : "false");
    });
  });
})();
