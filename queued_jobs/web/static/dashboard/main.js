// The operators' dashboard.
document.getElementById("app").textContent = "queued-jobs dashboard";
