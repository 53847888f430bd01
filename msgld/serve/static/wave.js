// A stem's waveform in a canvas: min/max of the samples under each pixel column.

export function drawWave(canvas, buffer, color) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  canvas.width = w;
  canvas.height = h;
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, w, h);
  const data = buffer.getChannelData(0);
  let peak = 0;
  for (let i = 0; i < data.length; i++) peak = Math.max(peak, Math.abs(data[i]));
  const scale = (0.95 * h) / 2 / Math.max(peak, 0.05);
  const mid = h / 2;
  const per = data.length / w;
  g.fillStyle = color;
  for (let x = 0; x < w; x++) {
    let lo = 0, hi = 0;
    const end = Math.min(data.length, Math.floor((x + 1) * per));
    for (let i = Math.floor(x * per); i < end; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    g.fillRect(x, mid - hi * scale, 1, Math.max(1, (hi - lo) * scale));
  }
  g.fillStyle = "rgba(0,0,0,0.15)";
  g.fillRect(0, Math.floor(mid), w, 1);
}
