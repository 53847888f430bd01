// The in-browser re-mix: one AudioBufferSource -> GainNode per stem, solo/mute/level per stem,
// all stems started together so they stay in sync; render() makes the re-mix offline.

export class Mixer {
  constructor(ctx) {
    this.ctx = ctx;
    this.tracks = [];
    this.master = ctx.createGain();
    this.master.connect(ctx.destination);
    this.sources = [];
    this.playing = false;
    this.offset = 0;      // seconds into the piece while paused
    this.startedAt = 0;   // ctx time that corresponds to position 0 while playing
    this.onended = null;
  }

  add(name, buffer) {
    const gain = this.ctx.createGain();
    gain.connect(this.master);
    const track = { name, buffer, gain, level: 1, mute: false, solo: false };
    this.tracks.push(track);
    this.apply();
    return track;
  }

  get duration() { return Math.max(0, ...this.tracks.map((t) => t.buffer.duration)); }

  audible(track) {
    const soloing = this.tracks.some((t) => t.solo);
    return soloing ? track.solo : !track.mute;
  }

  apply() {
    for (const t of this.tracks) t.gain.gain.value = this.audible(t) ? t.level : 0;
  }

  position() {
    if (!this.playing) return this.offset;
    return Math.min(this.duration, this.ctx.currentTime - this.startedAt);
  }

  async play() {
    if (this.playing || !this.tracks.length) return;
    await this.ctx.resume();
    if (this.offset >= this.duration) this.offset = 0;
    const when = this.ctx.currentTime + 0.05;
    this.sources = this.tracks.map((t) => {
      const s = this.ctx.createBufferSource();
      s.buffer = t.buffer;
      s.connect(t.gain);
      s.start(when, Math.min(this.offset, t.buffer.duration));
      return s;
    });
    const longest = this.sources.reduce((a, b) => (b.buffer.duration > a.buffer.duration ? b : a));
    longest.onended = () => { if (this.sources.includes(longest)) this.finish(); };
    this.startedAt = when - this.offset;
    this.playing = true;
  }

  halt() {
    const sources = this.sources;
    this.sources = [];
    for (const s of sources) { try { s.stop(); } catch (e) { /* not started yet */ } }
    this.playing = false;
  }

  pause() { this.offset = this.position(); this.halt(); }

  stop() { this.halt(); this.offset = 0; }

  finish() { this.halt(); this.offset = 0; if (this.onended) this.onended(); }

  seek(seconds) {
    const wasPlaying = this.playing;
    this.halt();
    this.offset = Math.max(0, Math.min(seconds, this.duration));
    if (wasPlaying) this.play();
  }

  // The stems at their current levels (solo/mute applied), mixed offline -> AudioBuffer.
  async render() {
    const rate = this.tracks[0].buffer.sampleRate;
    const length = Math.max(...this.tracks.map((t) => t.buffer.length));
    const offline = new OfflineAudioContext(1, length, rate);
    for (const t of this.tracks) {
      const s = offline.createBufferSource();
      const g = offline.createGain();
      s.buffer = t.buffer;
      g.gain.value = this.audible(t) ? t.level : 0;
      s.connect(g).connect(offline.destination);
      s.start(0);
    }
    return offline.startRendering();
  }
}
