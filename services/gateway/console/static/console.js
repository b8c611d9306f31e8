// authsuite admin console: progressive enhancement only; every page works without this file.
//  - <button data-copy="ID"> copies the text of the element with that id to the clipboard;
//  - <form data-confirm="Question?"> asks before submitting (the console's delete pages ask anyway).
"use strict";
document.addEventListener("click", function (ev) {
  var b = ev.target.closest && ev.target.closest("button[data-copy]");
  if (!b) return;
  ev.preventDefault();
  var src = document.getElementById(b.getAttribute("data-copy"));
  if (!src || !navigator.clipboard) return;
  navigator.clipboard.writeText(src.textContent.trim()).then(function () {
    var label = b.textContent;
    b.textContent = "Copied";
    setTimeout(function () { b.textContent = label; }, 1500);
  });
});
document.addEventListener("submit", function (ev) {
  var q = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
  if (q && !window.confirm(q)) ev.preventDefault();
});
