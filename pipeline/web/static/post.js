// The post page's behaviour. The CSP allows scripts from this origin only and no inline styles, so
// everything here is wired through classes and data-* attributes.
"use strict";

// The WeChat article keeps its inline styles in data-wx-style (style attributes would be refused by
// the CSP); setting them through the CSSOM is allowed, and shows the article as WeChat will.
function applyArticleStyles(root) {
  for (const element of root.querySelectorAll("[data-wx-style]")) {
    element.style.cssText = element.dataset.wxStyle;
  }
}

// A card opens in a dialog at its real size (one CSS pixel per image pixel); a second click, the
// Close button or Escape closes it.
function zoomTo(dialog, source) {
  const image = dialog.querySelector(".zoom-image");
  image.src = source.src;
  image.width = Number(source.width);
  image.height = Number(source.height);
  image.alt = source.alt;
  dialog.querySelector(".zoom-caption").textContent = `${source.width} × ${source.height} · alt: ${source.alt}`;
  dialog.showModal();
}

function zoomSource(target) {
  const toggle = target.closest(".zoom-toggle");
  if (toggle) {
    const data = toggle.dataset;
    return { src: data.zoomSrc, width: data.zoomWidth, height: data.zoomHeight, alt: data.zoomAlt };
  }
  const inArticle = target.closest(".wx-body img");
  if (inArticle) {
    return { src: inArticle.src, width: inArticle.naturalWidth, height: inArticle.naturalHeight, alt: inArticle.alt };
  }
  return null;
}

document.addEventListener("DOMContentLoaded", () => {
  applyArticleStyles(document);
  const dialog = document.getElementById("zoom");
  if (!dialog) return;
  document.addEventListener("click", (event) => {
    if (dialog.open && event.target.closest("#zoom .zoom-frame")) {
      dialog.close();
      return;
    }
    const source = zoomSource(event.target);
    if (source) zoomTo(dialog, source);
  });
});
