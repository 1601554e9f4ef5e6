// Gallery: selecting items for bulk actions, the detail modal (with its own permalink and the browser's back
// button), previous/next with the arrow keys, copying prompts, and confirmations.
(function () {
  "use strict";
  var dialog, body, listUrl = null;

  function toast(text, level) { if (window.KieStudio) window.KieStudio.toast(text, level); }

  // --- Previews: a video plays (muted) and a track plays while the pointer or focus is on its tile -------------
  var previewing = null;
  function stopPreview() {
    if (!previewing) return;
    previewing.pause();
    if (previewing.parentNode) previewing.parentNode.removeChild(previewing);
    previewing = null;
  }
  function startPreview(media) {
    if (!media) { stopPreview(); return; }  // a still picture: nothing to play, and the last preview stops
    if (previewing && previewing.dataset.for === media.getAttribute("data-preview")) return;
    stopPreview();
    var kind = media.getAttribute("data-preview-kind");
    var player = document.createElement(kind === "video" ? "video" : "audio");
    player.dataset.for = media.getAttribute("data-preview");
    player.muted = kind === "video";
    player.loop = true;
    player.setAttribute("playsinline", "");
    player.className = "tile-preview";
    player.src = media.getAttribute("data-preview");
    if (kind === "video") media.appendChild(player);
    previewing = player;
    var playing = player.play();
    if (playing && playing.catch) playing.catch(function () {});  // a browser that won't play without a click: no preview
  }
  document.addEventListener("mouseover", function (event) {
    var tile = event.target.closest && event.target.closest(".gallery-tile");
    if (tile) startPreview(tile.querySelector("[data-preview]")); else stopPreview();
  });
  document.addEventListener("mouseleave", stopPreview);
  document.addEventListener("focusin", function (event) {
    var tile = event.target.closest && event.target.closest(".gallery-tile");
    if (tile) startPreview(tile.querySelector("[data-preview]")); else stopPreview();
  });

  // --- Selection ------------------------------------------------------------------------------------------
  function updateBulk() {
    var bar = document.querySelector("[data-bulk]");
    if (!bar) return;
    var checked = document.querySelectorAll(".tile-check:checked");
    bar.hidden = checked.length === 0;
    bar.querySelector("[data-bulk-count]").textContent = checked.length;
    document.querySelectorAll(".gallery-tile").forEach(function (tile) {
      tile.classList.toggle("is-selected", tile.querySelector(".tile-check").checked);
    });
    document.body.classList.toggle("selecting", checked.length > 0);
    var compare = bar.querySelector("[data-compare-link]");
    if (compare) {  // two to four items side by side
      compare.hidden = checked.length < 2 || checked.length > 4;
      var url = new URL(compare.href, window.location.href);
      url.search = "";
      checked.forEach(function (c) { url.searchParams.append("ids", c.value); });
      compare.href = url.pathname + url.search;
    }
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches(".tile-check")) updateBulk();
    if (event.target.matches("[data-filter-form] select, [data-filter-form] input[type=checkbox], [data-filter-form] input[type=date]")) {
      event.target.form.requestSubmit();
    }
  });
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-filter-toggle]");
    if (toggle) {  // a phone's Filters button: the rest of the filters open below the search
      var open = toggle.closest("[data-filter-form]").classList.toggle("is-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      if (open) { var first = document.getElementById("f-kind"); if (first) first.focus(); }
      return;
    }
    if (event.target.closest("[data-bulk-clear]")) {
      document.querySelectorAll(".tile-check:checked").forEach(function (c) { c.checked = false; });
      updateBulk();
    }
  });

  // --- Drag to a collection -------------------------------------------------------------------------------
  // A tile dragged onto a collection in the strip above the grid joins it; so do all the selected items when the
  // dragged one is among them. The bulk bar's "Add to collection" does the same from the keyboard.
  var ITEMS = "application/x-kiestudio-items";
  function draggedIds(tile) {
    var own = tile.querySelector(".tile-check");
    if (own && own.checked) {
      return Array.prototype.map.call(document.querySelectorAll(".tile-check:checked"), function (c) { return c.value; });
    }
    return [tile.getAttribute("data-id")];
  }
  document.addEventListener("dragstart", function (event) {
    var tile = event.target.closest && event.target.closest(".gallery-tile");
    if (!tile || !document.querySelector("[data-drop-collection]")) return;
    var ids = draggedIds(tile);
    event.dataTransfer.setData(ITEMS, ids.join(","));
    event.dataTransfer.effectAllowed = "copy";
    document.body.classList.add("dragging-items");
  });
  document.addEventListener("dragend", function () {
    document.body.classList.remove("dragging-items");
    document.querySelectorAll(".is-drop-target").forEach(function (t) { t.classList.remove("is-drop-target"); });
  });
  document.addEventListener("dragover", function (event) {
    var target = event.target.closest && event.target.closest("[data-drop-collection]");
    if (!target || event.dataTransfer.types.indexOf(ITEMS) === -1) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    target.classList.add("is-drop-target");
  });
  document.addEventListener("dragleave", function (event) {
    var target = event.target.closest && event.target.closest("[data-drop-collection]");
    if (target && !target.contains(event.relatedTarget)) target.classList.remove("is-drop-target");
  });
  document.addEventListener("drop", function (event) {
    var target = event.target.closest && event.target.closest("[data-drop-collection]");
    if (!target) return;
    var ids = event.dataTransfer.getData(ITEMS);
    if (!ids) return;
    event.preventDefault();
    target.classList.remove("is-drop-target");
    document.body.classList.remove("dragging-items");
    var bulk = document.getElementById("bulk-form");
    var data = new FormData();
    data.append("csrfmiddlewaretoken", bulk.querySelector("[name=csrfmiddlewaretoken]").value);
    data.append("collection", target.getAttribute("data-drop-collection"));
    ids.split(",").forEach(function (id) { data.append("ids", id); });
    var name = target.getAttribute("data-drop-name");
    fetch(bulk.getAttribute("data-collect-url"), { method: "POST", body: data, credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) {
        if (!r.ok) throw new Error(r.status);
        var result = JSON.parse(r.headers.get("HX-Trigger") || "{}")["gallery:collected"] || {};
        var count = target.querySelector("[data-drop-count]");
        if (count && result.count !== undefined) count.textContent = result.count;
        var added = result.added || 0;
        toast(added ? "Added " + added + " item" + (added === 1 ? "" : "s") + " to “" + name + "”."
                    : "Already in “" + name + "”.", "success");
      })
      .catch(function () { toast("Those items could not be added to “" + name + "”. Try again.", "error"); });
  });

  // --- Detail modal ---------------------------------------------------------------------------------------
  function openDetail(url, push) {
    dialog = dialog || document.getElementById("detail-dialog");
    if (!dialog) { window.location.href = url; return; }
    body = body || document.getElementById("detail-body");
    fetch(url, { headers: { "HX-Request": "true", "HX-Current-URL": window.location.href }, credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error(r.status);
        // The session ended: the server names the sign-in page, as it does for htmx.
        if (r.headers.get("HX-Redirect")) { window.location.href = r.headers.get("HX-Redirect"); return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null) return;
        body.innerHTML = html;
        if (window.htmx) window.htmx.process(body);
        if (!dialog.open) {
          listUrl = listUrl || window.location.href;
          dialog.showModal();
        }
        if (push) history.pushState({ detail: url }, "", url);
        var title = body.querySelector("#detail-title");
        if (title) dialog.setAttribute("aria-labelledby", "detail-title");
        var close = body.querySelector("[data-detail-close]");
        if (close) close.focus();
      })
      .catch(function () { toast("That item could not be opened. It may have been deleted.", "error"); });
  }
  function closeDetail(fromHistory) {
    if (!dialog || !dialog.open) return;
    dialog.close();
    if (!fromHistory && listUrl) history.pushState({}, "", listUrl);
    listUrl = null;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-detail]");
    if (link && !event.metaKey && !event.ctrlKey && !event.shiftKey && event.button === 0) {
      if (!document.getElementById("detail-dialog")) return; // the permalink page: follow the link
      event.preventDefault();
      openDetail(link.href, true);
      return;
    }
    if (event.target.closest("[data-detail-close]")) {
      if (document.getElementById("detail-dialog")) closeDetail(false);
      else window.location.href = document.querySelector(".back a").href;
    }
    if (event.target.matches("dialog.detail-dialog")) closeDetail(false); // click on the backdrop
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent.trim()).then(
          function () { toast("Prompt copied.", "success"); },
          function () { toast("Copying was blocked by the browser.", "error"); });
      }
    }
  });
  document.addEventListener("cancel", function (event) {
    if (event.target.matches && event.target.matches("dialog.detail-dialog")) { event.preventDefault(); closeDetail(false); }
  }, true);
  window.addEventListener("popstate", function (event) {
    if (event.state && event.state.detail) openDetail(event.state.detail, false);
    else closeDetail(true);
  });

  // A favourite set or cleared in the detail dialog shows on the tile behind it at once.
  document.addEventListener("gallery:favorite", function (event) {
    var detail = event.detail || {};
    document.querySelectorAll(".gallery-tile[data-id='" + Number(detail.id) + "'] .tile-media").forEach(function (media) {
      var badge = media.querySelector(".fav-badge");
      if (detail.favorite && !badge) {
        badge = document.createElement("span");
        badge.className = "fav-badge";
        badge.title = "Favourite";
        badge.textContent = "★";
        var count = media.querySelector(".count-badge");
        media.insertBefore(badge, count);
      } else if (!detail.favorite && badge) {
        badge.remove();
      }
    });
  });

  // --- Keyboard: ← newer, → older ---------------------------------------------------------------------------
  document.addEventListener("keydown", function (event) {
    if (event.target.matches && event.target.matches("input, textarea, select")) return;
    var root = document.querySelector("[data-detail-root]");
    if (!root) return;
    var inDialog = dialog && dialog.open;
    if (!inDialog && document.getElementById("detail-dialog")) return;
    var target = event.key === "ArrowLeft" ? root.getAttribute("data-newer") : event.key === "ArrowRight" ? root.getAttribute("data-older") : null;
    if (!target) return;
    event.preventDefault();
    if (inDialog) openDetail(target, true); else window.location.href = target;
  });

  // --- Confirmations ----------------------------------------------------------------------------------------
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  }, true);
})();
