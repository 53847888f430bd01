// The page: tabs, the three forms, a job's progress, then the results panel.

import { ApiError, poll, request, send } from "./api.js";
import { Results } from "./results.js";

const $ = (id) => document.getElementById(id);
const state = { stems: [], maxUploadMb: 200, job: null, cancelled: false, busy: false, sepFile: null, given: {} };

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

const results = new Results(showError);

function setStatus(text, fraction, ended = false) {
  $("status").hidden = false;
  $("cancel").hidden = ended;
  $("status-text").textContent = text;
  $("bar-fill").style.width = `${Math.round(100 * Math.max(0, Math.min(1, fraction)))}%`;
}

const VERBS = { separate: "separating", generate: "generating", arrange: "arranging" };

function describe(job) {
  if (job.state === "queued") {
    const ahead = job.queue_position;
    return [`waiting in the queue${ahead ? ` (${ahead} job${ahead > 1 ? "s" : ""} ahead)` : ""}…`, 0];
  }
  if (job.state === "running") {
    const p = job.progress;
    return [p.total ? `${VERBS[job.kind]}: ${p.done} of ${p.total} ${p.unit}` : `${VERBS[job.kind]}…`, p.fraction];
  }
  return [job.state === "done" ? "done" : "failed", 1];
}

const size = (bytes) => (bytes < 2 ** 20 ? `${Math.ceil(bytes / 1024)} kB` : `${(bytes / 2 ** 20).toFixed(1)} MB`);

function checkSize(file) {
  const mb = file.size / 2 ** 20;
  if (mb > state.maxUploadMb) {
    throw new ApiError(`${file.name} is ${mb.toFixed(1)} MB; this server takes uploads up to ` +
                       `${state.maxUploadMb} MB (start it with --max-upload-mb to change that).`);
  }
}

function setBusy(busy) {
  state.busy = busy;
  $("sep-go").disabled = busy || !state.sepFile;
  $("gen-go").disabled = busy;
  $("arr-go").disabled = busy;
}

async function run(kind, form) {
  clearError();
  results.clear();
  setBusy(true);
  state.cancelled = false;
  try {
    setStatus("uploading…", 0);
    let job = await send(`/api/${kind}`, form, (f) => setStatus(`uploading: ${Math.round(100 * f)}%`, f));
    state.job = job;
    setStatus(...describe(job));
    job = await poll(job, (j) => { state.job = j; setStatus(...describe(j)); }, () => state.cancelled);
    if (!job) return;
    if (job.state === "failed") {
      showError(`The job failed: ${job.error}`);
      return;
    }
    setStatus("done", 1, true);
    await results.show(job);
  } catch (e) {
    showError(e instanceof ApiError ? e.message : `Something went wrong in the page: ${e.message}`);
  } finally {
    setBusy(false);
    if (state.cancelled || $("error").hidden === false) $("status").hidden = true;
  }
}

function addNumber(form, name, input) {
  const value = $(input).value.trim();
  if (value !== "") form.append(name, value);
}

const addText = addNumber;  // a non-empty text field, sent as typed

// --- tabs -------------------------------------------------------------------------------------

for (const tab of document.querySelectorAll(".tab")) {
  tab.onclick = () => {
    for (const t of document.querySelectorAll(".tab")) {
      const on = t === tab;
      t.classList.toggle("active", on);
      t.setAttribute("aria-selected", String(on));
      $(`tab-${t.dataset.tab}`).hidden = !on;
    }
    clearError();
  };
}

// --- drop targets -----------------------------------------------------------------------------

// a file dropped outside a target must not make the browser leave the page
window.addEventListener("dragover", (e) => e.preventDefault());
window.addEventListener("drop", (e) => e.preventDefault());

function dropTarget(el, onFile) {
  el.addEventListener("dragover", (e) => { e.preventDefault(); el.classList.add("over"); });
  el.addEventListener("dragleave", () => el.classList.remove("over"));
  el.addEventListener("drop", (e) => {
    e.preventDefault();
    el.classList.remove("over");
    const file = e.dataTransfer && e.dataTransfer.files[0];
    if (file) onFile(file);
  });
}

// --- separate ---------------------------------------------------------------------------------

function setSepFile(file) {
  state.sepFile = file;
  $("sep-name").textContent = file ? `${file.name} (${size(file.size)})` : "";
  setBusy(state.busy);
}

