// References: pictures, video clips and sounds given to a model, on Generate, in the follow-up dialog and in
// Chat. Drop, paste (pictures), file picker or gallery pick into a [data-dropzone]; the zone (or its form) names
// its upload and picker URLs, the kind of file it takes and its size limit. Files are checked here for type and
// size before anything is uploaded, and again on the server by their content, length included.
// Loaded by every page (the follow-up dialog can open anywhere); a second copy of the script does nothing.
(function () {
  "use strict";
  if (window.KieReferences) return;
  window.KieReferences = true;

  var IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp"];
  var KIND_NAMES = { image: "a JPEG, PNG or WebP image", video: "a video", audio: "a sound file" };

  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function attr(zone, name) {
    var form = zone.closest("form");
    return zone.getAttribute(name) || (form && form.getAttribute(name)) || "";
  }

  function kindOf(zone) { return zone.getAttribute("data-kind") || "image"; }

  // The zone's own rules, for the upload and the picker: its kind, and the model input it belongs to.
  function zoneParams(zone) {
    var params = new URLSearchParams();
    if (zone.getAttribute("data-kind")) {
      params.set("kind", kindOf(zone));
      params.set("model", zone.getAttribute("data-model") || "");
      params.set("field", zone.getAttribute("data-name") || "");
    }
    return params;
  }

  function zoneError(zone, message) {
    var box = zone.querySelector("[data-ref-error]");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function refCount(zone) { return zone.querySelectorAll(".ref-item").length; }

  function megabytes(bytes) { return Math.round(bytes / 104857.6) / 10 + " MB"; }

  // A chip is rendered by the server (templates/studio/widgets/_reference_chip.html, the partial the form renders
  // for the references it starts with): the zone asks the reference's chip URL for it, with its input's name and
  // the chip's place in the list. One at a time per zone, so the places follow the order the chips arrive in.
  function addRef(zone, chipUrl) {
    var previous = zone.kieChipQueue || Promise.resolve();
    var next = previous.then(function () {
      var multiple = zone.getAttribute("data-multiple") === "1";
      var params = new URLSearchParams({ name: zone.getAttribute("data-name"), n: String(multiple ? refCount(zone) + 1 : 1) });
      return fetch(chipUrl + "?" + params.toString(), { credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) throw new Error("chip " + r.status);
          return r.text();
        })
        .then(function (html) { placeChip(zone, html, multiple); });
    }).catch(function () { zoneError(zone, "That didn't work: check your connection and try again."); });
    zone.kieChipQueue = next;
    return next;
  }

  function placeChip(zone, html, multiple) {
    var list = zone.querySelector("[data-ref-list]");
    if (!multiple) {
      list.innerHTML = "";
      var link = zone.querySelector("[data-ref-link]");
      if (link) link.value = "";  // one file or one link: the file just given wins
    }
    var parsed = document.createElement("template");
    parsed.innerHTML = html.trim();
    var li = parsed.content.firstElementChild;
    list.append(li);
    li.querySelector("input[type=hidden]").dispatchEvent(new Event("change", { bubbles: true }));
  }

  function roomFor(zone) {
    var max = parseInt(zone.getAttribute("data-max") || "0", 10);
    if (zone.getAttribute("data-multiple") !== "1") return 1;
    return max ? max - refCount(zone) : 99;
  }

  function acceptable(zone, file) {
    var kind = kindOf(zone);
    var ok = kind === "image" ? IMAGE_TYPES.indexOf(file.type) !== -1
      : file.type === "" || file.type.indexOf(kind + "/") === 0;  // the server checks the content either way
    return ok ? "" : file.name + " is not " + KIND_NAMES[kind] + ".";
  }

  function postJson(url, body) {
    return fetch(url, { method: "POST", body: body, headers: { "X-CSRFToken": csrf() }, credentials: "same-origin" })
      .then(function (r) {
        return r.json().then(function (data) { return { ok: r.ok, data: data }; }, function () {
          return { ok: false, data: { error: r.status === 413 ? "That file is too large to send." : "Upload failed." } };
        });
      });
  }

  function upload(zone, files) {
    var url = attr(zone, "data-upload-url");
    var maxBytes = parseInt(zone.getAttribute("data-max-bytes") || String(10 * 1024 * 1024), 10);
    var list = Array.prototype.slice.call(files, 0, Math.max(roomFor(zone), 0));
    if (!list.length) { zoneError(zone, "That's as many as this model takes."); return; }
    zoneError(zone, "");
    list.forEach(function (file) {
      var refused = acceptable(zone, file);
      if (refused) { zoneError(zone, refused); return; }
      if (file.size > maxBytes) { zoneError(zone, file.name + " is larger than " + megabytes(maxBytes) + "."); return; }
      var body = new FormData();
      body.append("file", file);
      zoneParams(zone).forEach(function (value, key) { body.append(key, value); });
      zone.classList.add("is-busy");
      zone.setAttribute("aria-busy", "true");
      postJson(url, body)
        .then(function (res) {
          if (!res.ok) { zoneError(zone, res.data.error || "Upload failed."); return; }
          return addRef(zone, res.data.chip);
        })
        .catch(function () { zoneError(zone, "Upload failed: check your connection and try again."); })
        .finally(function () { zone.classList.remove("is-busy"); zone.removeAttribute("aria-busy"); });
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-ref-input]")) {
      upload(event.target.closest("[data-dropzone]"), event.target.files);
      event.target.value = "";
    }
  });
  document.addEventListener("click", function (event) {
    var remove = event.target.closest("[data-ref-remove]");
    if (remove) {
      var zone = remove.closest("[data-dropzone]");
      remove.closest(".ref-item").remove();
      zone.dispatchEvent(new Event("change", { bubbles: true }));
      return;
    }
    var pick = event.target.closest("[data-ref-pick]");
    if (pick) {
      var pzone = pick.closest("[data-dropzone]");
      var panel = pzone.querySelector("[data-ref-picker]");
      if (!panel.hidden) { panel.hidden = true; return; }
      var query = zoneParams(pzone).toString();
      var pickerUrl = attr(pzone, "data-picker-url");
      fetch(pickerUrl + (query ? "?" + query : ""), { credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) { panel.innerHTML = html; panel.hidden = false; var first = panel.querySelector("button"); if (first) first.focus(); });
      return;
    }
    var item = event.target.closest("[data-pick-ref], [data-pick-asset]");
    if (!item) return;
    var izone = item.closest("[data-dropzone]");
    if (item.getAttribute("data-problem")) { zoneError(izone, item.getAttribute("data-problem")); return; }
    zoneError(izone, "");
    if (item.hasAttribute("data-pick-ref")) {
      addRef(izone, item.getAttribute("data-chip"));
      izone.querySelector("[data-ref-picker]").hidden = true;
      return;
    }
    var body = new FormData();
    zoneParams(izone).forEach(function (value, key) { body.append(key, value); });
    izone.classList.add("is-busy");
    postJson(item.getAttribute("data-pick-asset"), body)
      .then(function (res) {
        if (!res.ok) { zoneError(izone, res.data.error || "That can't be used here."); return; }
        izone.querySelector("[data-ref-picker]").hidden = true;
        return addRef(izone, res.data.chip);
      })
      .catch(function () { zoneError(izone, "That didn't work: check your connection and try again."); })
      .finally(function () { izone.classList.remove("is-busy"); });
  });
  document.addEventListener("dragover", function (event) {
    var zone = event.target.closest && event.target.closest("[data-dropzone]");
    if (zone) { event.preventDefault(); zone.classList.add("is-over"); }
  });
  document.addEventListener("dragleave", function (event) {
    var zone = event.target.closest && event.target.closest("[data-dropzone]");
    if (zone) zone.classList.remove("is-over");
  });
  document.addEventListener("drop", function (event) {
    var zone = event.target.closest && event.target.closest("[data-dropzone]");
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("is-over");
    upload(zone, event.dataTransfer.files);
  });
  // Paste anywhere on the page: the page's first picture drop zone takes the images (an open dialog's first).
  document.addEventListener("paste", function (event) {
    var selector = "form [data-dropzone]:not([data-kind]), form [data-dropzone][data-kind=image]";
    var dialog = document.querySelector("dialog[open]");
    var zone = (dialog && dialog.querySelector(selector)) || document.querySelector(selector);
    if (!zone || !event.clipboardData) return;
    var files = Array.prototype.filter.call(event.clipboardData.files || [], function (f) { return f.type.indexOf("image/") === 0; });
    if (files.length) { event.preventDefault(); upload(zone, files); }
  });
})();
