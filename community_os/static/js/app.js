// CommunityOS: the little behaviour htmx does not cover. A file, not inline script, so the
// Content-Security-Policy can forbid inline script.
(function () {
  "use strict";

  // A <dialog data-modal> that htmx inserts (the segment dialog, a confirmation) opens modally.
  function openDialogs(root) {
    if (!root || !root.querySelectorAll) return;
    var dialogs = Array.prototype.slice.call(root.querySelectorAll("dialog[data-modal]"));
    if (root.matches && root.matches("dialog[data-modal]")) dialogs.push(root);
    dialogs.forEach(function (dialog) {
      if (!dialog.open) dialog.showModal();
    });
  }
  document.addEventListener("htmx:load", function (event) {
    openDialogs(event.detail.elt);
  });

  // Buttons marked data-close-dialog close their dialog; a closed modal dialog goes away.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-close-dialog]");
    if (button && button.closest("dialog")) button.closest("dialog").close();
  });
  document.addEventListener(
    "close",
    function (event) {
      if (event.target.matches && event.target.matches("dialog[data-modal]")) event.target.remove();
    },
    true
  );

  // A saved or deleted segment: the dialog is done (the lists refresh themselves).
  document.addEventListener("segmentsChanged", function () {
    document.querySelectorAll("dialog[data-modal][open]").forEach(function (dialog) {
      dialog.close();
    });
  });

  // A request htmx could not complete (a statement stopped at its time limit, a segment
  // deleted meanwhile, the server unreachable): say so rather than doing nothing. The server's
  // plain-text answers are written for people; anything else gets a general sentence.
  function showProblem(text) {
    var box = document.getElementById("problem");
    if (!box) return;
    box.querySelector("[data-problem-text]").textContent = text;
    box.hidden = false;
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var type = xhr.getResponseHeader("Content-Type") || "";
    var text = "Something went wrong (" + xhr.status + "). Please try again.";
    if (type.indexOf("text/plain") === 0 && xhr.responseText) text = xhr.responseText;
    else if (xhr.status === 404) text = "This is gone: someone deleted it meanwhile. Reload the page.";
    showProblem(text);
  });
  document.addEventListener("htmx:sendError", function () {
    showProblem("The server could not be reached. Check your connection and try again.");
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-problem-close]")) {
      document.getElementById("problem").hidden = true;
    }
  });
})();
