// A camera's page: its state and latest sightings refresh in place, from the `live` fragment
// (served by this site: the CSP allows no inline script). Without JavaScript, reload the page.
(function () {
  "use strict";
  var box = document.getElementById("camera-live");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-live-url");
  var every = 1000 * (parseFloat(box.getAttribute("data-refresh-s")) || 2);
  function refresh() {
    if (document.hidden) { return; }
    fetch(url, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) { box.innerHTML = html; } })
      .catch(function () { /* the next round tries again */ });
  }
  window.setInterval(refresh, every);
})();
