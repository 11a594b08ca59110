// The calendar shows times in the viewer's timezone too: on a first visit (no `tz` in the address),
// take the browser's own IANA zone and load the page again with it. Choosing another one, or none,
// in the form is kept: the address then has a `tz`.
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (params.has("tz") || !zone) {
    return;
  }
  params.set("tz", zone);
  window.location.replace(window.location.pathname + "?" + params.toString());
})();