$("sep-file").onchange = (e) => setSepFile(e.target.files[0] || null);
dropTarget($("drop"), setSepFile);

$("sep-go").onclick = () => {
  const file = state.sepFile;
  try { checkSize(file); } catch (e) { showError(e.message); return; }
  const form = new FormData();
  form.append("file", file, file.name);
  addNumber(form, "steps", "sep-steps");
  addNumber(form, "guidance", "sep-guidance");
  addNumber(form, "seed", "sep-seed");
  run("separate", form);
};

// --- generate ---------------------------------------------------------------------------------

$("gen-go").onclick = () => {
  const form = new FormData();
  addText(form, "prompt", "gen-prompt");
  addText(form, "stem_prompts", "gen-stem-prompts");
  addNumber(form, "duration", "gen-duration");
  addNumber(form, "seed", "gen-seed");
  addNumber(form, "steps", "gen-steps");
  run("generate", form);
};

// --- arrange ----------------------------------------------------------------------------------

function arrangeRows(stems) {
  const box = $("arr-stems");
  box.replaceChildren();
  for (const stem of stems) {
    const row = document.createElement("div");
    row.className = "arr-row";
    row.dataset.stem = stem;
    row.innerHTML = `<span class="name"></span>
      <span class="given"><label class="button pick">Choose file
          <input type="file" accept="audio/*,.wav,.flac,.ogg,.mp3"></label>
        <span class="file"></span> <button class="link clear" hidden>remove</button></span>
      <label><input type="checkbox" class="gen" checked> generate</label>`;
    row.querySelector(".name").textContent = stem;
    const input = row.querySelector("input[type=file]"), gen = row.querySelector(".gen");
    const clear = row.querySelector(".clear");
    const setFile = (file) => {
      state.given[stem] = file || undefined;
      row.querySelector(".file").textContent = file ? `${file.name} (${size(file.size)})` : "no file given";
      clear.hidden = !file;
      gen.checked = !file;
      gen.disabled = !!file;
      if (!file) input.value = "";
    };
    setFile(null);
    clear.onclick = () => setFile(null);
    input.onchange = (e) => setFile(e.target.files[0] || null);
    dropTarget(row, setFile);
    box.append(row);
  }
}

$("arr-go").onclick = () => {
  const form = new FormData();
  const given = Object.entries(state.given).filter(([, f]) => f);
  const wanted = [...document.querySelectorAll(".arr-row")]
    .filter((r) => r.querySelector(".gen").checked).map((r) => r.dataset.stem);
  if (!given.length) { showError("Give at least one stem: pick or drop a file on its row."); return; }
  if (!wanted.length) { showError("Tick at least one stem for the model to write."); return; }
  try { given.forEach(([, f]) => checkSize(f)); } catch (e) { showError(e.message); return; }
  for (const [stem, file] of given) form.append(stem, file, file.name);
  form.append("generate", wanted.join(","));
  addText(form, "prompt", "arr-prompt");
  addText(form, "stem_prompts", "arr-stem-prompts");
  addNumber(form, "seed", "arr-seed");
  addNumber(form, "steps", "arr-steps");
  run("arrange", form);
};

// --- cancel -----------------------------------------------------------------------------------

$("cancel").onclick = async () => {
  state.cancelled = true;
  $("status").hidden = true;
  if (state.job) {
    try { await request("DELETE", state.job.url); } catch (e) { /* it may have finished and expired */ }
  }
};

// --- start ------------------------------------------------------------------------------------

async function start() {
  try {
    const [health, models] = await Promise.all([request("GET", "/api/health"), request("GET", "/api/models")]);
    state.stems = models.loaded.stems;
    state.maxUploadMb = health.limits.max_upload_mb;
    $("model").textContent = `model ${models.loaded.name} · stems: ${state.stems.join(", ")} · ` +
                             `uploads up to ${state.maxUploadMb} MB`;
    $("gen-duration").max = health.limits.max_duration_s;
    for (const el of document.querySelectorAll(".text-only")) el.hidden = !models.loaded.text;  // text models only
    arrangeRows(state.stems);
  } catch (e) {
    $("model").textContent = "not connected";
    showError(e.message);
  }
}

setBusy(false);
start();
