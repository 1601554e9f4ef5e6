// Compare: the slider between two pictures. The range input is the control (keyboard, screen readers); dragging
// on the pictures moves it too. The split is a CSS custom property, set through the CSSOM (CSP allows no
// style attributes).
(function () {
  "use strict";
  function setSplit(slider, range, value) {
    value = Math.max(0, Math.min(100, Math.round(value)));
    range.value = String(value);
    range.setAttribute("aria-valuetext", value + "% left picture");
    slider.style.setProperty("--split", value + "%");
  }
  document.querySelectorAll("[data-compare-slider]").forEach(function (slider) {
    var range = slider.parentNode.querySelector("[data-compare-range]");
    if (!range) return;
    range.addEventListener("input", function () { setSplit(slider, range, Number(range.value)); });
    var dragging = false;
    function follow(event) {
      var box = slider.getBoundingClientRect();
      setSplit(slider, range, ((event.clientX - box.left) / box.width) * 100);
    }
    slider.addEventListener("pointerdown", function (event) {
      dragging = true;
      slider.setPointerCapture(event.pointerId);
      follow(event);
    });
    slider.addEventListener("pointermove", function (event) { if (dragging) follow(event); });
    slider.addEventListener("pointerup", function () { dragging = false; });
    slider.addEventListener("pointercancel", function () { dragging = false; });
    setSplit(slider, range, Number(range.value));
  });
})();
