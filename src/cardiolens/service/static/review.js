// cardiolens review page: plain JavaScript over the REST API (no build step).
"use strict";

const state = { token: sessionStorage.getItem("cardiolens-token"), job: null, review: null };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${state.token}`, ...(options.headers || {}) };
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(options.json);
  }
  const answer = await fetch(path, { ...options, headers });
  if (!answer.ok) {
    let detail = answer.statusText;
    try { detail = (await answer.json()).detail; } catch (_) { /* not JSON */ }
    throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return answer;
}

function say(message, error = false) {
  $("status-line").textContent = message;
  $("status-line").className = error ? "error" : "";
}

function show(section) {
  for (const id of ["login", "worklist", "study"]) $(id).hidden = id !== section;
  $("logout").hidden = section === "login";
}

async function login(event) {
  event.preventDefault();
  state.token = $("token").value.trim();
  try {
    await loadWorklist();
    sessionStorage.setItem("cardiolens-token", state.token);
    $("login-error").textContent = "";
  } catch (error) {
    $("login-error").textContent = `Log-in failed: ${error.message}`;
    show("login");
  }
}

async function loadWorklist() {
  const jobs = await (await api("/jobs")).json();
  const rows = $("worklist-rows");
  rows.replaceChildren();
  for (const job of jobs) {
    const open = el("button", { className: "open", textContent: "Open", disabled: job.status !== "done" });
    open.addEventListener("click", () => openStudy(job.job_id));
    rows.append(el("tr", { className: job.needs_review ? "needs-review" : "", dataset: { jobId: job.job_id } },
      el("td", {}, job.needs_review ? "needs review" : job.status === "done" ? "routine" : ""),
      el("td", {}, job.status + (job.error ? `: ${job.error}` : "")),
      el("td", {}, job.study_date || ""),
      el("td", {}, job.n_flags ?? ""),
      el("td", {}, job.source),
      el("td", {}, job.created_utc),
      el("td", {}, job.signed_by ? `${job.signed_by} ${job.signed_utc}` : ""),
      el("td", {}, open)));
  }
  show("worklist");
  say(`${jobs.length} studies`);
}

function card(label, current, original, id) {
  const changed = original !== undefined && current !== original;
  return el("div", { className: "card" + (changed ? " changed" : "") },
    label, el("b", { id }, current ?? "-"),
    changed ? el("span", { className: "was" }, `automated: ${original}`) : "");
}

async function openStudy(jobId) {
  state.job = jobId;
  const [report, review, figures] = await Promise.all([
    api(`/jobs/${jobId}/report.json`).then((r) => r.json()),
    api(`/jobs/${jobId}/review`).then((r) => r.json()),
    api(`/jobs/${jobId}/figures`).then((r) => r.json()),
  ]);
  state.report = report;
  $("study-date").textContent = report.study.study_date || "";
  renderReview(review);
  renderFlags(report);
  renderShap(report);
  await renderFigures(jobId, figures);
  await renderAudit();
  show("study");
  say("");
}

function renderReview(review) {
  state.review = review;
  const { current, original } = review;
  const signoff = review.physician.signoff;
  const locked = Boolean(signoff) && signoff.status === "final";
  const summary = $("summary");
  summary.replaceChildren();
  if (current.sss !== null) summary.append(card("SSS", current.sss, original.sss, "sss-current"));
  if (current.srs !== null) summary.append(card("SRS", current.srs, original.srs, "srs-current"));
  if (current.sds !== null) summary.append(card("SDS", current.sds, original.sds, "sds-current"));
  if (current.agatston !== undefined) {
    summary.append(card("Agatston", current.agatston, original.agatston, "agatston-current"));
    for (const [artery, value] of Object.entries(current.agatston_per_artery)) {
      summary.append(card(artery, value, original.agatston_per_artery[artery], `agatston-${artery}`));
    }
    summary.append(card("CAC-DRS", current.cac_drs.label, original.cac_drs.label, "cac-drs"));
  }
  const segments = current.segment_scores;
  $("nuclear-block").hidden = Object.keys(segments).length === 0;
  const body = $("segments").tBodies[0];
  body.replaceChildren();
  for (let segment = 1; segment <= 17; segment++) {
    const row = el("tr", {}, el("td", {}, `${segment} ${current.segment_names[segment - 1]}`));
    for (const name of ["stress", "rest"]) {
      if (!segments[name]) { row.append(el("td", {}, "-")); continue; }
      const select = el("select", { disabled: locked, dataset: { state: name, segment: String(segment) } });
      for (let score = 0; score <= 4; score++) select.append(el("option", { value: String(score) }, score));
      select.value = String(segments[name][segment - 1]);
      if (segments[name][segment - 1] !== original.segment_scores[name][segment - 1]) row.className = "changed";
      select.addEventListener("change", () => amend({ kind: "segment_score", state: name, segment, score: Number(select.value) }));
      row.append(el("td", {}, select));
    }
    body.append(row);
  }
  $("calcium-block").hidden = !current.has_calcium;
  const lesions = $("lesions").tBodies[0];
  lesions.replaceChildren();
  for (const lesion of current.lesions) {
    const artery = el("select", { className: "lesion-artery", disabled: locked, dataset: { lesion: String(lesion.number) } });
    for (const name of ["LM", "LAD", "LCx", "RCA"]) artery.append(el("option", { value: name }, name));
    if (!lesion.artery) artery.prepend(el("option", { value: "" }, "unassigned"));
    artery.value = lesion.artery || "";
    artery.addEventListener("change", () => amend({ kind: "lesion_artery", lesion: lesion.number, artery: artery.value }));
    // an excluded lesion stays excluded: the amendment API records exclusions, not re-inclusions
    const exclude = el("input", { type: "checkbox", className: "lesion-exclude", checked: lesion.excluded, disabled: locked || lesion.excluded, dataset: { lesion: String(lesion.number) } });
    exclude.addEventListener("change", () => amend({ kind: "lesion_exclusion", lesion: lesion.number }));
    lesions.append(el("tr", {}, el("td", {}, lesion.number), el("td", {}, artery),
      el("td", {}, lesion.agatston.toFixed(1)), el("td", {}, lesion.volume_mm3.toFixed(1)), el("td", {}, exclude)));
  }
  $("impression").value = current.impression.join("\n");
  $("impression").disabled = locked;
  $("save-impression").disabled = locked;
  $("sign").disabled = locked;
  $("signed-banner").hidden = !locked;
  $("signed-banner").textContent = locked ? `signed by ${signoff.reader} ${signoff.time_utc}` : "";
}

function renderFlags(report) {
  $("flags").replaceChildren(...report.quality_flags.map((flag) =>
    el("li", { className: `flag-${flag.severity}` }, `${flag.stage}: ${flag.message}`)));
  if (!report.quality_flags.length) $("flags").append(el("li", {}, "none"));
}

function renderShap(report) {
  const contributors = (report.risk && report.risk.top_contributors) || [];
  $("risk-block").hidden = !report.risk;
  $("shap").tBodies[0].replaceChildren(...contributors.map((item) => el("tr", {},
    el("td", {}, item.feature), el("td", {}, item.value ?? "missing"), el("td", {}, item.contribution.toFixed(3)))));
}

async function renderFigures(jobId, names) {
  const box = $("figures");
  box.replaceChildren();
  for (const name of names) {
    const blob = await (await api(`/jobs/${jobId}/figures/${name}`)).blob();
    box.append(el("figure", {}, el("img", { src: URL.createObjectURL(blob), alt: name }),
      el("figcaption", {}, name.replace(".png", "").replaceAll("_", " "))));
  }
}

async function renderAudit() {
  const entries = await (await api(`/jobs/${state.job}/audit`)).json();
  $("audit").replaceChildren(...entries.map((entry) => el("li", { className: "audit-entry", dataset: { action: entry.action } },
    `${entry.timestamp_utc} ${entry.action} by ${entry.user}` + auditDetail(entry))));
}

function auditDetail(entry) {
  // the typed changes of an amendment are recorded as {kind, target, before, after}
  const parts = [entry.details && entry.details.text, ...(entry.overrides || []).map((item) =>
    typeof item === "string" ? item : `${item.target}: ${item.before ?? "-"} -> ${item.after}`)];
  const shown = parts.filter(Boolean);
  return shown.length ? `: ${shown.join("; ")}` : "";
}

function pacsNote(answer) {
  return answer.pacs && answer.pacs.error ? `; ${answer.pacs.error}` : "";
}

async function amend(change) {
  try {
    const answer = await (await api(`/jobs/${state.job}/amend`, { method: "POST", json: { changes: [change] } })).json();
    renderReview(answer);
    await renderAudit();
    say("amendment recorded" + pacsNote(answer), Boolean(pacsNote(answer)));
  } catch (error) {
    say(`not saved: ${error.message}`, true);
    renderReview(state.review);
  }
}

async function sign() {
  try {
    const answer = await (await api(`/jobs/${state.job}/sign`, { method: "POST" })).json();
    renderReview(answer);
    await renderAudit();
    say("report signed and locked" + pacsNote(answer), Boolean(pacsNote(answer)));
  } catch (error) {
    say(`not signed: ${error.message}`, true);
  }
}

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", () => { sessionStorage.removeItem("cardiolens-token"); state.token = null; show("login"); });
$("back").addEventListener("click", () => loadWorklist().catch((error) => say(error.message, true)));
$("save-impression").addEventListener("click", () => amend({ kind: "impression", text: $("impression").value }));
$("sign").addEventListener("click", sign);
if (state.token) loadWorklist().catch(() => show("login"));
