// Generate page: model search and kind filters and prompt chips (reference images: references.js).
(function () {
  "use strict";

  // --- Model picker -----------------------------------------------------------------------------------------
  function filterModels() {
    var search = document.querySelector("[data-model-search]");
    var list = document.querySelector("[data-model-list]");
    if (!search || !list) return;
    var pressed = document.querySelector("[data-kind-filter][aria-pressed=true]");
    var kind = pressed ? pressed.getAttribute("data-kind-filter") : "";
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    list.querySelectorAll("li").forEach(function (item) {
      var text = item.getAttribute("data-search");
      var ok = (!kind || item.getAttribute("data-kind") === kind) && words.every(function (w) { return text.indexOf(w) !== -1; });
      item.hidden = !ok;
      if (ok) shown += 1;
    });
    var empty = document.querySelector("[data-model-empty]");
    if (empty) empty.hidden = shown > 0;
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches("[data-model-search]")) filterModels();
  });
  document.addEventListener("click", function (event) {
    var chip = event.target.closest("[data-kind-filter]");
    if (chip) {
      document.querySelectorAll("[data-kind-filter]").forEach(function (c) { c.setAttribute("aria-pressed", c === chip ? "true" : "false"); });
      filterModels();
      return;
    }
    var item = event.target.closest(".model-item");
    if (item) {
      document.querySelectorAll(".model-item").forEach(function (m) {
        m.classList.toggle("is-selected", m === item);
        if (m === item) m.setAttribute("aria-current", "true"); else m.removeAttribute("aria-current");
      });
    }
    var promptChip = event.target.closest("[data-prompt-text]");
    if (promptChip) {
      var holder = promptChip.closest("[data-prompt-target]");
      var target = holder && document.getElementById(holder.getAttribute("data-prompt-target"));
      if (target) {
        target.value = promptChip.getAttribute("data-prompt-text");
        target.dispatchEvent(new Event("input", { bubbles: true }));
        target.focus();
      }
    }
  });

  // After a successful Generate, move focus to the new card so keyboard and screen-reader users follow it.
  document.addEventListener("kie:generated", function (event) {
    var count = (event.detail && event.detail.count) || 1;
    if (window.KieStudio) window.KieStudio.toast("Started " + count + " generation" + (count === 1 ? "" : "s") + ".", "success");
  });
})();
