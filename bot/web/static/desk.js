// The desk's little JavaScript: live exact counts while editing (the server counts), and confirmations.
(function () {
  "use strict";
  var form = document.querySelector("form#edit-form");
  if (form) {
    var timer = null;
    var count = function () {
      var data = new FormData(form);
      fetch(form.dataset.count, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (counts) {
          if (!counts) return;
          var boxes = form.querySelectorAll("textarea[name^=post-]");
          counts.forEach(function (c, i) {
            var out = boxes[i] && document.getElementById("count-" + boxes[i].name);
            if (!out) return;
            out.textContent = c.label;
            out.className = "count " + (c.fits ? "ok" : "over");
          });
        })
        .catch(function () {});
    };
    form.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(count, 250); });
    form.querySelectorAll("button[data-split]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var box = document.getElementById(button.dataset.split);
        var at = box.selectionStart || box.value.length;
        box.value = box.value.slice(0, at).replace(/\s+$/, "") + "\n---\n" + box.value.slice(at).replace(/^\s+/, "");
        box.focus();
        count();
      });
    });
  }
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (event) {
      if (!window.confirm(f.dataset.confirm)) event.preventDefault();
    });
  });
})();
