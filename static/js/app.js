// Kie Studio shared behaviour. No inline scripts anywhere: pages opt in through data attributes.
(function () {
  "use strict";

  function dismiss(toast) {
    toast.remove();
  }

  function wireToasts(root) {
    root.querySelectorAll(".toast").forEach(function (toast) {
      if (toast.dataset.wired) return;
      toast.dataset.wired = "1";
      var close = toast.querySelector(".toast-close");
      if (close) close.addEventListener("click", function () { dismiss(toast); });
      if (toast.hasAttribute("data-autohide")) {
        var timer = setTimeout(function () { dismiss(toast); }, 6000);
        toast.addEventListener("mouseenter", function () { clearTimeout(timer); });
        toast.addEventListener("focusin", function () { clearTimeout(timer); });
      }
    });
  }

  // Close open <details> menus on outside click and on Escape, returning focus to their summary.
  function closeMenus(except) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  }
  document.addEventListener("click", function (event) {
    var menu = event.target.closest("details.menu");
    closeMenus(menu);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var open = document.querySelector("details.menu[open]");
    if (open) {
      open.removeAttribute("open");
      var summary = open.querySelector("summary");
      if (summary) summary.focus();
    }
  });

  // Copy buttons (data-copy-target="id of an input") and inputs that select themselves when focused.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy-target]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy-target"));
    if (!input) return;
    input.select();
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(input.value).then(done);
    else { document.execCommand("copy"); done(); }
  });
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  document.addEventListener("DOMContentLoaded", function () { wireToasts(document); });
  document.addEventListener("htmx:afterSwap", function () { wireToasts(document); });
  // An htmx request that failed without a fragment to show: say so rather than do nothing.
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var words = {
      403: "That needs a different role in this workspace.",
      404: "That item is gone, or belongs to another workspace.",
      413: "That upload is too large.",
      429: "Too many requests at once: wait a moment and try again."
    }[status] || "Something went wrong (" + status + "). Nothing was lost: try again.";
    window.KieStudio.toast(words, "error");
  });
  document.addEventListener("htmx:sendError", function () {
    window.KieStudio.toast("The studio can't be reached: check your connection and try again.", "error");
  });

  // The follow-up dialog: an action's form arrives by htmx into #followup-body, and the dialog opens over
  // whatever is showing (the gallery's detail dialog included, as the newest modal is on top).
  function followupDialog() { return document.getElementById("followup-dialog"); }
  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = followupDialog();
    if (!dialog || event.detail.target.id !== "followup-body") return;
    var opening = !dialog.open;
    if (opening) dialog.showModal();
    // Focus the first thing to fill in (showModal would pick the close button), and keep it in the dialog.
    var first = dialog.querySelector("select, textarea, input:not([type=hidden]), button[type=submit]");
    if (first && (opening || !dialog.contains(document.activeElement))) first.focus();
    document.querySelectorAll("details.followups[open]").forEach(function (menu) { menu.removeAttribute("open"); });
  });
  // A live strip that polls must not snatch an open Actions menu from under the pointer: skip that refresh
  // (the next one comes in two seconds).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (target && target.id !== "followup-body" && target.querySelector && target.querySelector("details.followups[open]")) {
      event.detail.shouldSwap = false;
    }
  });
  document.addEventListener("click", function (event) {
    var close = event.target.closest && event.target.closest("[data-followup-close]");
    var dialog = followupDialog();
    if (close && dialog && dialog.open) dialog.close();
  });
  document.addEventListener("close", function (event) {
    if (event.target.id !== "followup-dialog") return;
    var body = document.getElementById("followup-body");
    if (body) body.replaceChildren();  // stops a started card's polling too
  }, true);

  // Karaoke: under a track's player, light each word as it is sung; clicking a word jumps there.
  function wireKaraoke(root) {
    root.querySelectorAll("[data-karaoke]").forEach(function (box) {
      if (box.dataset.wired) return;
      box.dataset.wired = "1";
      var audio = box.querySelector("audio");
      var words = Array.prototype.slice.call(box.querySelectorAll(".karaoke-word"));
      if (!audio || !words.length) return;
      var times = words.map(function (w) { return [parseFloat(w.dataset.start), parseFloat(w.dataset.end)]; });
      audio.addEventListener("timeupdate", function () {
        var t = audio.currentTime;
        words.forEach(function (w, i) {
          w.classList.toggle("is-sung", times[i][1] <= t);
          w.classList.toggle("is-current", times[i][0] <= t && t < times[i][1]);
        });
      });
      box.addEventListener("click", function (event) {
        var word = event.target.closest(".karaoke-word");
        if (!word) return;
        audio.currentTime = parseFloat(word.dataset.start) || 0;
        audio.play();
      });
    });
  }
  // Progress bars take their width from aria-valuenow (no inline styles: the CSP forbids them).
  function sizeBars(root) {
    root.querySelectorAll(".progress[aria-valuenow] > span").forEach(function (bar) {
      bar.style.width = Math.max(0, Math.min(100, parseFloat(bar.parentNode.getAttribute("aria-valuenow")) || 0)) + "%";
    });
  }
  // Fields that apply only while others hold certain values (a Suno style and title in custom mode): hidden, and
  // disabled so a value left in them is not sent, until the conditions hold (without JavaScript all show).
  function shownWhenHolds(form, conditions) {
    return Object.keys(conditions).every(function (name) {
      var control = form.elements[name];
      if (!control) return false;
      var value = control.type === "checkbox" ? control.checked : control.value;
      var wanted = Array.isArray(conditions[name]) ? conditions[name] : [conditions[name]];
      return wanted.some(function (want) { return String(want) === String(value); });
    });
  }
  function applyShownWhen(root) {
    root.querySelectorAll("[data-shown-when]").forEach(function (box) {
      var form = box.closest("form");
      if (!form) return;
      var shown = shownWhenHolds(form, JSON.parse(box.dataset.shownWhen));
      box.hidden = !shown;
      box.querySelectorAll("input, select, textarea").forEach(function (control) { control.disabled = !shown; });
    });
  }
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (form && form.querySelector("[data-shown-when]")) applyShownWhen(form);
  });
  document.addEventListener("DOMContentLoaded", function () { applyShownWhen(document); });
  document.addEventListener("htmx:load", function (event) { applyShownWhen(event.detail.elt); });

  // A page opened on a model further down (a link, a remix, a reload) shows that model in the list, scrolled
  // within the list only. An IntersectionObserver answers once the page is laid out anyway, so this never forces
  // a layout of its own while the page loads (that was a long task on a phone; issue 18).
  // Looked at again after each scroll (up to three times): items the list hadn't laid out yet (content-visibility)
  // take their real height once they come near the view, which can move the one we want a little.
  function whenHidden(item, root, show, tries) {
    if (!item || !root || !window.IntersectionObserver) return;
    tries = tries === undefined ? 3 : tries;
    var observer = new IntersectionObserver(function (entries) {
      observer.disconnect();
      var entry = entries[entries.length - 1];
      if (entry.intersectionRatio >= 1 || tries <= 0) return;
      show(entry.boundingClientRect, entry.rootBounds || root.getBoundingClientRect());
      whenHidden(item, root, show, tries - 1);
    }, { root: root, threshold: 1 });
    observer.observe(item);
  }
  function revealSelectedModel() {
    var list = document.querySelector("[data-model-list]");
    var selected = list && list.querySelector(".is-selected");
    // The list item, not the link: an item the list hasn't laid out yet has no layout inside it to observe.
    whenHidden(selected && selected.closest("li"), list, function (at, box) {
      var visibleBottom = Math.min(box.bottom, window.innerHeight);
      list.scrollTop += at.top - box.top - (visibleBottom - box.top) / 3;
    });
  }
  document.addEventListener("DOMContentLoaded", revealSelectedModel);
  document.addEventListener("kie:picker-open", revealSelectedModel);  // a phone's model sheet, just opened

  // On a phone the sections scroll sideways in one row: start with the current one in view.
  function revealCurrentSection() {
    var current = document.querySelector(".mainnav [aria-current='page']");
    var row = current && current.closest("ul");
    whenHidden(current, row, function (at, box) {
      row.scrollLeft += at.left - box.left - (box.width - at.width) / 2;
    });
  }
  document.addEventListener("DOMContentLoaded", revealCurrentSection);

  // Text with a length limit: its count shows under it, and a paste the limit cuts says so (the browser keeps to
  // maxlength silently, and a long paste would otherwise lose its end without a word).
  function number(n) { return n.toLocaleString("en-US"); }
  function limitNote(area) {
    return area.id ? document.querySelector("[data-limit-note='" + area.id + "']") : null;
  }
  function showCount(area, warning) {
    var note = limitNote(area);
    if (!note) return;
    note.querySelector("[data-limit-count]").textContent =
      number(area.value.length) + " / " + number(area.maxLength) + " characters";
    var warn = note.querySelector("[data-limit-warning]");
    if (warning !== undefined) warn.textContent = warning;
    note.classList.toggle("is-over", !!warn.textContent);
  }
  document.addEventListener("paste", function (event) {
    var area = event.target;
    if (!area.matches || !area.matches("textarea[maxlength]") || area.maxLength < 0 || !event.clipboardData) return;
    var text = event.clipboardData.getData("text/plain").replace(/\r\n?/g, "\n");
    var room = Math.max(0, area.maxLength - (area.value.length - (area.selectionEnd - area.selectionStart)));
    var note = limitNote(area);
    var what = note && note.getAttribute("data-limit-label") ? "the " + note.getAttribute("data-limit-label") : "this box";
    var words = text.length <= room ? "" : "Your paste was " + number(text.length) + " characters; " + what +
      " takes at most " + number(area.maxLength) + ", so the last " + number(text.length - room) + " were left out.";
    // After the browser has put in what fits.
    setTimeout(function () {
      if (note) showCount(area, words);
      else if (words) window.KieStudio.toast(words, "error");
    }, 0);
  });
  document.addEventListener("input", function (event) {
    var area = event.target;
    if (!area.matches || !area.matches("textarea[maxlength]")) return;
    showCount(area, event.inputType === "insertFromPaste" ? undefined : "");
  });

  document.addEventListener("DOMContentLoaded", function () { wireKaraoke(document); sizeBars(document); });
  document.addEventListener("htmx:load", function (event) { sizeBars(event.detail.elt); });
  document.addEventListener("htmx:load", function (event) { wireKaraoke(event.detail.elt); });

  // A sample of a choice (a voice): Play fetches our copy of it and plays it; pressing again stops.
  var samplePlayer = null;
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-sample-for]");
    if (!button) return;
    var select = document.getElementById(button.getAttribute("data-sample-for"));
    var status = button.parentElement.querySelector("[data-sample-status]");
    if (!select) return;
    if (samplePlayer && !samplePlayer.paused && samplePlayer.dataset.button === button.dataset.sampleFor) {
      samplePlayer.pause();
      return;
    }
    if (!samplePlayer) {
      samplePlayer = new Audio();
      samplePlayer.addEventListener("pause", function () {
        document.querySelectorAll("[data-sample-for]").forEach(function (b) { b.textContent = "▶ Play"; b.removeAttribute("aria-pressed"); });
      });
    }
    var label = select.options[select.selectedIndex] ? select.options[select.selectedIndex].text : "";
    samplePlayer.pause();
    samplePlayer.dataset.button = button.dataset.sampleFor;
    samplePlayer.src = button.getAttribute("data-sample-url") + "?value=" + encodeURIComponent(select.value);
    if (status) status.textContent = "Loading " + label.split(" – ")[0] + "…";
    samplePlayer.play().then(function () {
      button.textContent = "■ Stop";
      button.setAttribute("aria-pressed", "true");
      if (status) status.textContent = "Playing " + label.split(" – ")[0];
    }, function () {
      if (status) status.textContent = "The sample can't be played right now.";
    });
    samplePlayer.onended = function () { if (status) status.textContent = ""; };
  });

  window.KieStudio = { toast: function (text, level) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-" + (level || "info");
    toast.setAttribute("data-autohide", "");
    var p = document.createElement("p");
    p.textContent = text;
    var button = document.createElement("button");
    button.type = "button";
    button.className = "toast-close";
    button.setAttribute("aria-label", "Dismiss notification");
    button.textContent = "×";
    toast.append(p, button);
    box.append(toast);
    wireToasts(box);
  } };
})();
