// The package editor's error summary: a link to a field moves the keyboard focus into
// that field (a plain fragment link only scrolls), with its label in view.
(function () {
  "use strict";

  function labelOf(field) {
    return document.querySelector('label[for="' + field.id + '"]');
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest(".error-summary a[href^='#']");
    if (!link) {
      return;
    }
    var field = document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (!field || !field.matches("input, select, textarea, button")) {
      return;
    }
    event.preventDefault();
    var details = field.closest("details");
    if (details) {
      details.open = true;
    }
    var label = labelOf(field);
    (label && label.getClientRects().length ? label : field).scrollIntoView({ block: "center" });
    field.focus({ preventScroll: true });
    history.replaceState(null, "", link.hash);
  });
})();
