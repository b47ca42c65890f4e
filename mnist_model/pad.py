"""The page's drawing pad: a `gr.HTML` custom component whose value is the strokes drawn on it.

Gradio's Sketchpad exports and uploads three full-canvas PNGs after every stroke before its event
can start, seconds on a busy machine, and on a phone shows its canvas shrunk to a third. This pad
draws on a plain canvas with pointer events (mouse, touch and pen alike, `touch-action: none` so
a finger draws instead of scrolling) from the moment the page opens, and its value is the strokes
as JSON (`mnist_model.strokes`): a few hundred bytes, which the server draws into a picture. It
sets the value while the pen moves, at most every `THROTTLE_MS`, and at once when it lifts; each
new value fires the component's change event, whose `trigger_mode="always_last"` keeps only the
newest waiting, so the answer follows the pen. Undo takes back the last stroke, Clear all of them.

Pad coordinates are the pad's own, `PAD_WIDTH` units across whatever its size on screen, so the
server always draws at the Sketchpad's scale: `PAD_HEIGHT` tall (wider than tall, for a number)
where the pad is at least `SQUARE_BELOW` CSS pixels wide, and square on a narrower screen (a
phone), where the pad fills the page's width. Everything is inline: no external assets, so it
works as a Space.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from .strokes import BRUSH_SHARE

PAD_WIDTH, PAD_HEIGHT = 900, 450  # pad units: the Sketchpad's canvas, which the benchmarks draw on
SQUARE_BELOW = 560  # CSS px: a narrower pad is square, so a finger has room for a digit
THROTTLE_MS = 120  # while the pen moves, the value is set at most this often

PAD_HTML = """
<div class="pad-frame">
  <div class="pad-head"><span class="pad-title">${label}</span>
    <span class="pad-tools">
      <button type="button" class="pad-undo" aria-label="Undo the last stroke">Undo</button>
      <button type="button" class="pad-clear" aria-label="Clear the drawing">Clear</button>
    </span>
  </div>
  <canvas class="pad-canvas" role="img" aria-label="Drawing pad: draw a digit or a number"></canvas>
</div>
"""

PAD_CSS = """
.pad-head { display: flex; justify-content: space-between; align-items: center; gap: 8px;
  padding: 0 0 6px; font-size: var(--text-sm); color: var(--body-text-color-subdued); }
.pad-tools { display: flex; gap: 6px; }
.pad-tools button { padding: 4px 12px; border-radius: var(--radius-md); cursor: pointer;
  border: 1px solid var(--button-secondary-border-color); color: var(--button-secondary-text-color);
  background: var(--button-secondary-background-fill); font-size: var(--text-md); }
.pad-canvas { display: block; width: 100%; touch-action: none; user-select: none;
  -webkit-user-select: none; cursor: crosshair; background: white;
  box-shadow: 0 0 0 1px var(--border-color-primary); border-radius: var(--radius-md); }
"""

PAD_JS = """
const WIDTH = %(width)d, WIDE_HEIGHT = %(height)d, SQUARE_BELOW = %(square_below)d;
const BRUSH = WIDTH * %(brush_share)r, THROTTLE_MS = %(throttle_ms)d;
const canvas = element.querySelector('.pad-canvas');
const context = canvas.getContext('2d');
let height = WIDE_HEIGHT, strokes = [], current = null, pointer = null, sent = 0, timer = null;

const value = () => {
  const all = current ? [...strokes, current] : strokes;
  return all.length ? JSON.stringify({width: WIDTH, height, strokes: all}) : '';
};
const send = () => {
  clearTimeout(timer);
  timer = null;
  sent = performance.now();
  const text = value();
  if (text !== props.value) props.value = text;  // a new value fires the change event
};
const sendSoon = () => {  // throttled: the newest points at most every THROTTLE_MS
  const wait = THROTTLE_MS - (performance.now() - sent);
  if (wait <= 0) send();
  else if (timer === null) timer = setTimeout(send, wait);
};

const trace = (stroke) => {
  context.beginPath();
  context.moveTo(stroke[0][0], stroke[0][1]);
  for (const [x, y] of stroke.length > 1 ? stroke.slice(1) : stroke) context.lineTo(x, y);
  context.stroke();
};
const redraw = () => {
  context.setTransform(1, 0, 0, 1, 0, 0);
  context.fillStyle = 'white';
  context.fillRect(0, 0, canvas.width, canvas.height);
  const scale = canvas.width / WIDTH;
  context.setTransform(scale, 0, 0, scale, 0, 0);
  Object.assign(context, {strokeStyle: 'black', lineWidth: BRUSH, lineCap: 'round', lineJoin: 'round'});
  for (const stroke of current ? [...strokes, current] : strokes) trace(stroke);
};
const layout = () => {
  const css = canvas.getBoundingClientRect().width || canvas.parentElement.clientWidth;
  if (!css) return;
  height = css < SQUARE_BELOW ? WIDTH : WIDE_HEIGHT;
  canvas.style.height = (css * height / WIDTH) + 'px';
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(css * ratio);
  canvas.height = Math.round(css * ratio * height / WIDTH);
  redraw();
};

const at = (event) => {
  const box = canvas.getBoundingClientRect();
  return [Math.round((event.clientX - box.left) * WIDTH / box.width),
          Math.round((event.clientY - box.top) * WIDTH / box.width)];
};
canvas.addEventListener('pointerdown', (event) => {
  if (pointer !== null || (event.pointerType === 'mouse' && event.button !== 0)) return;
  event.preventDefault();
  pointer = event.pointerId;
  canvas.setPointerCapture(pointer);
  current = [at(event)];
  redraw();
  sendSoon();
});
canvas.addEventListener('pointermove', (event) => {
  if (event.pointerId !== pointer) return;
  event.preventDefault();
  const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const move of moves.length ? moves : [event]) {
    const point = at(move), last = current[current.length - 1];
    if (point[0] === last[0] && point[1] === last[1]) continue;
    current.push(point);
    context.beginPath();
    context.moveTo(last[0], last[1]);
    context.lineTo(point[0], point[1]);
    context.stroke();
  }
  sendSoon();
});
const lift = (event) => {  // every stroke counts, however it ends
  if (event.pointerId !== pointer) return;
  strokes.push(current);
  current = null;
  pointer = null;
  send();
};
for (const name of ['pointerup', 'pointercancel', 'lostpointercapture']) canvas.addEventListener(name, lift);
element.querySelector('.pad-undo').addEventListener('click', () => { strokes.pop(); redraw(); send(); });
element.querySelector('.pad-clear').addEventListener('click', () => { strokes = []; redraw(); send(); });
new ResizeObserver(layout).observe(canvas.parentElement);
layout();
""" % {"width": PAD_WIDTH, "height": PAD_HEIGHT, "square_below": SQUARE_BELOW, "brush_share": BRUSH_SHARE,
       "throttle_ms": THROTTLE_MS}


def stroke_pad(label: str, **kwargs: Any) -> gr.HTML:
    """The pad, empty (value ""), titled `label`; `kwargs` go to `gr.HTML` (elem_id, ...)."""
    return gr.HTML(value="", label=label, html_template=PAD_HTML, css_template=PAD_CSS, js_on_load=PAD_JS,
                   apply_default_css=False, padding=False, container=False, **kwargs)
