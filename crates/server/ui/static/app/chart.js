// Line charts with uPlot: canvas drawing, fast for the thousands of points the server sends
// after downsampling (it keeps about one point per pixel of the chart's width).
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { Component, html } from "./html.js";
import { api, query } from "./api.js";

const HEIGHT = 260;
const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f", "#a16207", "#475569"];
const AXIS_LABEL = { step: "step", epoch: "epoch", time: "time" };

/** Points to ask the server for: about the width of a chart on this screen. */
export const chartPoints = () => Math.min(4000, Math.max(200, Math.round(window.innerWidth)));

/** A run's series (one per metric and split) on `axis`, downsampled for this screen. */
export const loadSeries = (runId, axis) =>
  api(`/runs/${runId}/metrics/series${query({ x: axis, points: chartPoints() })}`).then((a) => a.series);

/** Series grouped by metric name: `{ name: [series, ...] }`, names sorted. */
export function byMetric(series) {
  const groups = {};
  for (const s of series) (groups[s.name] ??= []).push(s);
  return Object.fromEntries(Object.entries(groups).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * One metric's chart. `lines`: [{ label, x, y, total }], each x ascending; `axis`: step,
 * epoch or time. After each draw the chart's element carries what it drew (`data-drawn`,
 * `data-points`, `data-x-min`, `data-x-max`), which the browser tests read.
 */
export class Chart extends Component {
  componentDidMount() {
    this.draw();
    this.observer = new ResizeObserver(() => this.fit());
    this.observer.observe(this.element);
  }

  shouldComponentUpdate(next) {
    return next.lines !== this.props.lines || next.axis !== this.props.axis;
  }

  componentDidUpdate() {
    this.plot?.destroy();
    this.draw();
  }

  componentWillUnmount() {
    this.observer?.disconnect();
    this.plot?.destroy();
  }

  width() {
    return Math.max(200, this.element.clientWidth);
  }

  fit() {
    if (this.plot && Math.abs(this.plot.width - this.width()) > 1) {
      this.plot.setSize({ width: this.width(), height: HEIGHT });
    }
  }

  draw() {
    const { lines, axis } = this.props;
    const data = lines.length === 1 ? [lines[0].x, lines[0].y] : uPlot.join(lines.map((l) => [l.x, l.y]));
    const element = this.element;
    const drawn = lines.reduce((n, l) => n + l.x.length, 0);
    const options = {
      width: this.width(),
      height: HEIGHT,
      scales: { x: { time: axis === "time" } },
      axes: [{ label: AXIS_LABEL[axis] ?? axis }, { size: 60 }],
      legend: { live: true },
      series: [
        { label: AXIS_LABEL[axis] ?? axis },
        ...lines.map((l, i) => ({
          label: l.label,
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          spanGaps: true,
          points: { show: l.x.length < 60 },
        })),
      ],
      hooks: {
        draw: [
          (u) => {
            element.dataset.drawn = "true";
            element.dataset.points = String(drawn);
            element.dataset.xMin = String(u.scales.x.min);
            element.dataset.xMax = String(u.scales.x.max);
          },
        ],
      },
    };
    this.plot = new uPlot(options, data, element.querySelector(".plot"));
  }

  render({ title, lines }) {
    const logged = lines.map((l) => `${l.label}: ${l.total} points`).join("; ");
    return html`<figure class="chart" data-metric=${title} ref=${(e) => (this.element = e)}>
      <figcaption>${title}</figcaption>
      <div class="plot" role="img" aria-label=${`${title} — ${logged}`}></div>
    </figure>`;
  }
}

/** The x-axis choice, as radio buttons (keyboard: arrows). */
export const AxisChoice = ({ value, onChange }) =>
  html`<fieldset class="axis-choice">
    <legend>x axis</legend>
    ${["step", "epoch", "time"].map(
      (axis) => html`<label>
        <input type="radio" name="axis" value=${axis} checked=${value === axis} onChange=${() => onChange(axis)} />
        ${axis}
      </label>`,
    )}
  </fieldset>`;
