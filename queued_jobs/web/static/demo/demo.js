// The demo's sample page: start jobs as the chosen end user; the bell follows them.
const base = document.documentElement.dataset.base || "";
const bell = document.getElementById("bell");
const select = document.getElementById("user");
const message = document.getElementById("message");
const params = new URLSearchParams(location.search);
const user = ["ada", "grace"].includes(params.get("as")) ? params.get("as") : "ada";
select.value = user;

// Development mode: the user is named in a header (an empty roles header: a plain user).
const headers = () => ({ "X-Queued-Jobs-User": user, "X-Queued-Jobs-Roles": "" });
bell.getHeaders = async () => headers();
bell.refresh();

const JOBS = {
  zip: { type: "samples.build_zip", request: { prefix: "" }, title: "Zip of my documents" },
  report: { type: "reports.render", request: { title: "Quarterly report" }, title: "Quarterly report" },
  rates: { type: "rates.sync", request: { symbols: ["USD", "GBP", "JPY"] }, title: "Exchange rates" },
  contacts: {
    type: "contacts.import",
    request: { csv: "name,email\nAda,ada@example.com\nBob,bob-at-example\n" },
    title: "Contacts import",
  },
};

select.addEventListener("change", () => {
  const next = new URL(location.href);
  next.searchParams.set("as", select.value);
  location.assign(next);
});

for (const button of document.querySelectorAll("button[data-job]")) {
  button.addEventListener("click", async () => {
    const job = JOBS[button.dataset.job];
    button.disabled = true;
    message.textContent = "";
    try {
      const response = await fetch(`${base}/jobs`, {
        method: "POST",
        headers: { ...headers(), "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ type: job.type, request: job.request, custom_data: { title: job.title } }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.message || `the server answered ${response.status}`);
      bell.track(body);
      message.textContent = `Started “${job.title}”. The bell shows how it goes.`;
    } catch (error) {
      message.textContent = `Could not start the job: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  });
}
