// Reference images, shared by Generate and Chat: drop, paste, file picker or gallery pick into a
// [data-dropzone] inside a form that names its upload and picker URLs. Files are checked here for type and
// size before anything is uploaded, and again on the server by their content.
(function () {
  "use strict";
  var MAX_BYTES = 10 * 1024 * 1024;
  var TYPES = ["image/jpeg", "image/png", "image/webp"];

  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // --- Reference images -------------------------------------------------------------------------------------
  function zoneError(zone, message) {
    var box = zone.querySelector("[data-ref-error]");
    box.textContent = message || "";
    box.hidden = !message;
  }

  function refCount(zone) { return zone.querySelectorAll(".ref-item").length; }

  function addRef(zone, id, thumb) {
    var multiple = zone.getAttribute("data-multiple") === "1";
    var list = zone.querySelector("[data-ref-list]");
    if (!multiple) list.innerHTML = "";
    var n = refCount(zone) + 1;
    var li = document.createElement("li");
    li.className = "ref-item";
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = zone.getAttribute("data-name");
    hidden.value = id;
    var img = document.createElement("img");
    img.src = thumb;
    img.alt = "Reference image " + n;
    img.width = 72; img.height = 72;
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "ref-remove";
    remove.setAttribute("data-ref-remove", "");
    remove.setAttribute("aria-label", "Remove reference image " + n);
    remove.textContent = "×";
    li.append(hidden, img, remove);
    list.append(li);
    hidden.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function roomFor(zone) {
    var max = parseInt(zone.getAttribute("data-max") || "0", 10);
    if (zone.getAttribute("data-multiple") !== "1") return 1;
    return max ? max - refCount(zone) : 99;
  }

  function upload(zone, files) {
    var form = zone.closest("form");
    var url = form.getAttribute("data-upload-url");
    var list = Array.prototype.slice.call(files, 0, Math.max(roomFor(zone), 0));
    if (!list.length) { zoneError(zone, "That's as many images as this model takes."); return; }
    zoneError(zone, "");
    list.forEach(function (file) {
      if (TYPES.indexOf(file.type) === -1) { zoneError(zone, file.name + " is not a JPEG, PNG or WebP image."); return; }
      if (file.size > MAX_BYTES) { zoneError(zone, file.name + " is larger than 10 MB."); return; }
      var body = new FormData();
      body.append("file", file);
      zone.classList.add("is-busy");
      fetch(url, { method: "POST", body: body, headers: { "X-CSRFToken": csrf() }, credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
        .then(function (res) {
          if (!res.ok) { zoneError(zone, res.data.error || "Upload failed."); return; }
          addRef(zone, res.data.id, res.data.thumb);
        })
        .catch(function () { zoneError(zone, "Upload failed: check your connection and try again."); })
        .finally(function () { zone.classList.remove("is-busy"); });
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
      fetch(pick.closest("form").getAttribute("data-picker-url"), { credentials: "same-origin" })
        .then(function (r) { return r.text(); })
        .then(function (html) { panel.innerHTML = html; panel.hidden = false; var first = panel.querySelector("button"); if (first) first.focus(); });
      return;
    }
    var ref = event.target.closest("[data-pick-ref]");
    if (ref) {
      var rzone = ref.closest("[data-dropzone]");
      addRef(rzone, ref.getAttribute("data-pick-ref"), ref.getAttribute("data-thumb"));
      rzone.querySelector("[data-ref-picker]").hidden = true;
      return;
    }
    var asset = event.target.closest("[data-pick-asset]");
    if (asset) {
      var azone = asset.closest("[data-dropzone]");
      fetch(asset.getAttribute("data-pick-asset"), { method: "POST", headers: { "X-CSRFToken": csrf() }, credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
        .then(function (res) {
          if (!res.ok) { zoneError(azone, res.data.error || "Could not use that image."); return; }
          addRef(azone, res.data.id, res.data.thumb);
          azone.querySelector("[data-ref-picker]").hidden = true;
        });
    }
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
  // Paste anywhere on the page: the page's first reference drop zone takes the images.
  document.addEventListener("paste", function (event) {
    var zone = document.querySelector("form [data-dropzone]");
    if (!zone || !event.clipboardData) return;
    var files = Array.prototype.filter.call(event.clipboardData.files || [], function (f) { return f.type.indexOf("image/") === 0; });
    if (files.length) { event.preventDefault(); upload(zone, files); }
  });

})();
