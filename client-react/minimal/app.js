// framewire minimal page: camera -> JPEG frames over the framewire.v1 WebSocket -> top-k labels.
// Protocol: docs/protocol.md. Keeps at most the server's max_inflight frames unanswered.
'use strict';

const statusEl = document.getElementById('status');
const topEl = document.getElementById('top');
const timingEl = document.getElementById('timing');
const video = document.getElementById('video');
const canvas = document.createElement('canvas');

let ws = null;
let maxInflight = 1;
let inflight = 0;
let nextId = 1;
const sentAt = new Map(); // frame id -> performance.now() at send

function header(id, captureUs) {
  const b = new ArrayBuffer(24);
  const v = new DataView(b);
  v.setUint8(0, 0x46); v.setUint8(1, 0x57); // "FW"
  v.setUint8(2, 1);                          // version
  v.setUint8(3, 24);                         // header length
  v.setUint32(4, 0, true);                   // flags
  v.setBigUint64(8, BigInt(id), true);
  v.setBigUint64(16, BigInt(captureUs), true);
  return b;
}

function showResult(msg) {
  topEl.replaceChildren(...msg.top.map((c) => {
    const li = document.createElement('li');
    li.textContent = `${c.label} ${(c.prob * 100).toFixed(1)}%`;
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.style.width = `${Math.round(c.prob * 100)}%`;
    li.appendChild(bar);
    return li;
  }));
  const t = msg.timing_us;
  const rtt = sentAt.has(msg.frame_id) ? performance.now() - sentAt.get(msg.frame_id) : NaN;
  timingEl.textContent = `round trip ${rtt.toFixed(1)} ms | server: queue ${t.queue} µs, ` +
    `decode ${t.decode} µs, preprocess ${t.preprocess} µs, infer ${t.infer} µs (batch ${msg.batch})`;
}

function sendFrame() {
  if (!ws || ws.readyState !== WebSocket.OPEN || inflight >= maxInflight || !video.videoWidth) return;
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d').drawImage(video, 0, 0);
  const id = nextId++;
  const captureUs = Math.round((performance.timeOrigin + performance.now()) * 1000);
  inflight++;
  canvas.toBlob(async (blob) => {
    if (!blob || ws.readyState !== WebSocket.OPEN) { inflight--; return; }
    const jpeg = await blob.arrayBuffer();
    sentAt.set(id, performance.now());
    ws.send(new Blob([header(id, captureUs), jpeg]));
  }, 'image/jpeg', 0.8);
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  ws = new WebSocket(`${proto}//${location.host}/`, 'framewire.v1');
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === 'hello') {
      maxInflight = msg.limits.max_inflight;
      statusEl.textContent = `model ${msg.model.name} (${msg.model.labels} classes) on ${msg.model.device}`;
    } else if (msg.type === 'result' || msg.type === 'error' || msg.type === 'dropped') {
      if (msg.frame_id !== null) inflight = Math.max(0, inflight - 1); // null: answers a text message
      if (msg.type === 'result') showResult(msg);
      else if (msg.type === 'error') statusEl.textContent = `error ${msg.code}: ${msg.message}`;
      sentAt.delete(msg.frame_id);
    }
  };
  ws.onclose = (ev) => {
    statusEl.textContent = `disconnected (${ev.code}); reconnecting…`;
    inflight = 0;
    setTimeout(connect, 1000);
  };
}

async function start() {
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
  } catch (e) {
    statusEl.textContent = `no camera: ${e.message} (cameras need https or localhost)`;
    return;
  }
  connect();
  setInterval(sendFrame, 1000 / 30);
}

start();
