// The results panel: one row per stem (waveform, solo/mute, level, download), the transport,
// the zip and the in-browser re-mix.

import { Mixer } from "./mixer.js";
import { drawWave } from "./wave.js";
import { wavBlob } from "./wav.js";

const COLORS = { bass: "#d1603d", drums: "#e0a030", guitar: "#2a9d8f", piano: "#3f6fa0",
                 other: "#8e6c8a", vocals: "#c0392b" };
const PALETTE = ["#d1603d", "#e0a030", "#2a9d8f", "#3f6fa0", "#8e6c8a", "#c0392b", "#6a994e"];
const $ = (id) => document.getElementById(id);

const clock = (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`;

export class Results {
  constructor(onError) {
    this.onError = onError;
    this.mixer = null;
    this.rows = [];
    $("play").onclick = () => this.toggle();
    $("stop").onclick = () => { if (this.mixer) { this.mixer.stop(); this.tick(); $("play").textContent = "Play"; } };
    $("remix").onclick = () => this.remix();
    let pending = null;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(() => this.rows.forEach((r) => r.track && drawWave(r.canvas, r.track.buffer, r.color)), 150);
    });
  }

  clear() {
    if (this.mixer) { this.mixer.stop(); this.mixer.ctx.close(); }
    this.mixer = null;
    this.rows = [];
    $("stems").replaceChildren();
    $("extra").replaceChildren();
    $("results").hidden = true;
    $("results").dataset.ready = "false";
    for (const id of ["play", "stop", "remix"]) $(id).disabled = true;
    $("play").textContent = "Play";
  }

  async show(job) {
    this.clear();
    const files = Object.fromEntries(job.files.map((f) => [f.name, f.url]));
    const stems = job.stems.filter((s) => s !== "mix");
    $("zip").href = files["stems.zip"];
    const extra = $("extra");
    for (const [name, label] of [["mix.wav", "the model's mix"], ["run.json", "run.json (settings, seed, model)"]]) {
      if (!files[name]) continue;
      if (extra.childNodes.length) extra.append(" · ");
      const a = Object.assign(document.createElement("a"), { href: files[name], textContent: label, download: "" });
      a.className = "download";
      a.dataset.file = name;
      extra.append(a);
    }
    $("results").hidden = false;
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    this.mixer = new Mixer(ctx);
    this.mixer.onended = () => { $("play").textContent = "Play"; this.tick(); };
    this.rows = stems.map((stem, i) => this.row(stem, files[`${stem}.wav`], COLORS[stem] || PALETTE[i % PALETTE.length]));
    $("stems").append(...this.rows.map((r) => r.el));
    const loaded = await Promise.all(this.rows.map((r) => this.load(r)));
    if (loaded.some(Boolean)) for (const id of ["play", "stop", "remix"]) $(id).disabled = false;
    this.tick();
    $("results").dataset.ready = "true";
  }

  row(stem, url, color) {
    const el = document.createElement("div");
    el.className = "stem";
    el.dataset.stem = stem;
    el.style.setProperty("--c", color);
    el.innerHTML = `<span class="name"></span>
      <div class="toggles"><button class="solo" title="Solo: hear only the soloed stems">S</button>
        <button class="mute" title="Mute">M</button></div>
      <div class="wave"><canvas></canvas><div class="playhead"></div></div>
      <div class="side"><input type="range" min="0" max="1.5" step="0.01" value="1">
        <a class="button download" download>Download</a></div>`;
    el.querySelector(".name").textContent = stem;
    const link = el.querySelector("a.download");
    link.href = url;
    link.dataset.file = `${stem}.wav`;
    el.querySelector("input").setAttribute("aria-label", `${stem} level`);
    const r = { stem, url, color, el, canvas: el.querySelector("canvas"), head: el.querySelector(".playhead"), track: null };
    const solo = el.querySelector(".solo"), mute = el.querySelector(".mute");
    solo.onclick = () => { if (r.track) { r.track.solo = !r.track.solo; solo.classList.toggle("on", r.track.solo); this.refresh(); } };
    mute.onclick = () => { if (r.track) { r.track.mute = !r.track.mute; mute.classList.toggle("on", r.track.mute); this.refresh(); } };
    el.querySelector("input").oninput = (e) => { if (r.track) { r.track.level = Number(e.target.value); this.refresh(); } };
    el.querySelector(".wave").onclick = (e) => {
      if (!this.mixer || !r.track) return;
      const box = e.currentTarget.getBoundingClientRect();
      this.mixer.seek(((e.clientX - box.left) / box.width) * this.mixer.duration);
      this.tick();
    };
    return r;
  }

  async load(r) {
    try {
      const response = await fetch(r.url);
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      const buffer = await this.mixer.ctx.decodeAudioData(await response.arrayBuffer());
      r.track = this.mixer.add(r.stem, buffer);
      drawWave(r.canvas, buffer, r.color);
      r.el.dataset.ready = "true";
      return true;
    } catch (e) {
      this.onError(`Could not load the ${r.stem} stem for playing: ${e.message}. Its download link still works.`);
      return false;
    }
  }

  refresh() {
    this.mixer.apply();
    for (const r of this.rows) r.el.classList.toggle("silent", !!r.track && !this.mixer.audible(r.track));
  }

  async toggle() {
    if (!this.mixer) return;
    if (this.mixer.playing) { this.mixer.pause(); $("play").textContent = "Play"; this.tick(); return; }
    try {
      await this.mixer.play();
      $("play").textContent = "Pause";
      const frame = () => { this.tick(); if (this.mixer && this.mixer.playing) requestAnimationFrame(frame); };
      requestAnimationFrame(frame);
    } catch (e) {
      this.onError(`The browser could not play audio: ${e.message}`);
    }
  }

  tick() {
    if (!this.mixer) return;
    const pos = this.mixer.position(), total = this.mixer.duration;
    $("time").textContent = `${clock(pos)} / ${clock(total)}`;
    const at = total ? `${(100 * pos) / total}%` : "0";
    for (const r of this.rows) r.head.style.left = at;
  }

  async remix() {
    try {
      const buffer = await this.mixer.render();
      const a = document.createElement("a");
      a.href = URL.createObjectURL(wavBlob(buffer));
      a.download = "remix.wav";
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60000);
    } catch (e) {
      this.onError(`Could not make the re-mix: ${e.message}`);
    }
  }
}
