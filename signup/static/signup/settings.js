// Settings › Join page: the Copy button next to the public address. A file, not inline
// script, so the Content-Security-Policy can forbid inline script.
(function () {
  "use strict";

  function say(text) {
    var status = document.querySelector("[data-copy-status]");
    if (status) status.textContent = text;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) return;
    input.select();
    var copied = function () { say("Copied the address."); };
    var selectIt = function () { say("Selected: press Ctrl+C (or Cmd+C) to copy."); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(copied, selectIt);
    } else {
      selectIt();
    }
  });
})();
