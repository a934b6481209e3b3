// skinscan web app: small, dependency-free enhancements. Every page works without it.
"use strict";

function setUpCapture(form) {
  const inputs = form.querySelectorAll("[data-image-input]");
  const preview = form.querySelector("[data-preview]");
  const previewImage = form.querySelector("[data-preview-image]");
  const previewName = form.querySelector("[data-preview-name]");
  const newImage = form.querySelector("[data-new-image]");
  const analyze = form.querySelector("[data-analyze]");
  const progress = form.querySelector("[data-progress]");
  let shown = null;

  function clear() {
    inputs.forEach((input) => { input.value = ""; });
    if (shown) { URL.revokeObjectURL(shown); shown = null; }
    previewImage.removeAttribute("src");
    preview.hidden = true;
    newImage.hidden = true;
    analyze.disabled = true;
  }

  inputs.forEach((input) => {
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      if (!file) { return; }
      // One image per analysis: picking from one input empties the other.
      inputs.forEach((other) => { if (other !== input) { other.value = ""; } });
      if (shown) { URL.revokeObjectURL(shown); }
      shown = URL.createObjectURL(file);
      previewImage.src = shown;
      previewName.textContent = file.name + " (" + Math.round(file.size / 1024) + " KB)";
      preview.hidden = false;
      newImage.hidden = false;
      analyze.disabled = false;
      analyze.focus();
    });
  });
  newImage.addEventListener("click", clear);
  form.addEventListener("submit", () => {
    progress.hidden = false;
    analyze.disabled = true;
    newImage.disabled = true;
    form.setAttribute("aria-busy", "true");
  });
}

function setUpHeatControls(controls) {
  const stack = document.getElementById(controls.dataset.heatFor);
  const heat = stack && stack.querySelector(".heat");
  if (!heat) { return; }
  const toggle = controls.querySelector("[data-heat-toggle]");
  const opacity = controls.querySelector("[data-heat-opacity]");
  toggle.addEventListener("change", () => { heat.hidden = !toggle.checked; opacity.disabled = !toggle.checked; });
  opacity.addEventListener("input", () => { heat.style.opacity = String(opacity.value / 100); });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-capture]").forEach(setUpCapture);
  document.querySelectorAll("[data-heat-for]").forEach(setUpHeatControls);
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js").catch(() => { /* the app works without it */ });
  }
});
