// The tokens page: an agent the search found goes into the Agents field by its Add
// button, so no slug has to be copied by hand. Without JavaScript the buttons stay
// hidden and the help says to copy the slugs.
(function () {
  "use strict";

  function reveal(root) {
    root.querySelectorAll("button[data-add-agent]").forEach(function (button) {
      button.hidden = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    reveal(document);
  });
  // The search replaces the list of matches in place.
  document.addEventListener("htmx:afterSwap", function (event) {
    reveal(event.target);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-add-agent]");
    var field = document.getElementById("id_agents");
    if (!button || !field) {
      return;
    }
    var slug = button.dataset.addAgent;
    var slugs = field.value.split(/[\s,]+/).filter(Boolean);
    if (slugs.indexOf(slug) === -1) {
      slugs.push(slug);
      field.value = slugs.join(", ");
    }
    button.querySelector("[data-verb]").textContent = "Added";
  });
})();
