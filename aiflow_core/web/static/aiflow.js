// aiflow web UI: confirmations for actions, and live tables that poll the REST API. No build step.
"use strict";
(function () {
  const base = document.body.dataset.base || "";
  const FINAL = new Set(["SUCCESS", "FAILED", "STOPPED"]);
  const TIMELINE_RUNS = 200;  // the latest runs the live timeline shows

  function flash(text, isError) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.className = isError ? "error" : "ok";
    box.hidden = false;
  }

  function api(path, options) {
    return fetch(base + path, Object.assign({ credentials: "same-origin", headers: { "X-AIFlow-Action": "1" } }, options));
  }

  async function getJSON(path) {
    const response = await fetch(base + path, { credentials: "same-origin" });
    if (!response.ok) throw new Error(path + ": " + response.status);
    return response.json();
  }

  async function act(button) {
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      const response = await api(button.dataset.url, { method: button.dataset.act });
      let body = null;
      if (response.status !== 204) {
        try { body = await response.json(); } catch (e) { body = null; }
      }
      if (!response.ok) {
        flash((body && body.detail) || ("refused: " + response.status), true);
        return;
      }
      if (button.dataset.go === "execution" && body && body.id) {
        window.location.href = base + "/ui/executions/" + body.id;
        return;
      }
      flash("done", false);
      window.setTimeout(function () { window.location.reload(); }, 300);
    } catch (error) {
      flash(String(error), true);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-act]");
    if (button) { event.preventDefault(); act(button); }
  });

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    if (text instanceof Node) td.appendChild(text); else td.textContent = text == null ? "" : String(text);
    return td;
  }

  function link(href, text) {
    const a = document.createElement("a");
    a.href = base + href;
    a.textContent = String(text);
    return a;
  }

  function statusBadge(status) {
    const span = document.createElement("span");
    span.className = "status " + status;
    span.textContent = status;
    return span;
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toISOString().replace("T", " ").slice(0, 19);
  }

  function seconds(run, now) {
    if (!run.begin_date) return null;
    const end = run.end_date ? Date.parse(run.end_date) : now;
    return Math.max(0, (end - Date.parse(run.begin_date)) / 1000);
  }

  function duration(value) {
    if (value == null) return "";
    if (value < 60) return value.toFixed(1) + " s";
    return Math.floor(value / 60) + " min " + Math.round(value % 60) + " s";
  }

  // -- an execution's task runs, live --
  function timeline(table) {
    const id = table.dataset.execution;
    const body = table.tBodies[0];
    const statusLabel = document.getElementById("execution-status");
    let delay = 1000;
    async function refresh() {
      try {
        const [execution, runs] = await Promise.all([
          getJSON("/api/workflow-executions/" + id),
          getJSON("/api/workflow-executions/" + id + "/task-executions?newest_first=true&limit=" + TIMELINE_RUNS),
        ]);
        runs.reverse();
        const more = document.getElementById("timeline-more");
        if (more) more.hidden = runs.length < TIMELINE_RUNS;
        const now = Date.now();
        const starts = runs.filter(function (r) { return r.begin_date; }).map(function (r) { return Date.parse(r.begin_date); });
        const first = starts.length ? Math.min.apply(null, starts) : now;
        const spans = runs.map(function (r) { const s = seconds(r, now); return s == null ? 0 : (Date.parse(r.begin_date) - first) / 1000 + s; });
        const total = Math.max(1, Math.max.apply(null, spans.concat([0])));
        const rows = runs.map(function (r) {
          const tr = document.createElement("tr");
          tr.dataset.run = r.id;
          tr.dataset.task = r.task_name;
          tr.appendChild(cell(link("/ui/task-executions/" + r.id, r.id)));
          tr.appendChild(cell(r.task_name));
          tr.appendChild(cell(r.sequence_number));
          tr.appendChild(cell(r.try_number));
          tr.appendChild(cell(statusBadge(r.status)));
          tr.appendChild(cell(when(r.begin_date)));
          const s = seconds(r, now);
          tr.appendChild(cell(duration(s)));
          tr.appendChild(cell(r.started_by, "cause"));
          const bar = document.createElement("div");
          bar.className = "bar " + r.status;
          if (s != null) {
            bar.style.marginLeft = (100 * (Date.parse(r.begin_date) - first) / 1000 / total) + "%";
            bar.style.width = Math.max(1, 100 * s / total) + "%";
          }
          tr.appendChild(cell(bar, "track"));
          return tr;
        });
        body.replaceChildren.apply(body, rows);
        if (statusLabel) {
          statusLabel.textContent = execution.status;
          statusLabel.className = "status " + execution.status;
        }
        delay = FINAL.has(execution.status) ? 5000 : 1000;
      } catch (error) {
        delay = 5000;
      }
      window.setTimeout(refresh, delay);
    }
    refresh();
  }

  // -- a task run's log, followed while the run lives --
  function followLog(pre) {
    const id = pre.dataset.run;
    let offset = Number(pre.dataset.offset || 0);
    async function refresh() {
      try {
        const piece = await getJSON("/api/task-executions/" + id + "/log?offset=" + offset);
        if (piece.text) pre.textContent += piece.text;
        offset = piece.next_offset;
        if (piece.complete) {
          pre.dataset.complete = "yes";
          const run = await getJSON("/api/task-executions/" + id);
          const label = document.getElementById("run-status");
          if (label) { label.textContent = run.status; label.className = "status " + run.status; }
          const ended = document.getElementById("run-ended");
          if (ended) ended.textContent = when(run.end_date);
          return;
        }
      } catch (error) { /* the next read tries again */ }
      window.setTimeout(refresh, 1000);
    }
    if (pre.dataset.complete !== "yes") window.setTimeout(refresh, 1000);
  }

  // -- events, new ones added on top as they come --
  function followEvents(table) {
    const body = table.tBodies[0];
    let after = Number(table.dataset.latest || 0);
    const query = table.dataset.query ? "&" + table.dataset.query : "";
    async function refresh() {
      try {
        const page = await getJSON("/api/events?after=" + after + "&limit=200" + query);
        page.items.forEach(function (e) {
          const tr = document.createElement("tr");
          tr.dataset.offset = e.offset;
          tr.className = "new";
          tr.appendChild(cell(link("/ui/events/" + e.offset, e.offset)));
          [when(e.create_time), e.namespace, e.key].forEach(function (v) { tr.appendChild(cell(v)); });
          tr.appendChild(cell(e.value, "value"));
          tr.appendChild(cell(e.sender || ""));
          tr.appendChild(cell(e.workflow_execution_id ? link("/ui/executions/" + e.workflow_execution_id, e.workflow_execution_id) : ""));
          body.insertBefore(tr, body.firstChild);
          after = Math.max(after, e.offset);
        });
        after = Math.max(after, page.items.length ? after : 0);
      } catch (error) { /* the next read tries again */ }
      window.setTimeout(refresh, 1000);
    }
    window.setTimeout(refresh, 1000);
  }

  const table = document.getElementById("timeline");
  if (table) timeline(table);
  const log = document.getElementById("log");
  if (log) followLog(log);
  const events = document.getElementById("events");
  if (events && events.dataset.live === "yes") followEvents(events);
})();
