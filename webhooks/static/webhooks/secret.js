// Settings › Webhooks: the Copy button next to a secret shown once. A file, not inline
// script, so the Content-Security-Policy can forbid inline script.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-secret]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy-secret"));
    var status = document.querySelector("[data-copy-secret-status]");
    if (!input) return;
    input.select();
    var say = function (text) { if (status) status.textContent = text; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(
        function () { say("Copied the secret."); },
        function () { say("Selected: press Ctrl+C (or Cmd+C) to copy."); }
      );
    } else {
      say("Selected: press Ctrl+C (or Cmd+C) to copy.");
    }
  });
})();
