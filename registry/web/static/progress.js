// Live progress of a bulk check: polls the job's counts while it runs, reloads the page once it ends.
// Without JavaScript the page refreshes itself instead (a <noscript> refresh).
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (!job || (job.dataset.status !== "queued" && job.dataset.status !== "running")) {
    return;
  }
  var numbers = new Intl.NumberFormat(job.dataset.locale);
  var fields = { rows_done: "rows-done", hits: "hits", possible_matches: "possible-matches",
                 similar_serials: "similar-serials", no_matches: "no-matches", errors: "errors" };
  function show(progress) {
    Object.keys(fields).forEach(function (name) {
      document.getElementById(fields[name]).textContent = numbers.format(progress[name]);
    });
    var bar = document.getElementById("job-progress");
    bar.max = progress.rows_total;
    bar.value = progress.rows_done;
    document.getElementById("eta").textContent = progress.eta_seconds ?
      "· " + job.dataset.eta.replace("{seconds}", numbers.format(Math.round(progress.eta_seconds))) : "";
  }
  function poll() {
    fetch(job.dataset.progress, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : Promise.reject(answer.status); })
      .then(function (progress) {
        show(progress);
        if (progress.status === "queued" || progress.status === "running") {
          window.setTimeout(poll, 1000);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
