// Generate page: model search, kind and family filters, and prompt chips (pictures, clips and sounds: references.js).
(function () {
  "use strict";

  // --- Model picker -----------------------------------------------------------------------------------------
  function filterModels() {
    var search = document.querySelector("[data-model-search]");
    var list = document.querySelector("[data-model-list]");
    if (!search || !list) return;
    var pressed = document.querySelector("[data-kind-filter][aria-pressed=true]");
    var kind = pressed ? pressed.getAttribute("data-kind-filter") : "";
    var makerChip = document.querySelector("[data-maker-filter][aria-pressed=true]");
    var maker = makerChip ? makerChip.getAttribute("data-maker-filter") : "";
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    function kindMatches(item) {
      if (!kind) return true;
      if (kind === "new" || kind === "popular") return item.hasAttribute("data-" + kind);
      return item.getAttribute("data-kind") === kind;
    }
    list.querySelectorAll("li").forEach(function (item) {
      var text = item.getAttribute("data-search");
      var ok = kindMatches(item) && (!maker || item.getAttribute("data-maker") === maker) &&
        words.every(function (w) { return text.indexOf(w) !== -1; });
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
    var chip = event.target.closest("[data-kind-filter], [data-maker-filter]");
    if (chip) {
      var attribute = chip.hasAttribute("data-kind-filter") ? "data-kind-filter" : "data-maker-filter";
      document.querySelectorAll("[" + attribute + "]").forEach(function (c) {
        c.setAttribute("aria-pressed", c === chip ? "true" : "false");
        c.tabIndex = c === chip ? 0 : -1;
      });
      filterModels();
      return;
    }
    var item = event.target.closest(".model-item");
    if (item && event.button === 0 && !(event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) && window.htmx) {
      // The model's form replaces the one on screen and the address follows (htmx keeps the page for Back). A
      // click with a modifier opens the link as the browser would.
      event.preventDefault();
      document.querySelectorAll(".model-item").forEach(function (m) {
        m.classList.toggle("is-selected", m === item);
        if (m === item) m.setAttribute("aria-current", "true"); else m.removeAttribute("aria-current");
      });
      var list = item.closest("[data-model-list]");
      var key = encodeURIComponent(item.getAttribute("data-model-key"));
      item.setAttribute("hx-push-url", item.getAttribute("href"));
      window.htmx.ajax("GET", list.getAttribute("data-form-url") + "?model=" + key,
        { source: item, target: "#model-form", swap: "outerHTML" });
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

  // Each chip row is one Tab stop (a toolbar): the arrow keys, Home and End move along it, Enter or Space picks.
  // With ~20 families, Tab would otherwise walk through every chip before reaching the models.
  document.addEventListener("keydown", function (event) {
    var row = event.target.closest && event.target.closest("[data-chip-row]");
    if (!row || !event.target.matches(".chip")) return;
    var chips = Array.prototype.slice.call(row.querySelectorAll(".chip"));
    var at = chips.indexOf(event.target);
    var next = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: chips.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    var target = chips[(next + chips.length) % chips.length];
    chips.forEach(function (c) { c.tabIndex = c === target ? 0 : -1; });
    target.focus();
    target.scrollIntoView({ block: "nearest", inline: "nearest" });
  });

  // A refused Generate (over budget or cap, a field to fix) answers with the form again: bring the first problem
  // into view, so pressing the button never seems to do nothing. The refusal is a role=alert by the button, and
  // is announced; a field with an error takes the focus, so typing fixes it.
  document.addEventListener("htmx:afterSettle", function (event) {
    var form = event.detail.elt;
    if (!form || form.id !== "model-form") return;
    var invalid = form.querySelector(".field.has-error");
    var problem = form.querySelector(".alert-error") || invalid;
    if (!problem) return;
    var box = problem.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) problem.scrollIntoView({ block: "center" });
    if (!form.querySelector(".alert-error") && invalid) {
      // In a list editor, the first row its error names; never the text box the editor stands in for (hidden).
      var control = invalid.querySelector(".items-row.has-error [data-sub-input], .items-row.has-error [data-side]") ||
        invalid.querySelector("input:not([type=hidden]):not([hidden]), select:not([hidden]), textarea:not([hidden])");
      if (control) control.focus({ preventScroll: true });
    }
  });

  // After a successful Generate (fired once the swap has settled): the new card is the first in Results. Bring
  // it into view (on a wide screen Results sits beside the form, so only its own list scrolls) and give it focus
  // so keyboard and screen-reader users follow it. The form says "Started" by the button; no toast covers it.
  document.addEventListener("kie:generated", function () {
    var recent = document.getElementById("recent");
    var card = recent && recent.querySelector(".gen-card");
    if (!card) return;
    if (recent.scrollHeight > recent.clientHeight + 1 && getComputedStyle(recent).overflowY !== "visible") recent.scrollTop = 0;
    var box = card.getBoundingClientRect();
    var header = document.querySelector(".topbar");
    var top = header ? header.getBoundingClientRect().bottom : 0;
    if (box.top < top || box.top > window.innerHeight - Math.min(box.height, window.innerHeight / 2)) {
      card.scrollIntoView({ block: "start", behavior: "instant" });
      if (header) window.scrollBy(0, -(top + 8));
    }
    card.tabIndex = -1;
    card.focus({ preventScroll: true });
  });

  // --- A phone: the model list opens as a sheet; picking a model closes it and shows the form's prompt ---------
  function layout() { return document.querySelector(".generate-layout"); }
  function picking(open) {
    var root = layout();
    if (!root) return;
    root.classList.toggle("is-picking", open);
    document.querySelectorAll("[data-open-picker]").forEach(function (b) { b.setAttribute("aria-expanded", open ? "true" : "false"); });
    if (open) {
      var search = document.querySelector("[data-model-search]");
      if (search) search.focus();
      document.dispatchEvent(new Event("kie:picker-open"));
    } else {
      var opener = document.querySelector("[data-open-picker]");
      if (opener && getComputedStyle(opener).display !== "none") opener.focus({ preventScroll: true });
    }
  }
  var pickedOnSheet = false;
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-open-picker]")) { picking(true); return; }
    if (event.target.closest("[data-close-picker]")) { picking(false); return; }
    var root = layout();
    if (root && root.classList.contains("is-picking") && event.target.closest(".model-item")) {
      pickedOnSheet = true;
      root.classList.remove("is-picking");
    }
  });
  document.addEventListener("keydown", function (event) {
    var root = layout();
    if (event.key === "Escape" && root && root.classList.contains("is-picking")) picking(false);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!pickedOnSheet || !event.detail.elt || event.detail.elt.id !== "model-form") return;
    pickedOnSheet = false;
    var form = event.detail.elt;
    var prompt = form.querySelector("textarea, input[type=text]");
    var header = document.querySelector(".topbar");
    var top = header ? header.getBoundingClientRect().bottom : 0;
    var box = form.getBoundingClientRect();
    if (box.top < top || box.top > window.innerHeight / 3) window.scrollBy(0, box.top - top - 8);
    var opener = form.querySelector("[data-open-picker]");
    if (opener) opener.setAttribute("aria-expanded", "false");
    if (prompt) prompt.focus({ preventScroll: true });
    else if (opener) opener.focus({ preventScroll: true });
  });
})();
