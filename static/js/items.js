// List settings (Kling's shots and elements, a dialogue's lines, a colour theme, edit areas): one row per entry
// instead of typed text. The server renders the editor beside the field's textarea (templates/studio/widgets/
// items.html), hidden; here it takes the textarea's place, rows are added and removed, and every change is written
// back into the textarea as the list the model takes. The server checks that list as it checks typed text.
// Loaded by every page (a model's form also opens in the follow-up dialog and in Chat); a second copy does nothing.
(function () {
  "use strict";
  if (window.KieItems) return;
  window.KieItems = true;

  var made = 0;  // new rows' ids: "…-n1-…", "…-n2-…"

  function fieldOf(editor) { return document.getElementById(editor.getAttribute("data-items-editor")); }
  function rowsOf(editor) { return Array.prototype.slice.call(editor.querySelectorAll("[data-items-row]")); }
  function noun(editor) { return editor.getAttribute("data-item-label").toLowerCase(); }
  function most(editor) { return parseInt(editor.getAttribute("data-max") || "0", 10); }

  function start(root) {
    root.querySelectorAll("[data-items-editor]").forEach(function (editor) {
      if (editor.hasAttribute("data-items-ready")) return;
      editor.setAttribute("data-items-ready", "");
      var field = fieldOf(editor);
      // Text the rows can't show (not a list) stays text to fix by hand, as without JavaScript.
      if (!field || editor.hasAttribute("data-items-unreadable")) return;
      field.hidden = true;
      // A hidden control can't show the browser's "fill in this field": the server says what is missing instead.
      field.required = false;
      editor.hidden = false;
      renumber(editor);
    });
  }

  // Titles, Remove buttons' names and the Add button follow the rows' order and count.
  function renumber(editor) {
    var rows = rowsOf(editor), label = editor.getAttribute("data-item-label"), max = most(editor);
    rows.forEach(function (row, index) {
      row.querySelector("[data-items-title]").textContent = label + " " + (index + 1);
      row.querySelector("[data-items-remove]").setAttribute("aria-label", "Remove " + noun(editor) + " " + (index + 1));
    });
    var add = editor.querySelector("[data-items-add]");
    var full = max > 0 && rows.length >= max;
    add.disabled = full;
    var status = editor.querySelector("[data-items-status]");
    status.textContent = full ? "That's as many as this model takes (" + max + ")." : max ? "Up to " + max + "." : "";
  }

  function read(sub, editor) {
    var type = sub.getAttribute("data-sub-type");
    if (type === "image_urls" || type === "video_urls") {
      var zone = sub.querySelector("[data-dropzone]");
      var ours = Array.prototype.map.call(zone.querySelectorAll(".ref-item input[type=hidden]"), function (input) {
        return editor.getAttribute("data-placeholder").replace("{id}", input.value);
      });
      var link = zone.querySelector("[data-ref-link]");
      var links = link ? link.value.split(/\s+/).filter(Boolean) : [];
      var all = ours.concat(links);
      return all.length ? all : undefined;
    }
    if (type === "box") {
      var sides = Array.prototype.map.call(sub.querySelectorAll("[data-side]"), function (input) { return input.value.trim(); });
      if (sides.every(function (side) { return side === ""; })) return undefined;
      return sides.map(function (side) { return side === "" ? null : Number(side); });
    }
    var control = sub.querySelector("[data-sub-input]");
    var value = control.value.trim();
    if (value === "") return undefined;
    if (type === "integer" || type === "number") return isFinite(Number(value)) ? Number(value) : value;
    if (type === "percent") return isFinite(Number(value)) ? Number(value).toFixed(2) + "%" : value;
    if (type === "colour") return value.toUpperCase();
    return value;
  }

  // The rows as the list the model takes: objects keyed by each sub-field, or (edit areas) lists of their values.
  // An empty list is no value, so the model's default (or "required") applies.
  function write(editor) {
    var field = fieldOf(editor);
    if (!field || editor.hidden) return;
    var asList = editor.getAttribute("data-shape") === "list";
    var items = rowsOf(editor).map(function (row) {
      var item = asList ? [] : {};
      row.querySelectorAll("[data-sub]").forEach(function (sub) {
        var value = read(sub, editor);
        if (value === undefined) return;
        if (asList) item.push(value); else item[sub.getAttribute("data-sub")] = value;
      });
      return item;
    });
    field.value = items.length ? JSON.stringify(items) : "";
  }

  function changed(editor) {
    write(editor);
    // The price follows the form's changes (a dialogue is priced by its words).
    fieldOf(editor).dispatchEvent(new Event("change", { bubbles: true }));
  }

  function add(editor) {
    var blank = editor.querySelector("template[data-items-blank]").content.firstElementChild;
    var row = blank.cloneNode(true);
    made += 1;
    [row].concat(Array.prototype.slice.call(row.querySelectorAll("*"))).forEach(function (element) {
      Array.prototype.forEach.call(element.attributes, function (attribute) {
        if (attribute.value.indexOf("__n__") !== -1) element.setAttribute(attribute.name, attribute.value.split("__n__").join("n" + made));
      });
    });
    editor.querySelector("[data-items-list]").append(row);
    renumber(editor);
    changed(editor);
    var first = row.querySelector("[data-sub-input], [data-side], [data-ref-input]");
    if (first) first.focus();
  }

  function remove(editor, row) {
    var rows = rowsOf(editor);
    var next = rows[rows.indexOf(row) + 1] || rows[rows.indexOf(row) - 1];
    row.remove();
    renumber(editor);
    changed(editor);
    (next ? next.querySelector("[data-items-remove]") : editor.querySelector("[data-items-add]")).focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-items-add], [data-items-remove]");
    if (!button) return;
    var editor = button.closest("[data-items-editor]");
    if (button.hasAttribute("data-items-add")) add(editor);
    else remove(editor, button.closest("[data-items-row]"));
  });
  // Written on the way down (capture), so the form's own listeners (the price, htmx) already see the new list.
  ["input", "change"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var editor = event.target.closest && event.target.closest("[data-items-editor]");
      if (editor) write(editor);
    }, true);
  });
  document.addEventListener("DOMContentLoaded", function () { start(document); });
  document.addEventListener("htmx:load", function (event) { start(event.detail.elt); });
})();
