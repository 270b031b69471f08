// Small progressive enhancements for the citizen pages; every page works without this file.
(function () {
  "use strict";

  // "复制查询码": shown only where the clipboard API exists.
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target || !navigator.clipboard) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        button.textContent = button.getAttribute("data-msg-copied");
      });
    });
  });
})();
