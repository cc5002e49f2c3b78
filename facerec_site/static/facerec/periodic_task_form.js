// Admin "Periodic task" form: show the chosen crontab in words under the field (what
// django-celery-beat does with an inline script, which the site's CSP does not run).
"use strict";
(function () {
  const script = document.currentScript;
  const readable = JSON.parse(document.getElementById("readable-crontabs").textContent);
  const help = script.dataset.crontabHelp || "";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".field-crontab_translation").forEach((row) => { row.style.display = "none"; });
    const select = document.getElementById("id_crontab");
    const helpText = document.querySelector(".field-crontab .help");
    if (!select || !helpText) {
      return;
    }
    select.addEventListener("change", function () {
      const words = readable[select.value];
      helpText.textContent = words ? `${help} Translation: ${words}` : help;
    });
  });
})();
