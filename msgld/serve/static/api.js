// Talking to the msgld server: uploads (with upload progress), job polling, errors in words.

export class ApiError extends Error {}

const WHAT = {
  400: "The server refused the request", 404: "Not found", 413: "The upload is too large",
  415: "The server does not take this kind of request", 422: "The server could not use this",
  429: "The server is busy", 503: "The server is busy",
};

export function reason(status, data) {
  const detail = data && data.detail;
  const text = typeof detail === "string" ? detail
    : Array.isArray(detail) ? detail.map((d) => d.msg || String(d)).join("; ") : "";
  const what = WHAT[status] || `The server answered ${status}`;
  return text ? `${what}: ${text}` : `${what}.`;
}

const NO_ANSWER = "The server did not answer. Is msgld serve still running?";

export async function request(method, url) {
  let response;
  try {
    response = await fetch(url, { method });
  } catch (e) {
    throw new ApiError(NO_ANSWER);
  }
  let data = null;
  try { data = await response.json(); } catch (e) { /* not JSON: the status says enough */ }
  if (!response.ok) throw new ApiError(reason(response.status, data));
  return data;
}

// POST a FormData; onProgress(fraction) while the body uploads. Resolves to the job.
export function send(url, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else reject(new ApiError(reason(xhr.status, xhr.response)));
    };
    xhr.onerror = () => reject(new ApiError(NO_ANSWER));
    xhr.send(form);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll a job until it is done or failed (or `stopped()` says to give up); onUpdate(job) each time.
export async function poll(job, onUpdate, stopped, interval = 400) {
  while (job.state === "queued" || job.state === "running") {
    await sleep(interval);
    if (stopped()) return null;
    job = await request("GET", job.url);
    onUpdate(job);
  }
  return job;
}
