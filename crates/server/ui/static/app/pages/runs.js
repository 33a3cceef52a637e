// Training runs: the table (chosen hyperparameters and metrics as sortable columns), a run's
// page with a chart per metric, and runs compared side by side with their metrics overlaid.
import { Component, html } from "../html.js";
import { allRunSummaries, api, query } from "../api.js";
import { AxisChoice, Chart, byMetric, loadSeries } from "../chart.js";
import { Fields, Json, Load, Status, Table, fmt, runLabel } from "../widgets.js";

const DEFAULT_COLUMNS = 4;
const MAX_COMPARED = 10;

const keysOf = (summaries, part) => [...new Set(summaries.flatMap((s) => Object.keys(s[part])))].sort();

/** Runs as a table; `selectable` adds the boxes that pick runs to compare. */
export class RunTable extends Component {
  constructor(props) {
    super(props);
    const params = keysOf(props.summaries, "hyperparameters");
    const metrics = keysOf(props.summaries, "latest_metrics");
    this.state = {
      params: new Set(params.slice(0, DEFAULT_COLUMNS)),
      metrics: new Set(metrics.slice(0, DEFAULT_COLUMNS)),
      selected: new Set(),
    };
  }

  toggle(part, key) {
    this.setState((s) => {
      const next = new Set(s[part]);
      next.has(key) ? next.delete(key) : next.add(key);
      return { [part]: next };
    });
  }

  render({ summaries, versionName = {}, selectable = false }, { params, metrics, selected }) {
    if (!summaries.length) return html`<p class="empty">No training runs recorded.</p>`;
    const allParams = keysOf(summaries, "hyperparameters");
    const allMetrics = keysOf(summaries, "latest_metrics");
    const columns = [
      ...(selectable
        ? [{
            label: html`<span class="visually-hidden">Compare</span>`,
            cell: (s) => html`<input type="checkbox" aria-label=${`compare ${runLabel(s.run)}`}
              checked=${selected.has(s.run.id)} onChange=${() => this.toggle("selected", s.run.id)} />`,
          }]
        : []),
      { label: "Run", value: (s) => s.run.id, cell: (s) => html`<a href=${`#/runs/${s.run.id}`}>${runLabel(s.run)}</a>` },
      { label: "Status", value: (s) => s.run.status, cell: (s) => html`<${Status} value=${s.run.status} />` },
      {
        label: "Version",
        value: (s) => versionName[s.run.model_version_id] ?? s.run.model_version_id,
        cell: (s) => {
          const id = s.run.model_version_id;
          if (id === null || id === undefined) return "—";
          return html`<a href=${`#/versions/${id}`} title="its model's page">${versionName[id] ?? `#${id}`}</a>`;
        },
      },
      { label: "Started", value: (s) => s.run.started_at, cell: (s) => fmt.date(s.run.started_at) },
      { label: "Duration", value: (s) => s.run.duration_seconds, cell: (s) => fmt.duration(s.run.duration_seconds), numeric: true },
      { label: "Final loss", value: (s) => s.run.final_loss, numeric: true },
      ...allParams.filter((p) => params.has(p)).map((p) => ({ label: p, value: (s) => s.hyperparameters[p], numeric: true })),
      ...allMetrics.filter((m) => metrics.has(m)).map((m) => ({
        label: html`${m} <span class="meta">(last)</span>`,
        value: (s) => s.latest_metrics[m]?.metric_value,
        numeric: true,
      })),
    ];
    const compare = [...selected];
    const chooser = (title, part, keys, chosen) =>
      keys.length > 0 &&
      html`<fieldset><legend>${title}</legend>
        ${keys.map((k) => html`<label><input type="checkbox" checked=${chosen.has(k)} onChange=${() => this.toggle(part, k)} /> ${k}</label>`)}
      </fieldset>`;
    return html`<div class="run-table">
      <div class="toolbar">
        <details class="columns">
          <summary>Columns</summary>
          ${chooser("Hyperparameters", "params", allParams, params)}
          ${chooser("Metrics (last value)", "metrics", allMetrics, metrics)}
        </details>
        ${selectable && html`<button type="button" class="compare" disabled=${compare.length < 2 || compare.length > MAX_COMPARED}
            onClick=${() => { location.hash = `#/compare?runs=${compare.join(",")}`; }}>
          Compare selected (${compare.length})
        </button>`}
      </div>
      <${Table} label="Training runs" rows=${summaries} sort=${selectable ? 1 : 0} desc=${true} columns=${columns} />
    </div>`;
  }
}

export const RunsPage = () =>
  html`<h1>Training runs</h1>
    <p class="hint">Pick 2 to ${MAX_COMPARED} runs to compare their metrics; click a heading to sort.</p>
    <${Load} from=${allRunSummaries} render=${(summaries) => html`<${RunTable} summaries=${summaries} selectable=${true} />`} />`;

/** The run's summary with the names of its model, version and dataset. */
function loadRun(id) {
  return api(`/runs/summaries?ids=${id}`).then(async ([summary]) => {
    if (!summary) throw new Error(`There is no training run ${id}.`);
    const { model_version_id: versionId, dataset_id: datasetId } = summary.run;
    const optional = (path) => api(path).catch(() => null);
    const [version, dataset] = await Promise.all([
      versionId != null ? optional(`/versions/${versionId}`) : null,
      datasetId != null ? optional(`/datasets/${datasetId}`) : null,
    ]);
    const model = version ? await optional(`/models/${version.model_id}`) : null;
    return { summary, version, model, dataset };
  });
}

const setAxis = (path, params) => (axis) => {
  const next = new URLSearchParams(params);
  next.set("x", axis);
  location.hash = `#${path}?${next}`;
};

/** One chart per metric; each split (or run and split) a line. */
const Charts = ({ groups, axis, label }) => {
  const names = Object.keys(groups);
  if (!names.length) return html`<p class="empty">No metrics logged.</p>`;
  return html`<div class="charts">
    ${names.map((name) => html`<${Chart} key=${name} title=${name} axis=${axis}
        lines=${groups[name].map((s) => ({ label: label(s), x: s.x, y: s.y, total: s.total }))} />`)}
  </div>`;
};

export class RunPage extends Component {
  constructor(props) {
    super(props);
    // Both at once: the charts do not wait for the run's fields (a page per mount).
    this.axis = props.params.get("x") ?? "step";
    this.run = loadRun(props.id);
    this.series = loadSeries(props.id, this.axis);
    this.series.catch(() => {}); // shown by its loader; unseen if the run failed first
  }

  render({ id, params }) {
    const axis = this.axis;
    return html`<${Load} from=${() => this.run} render=${({ summary, version, model, dataset }) => {
    const { run } = summary;
    return html`<h1><span class="kind">Run</span> ${runLabel(run)} <${Status} value=${run.status} /></h1>
      <${Fields} items=${[
        ["Model", model ? html`<a href=${`#/models/${model.id}`}>${model.name}</a>` : null],
        ["Version", version?.version ?? run.model_version_id],
        ["Dataset", dataset ? html`<a href=${`#/datasets/${dataset.id}`}>${dataset.name}</a>` : null],
        ["Started", fmt.date(run.started_at)],
        ["Completed", fmt.date(run.completed_at)],
        ["Duration", fmt.duration(run.duration_seconds)],
        ["Final loss", fmt.number(run.final_loss)],
        ["Best metric", fmt.number(run.best_metric_value)],
        ["Artifacts", run.artifacts == null ? undefined : html`<${Json} value=${run.artifacts} />`],
      ]} />
      <div class="two-columns">
        <div>
          <h2>Hyperparameters</h2>
          <${Table} label="Hyperparameters" rows=${Object.entries(summary.hyperparameters)} empty="No hyperparameters logged."
            sort=${0} columns=${[{ label: "Name", value: ([k]) => k }, { label: "Value", value: ([, v]) => v }]} />
        </div>
        <div>
          <h2>Tags</h2>
          <${Table} label="Tags" rows=${Object.entries(summary.tags)} empty="No tags."
            sort=${0} columns=${[{ label: "Key", value: ([k]) => k }, { label: "Value", value: ([, v]) => v }]} />
        </div>
      </div>
      <section aria-labelledby="metrics-title">
        <h2 id="metrics-title">Metrics</h2>
        <${AxisChoice} value=${axis} onChange=${setAxis(`/runs/${id}`, params)} />
        <${Load} from=${() => this.series} render=${(series) => html`<${Charts}
          groups=${byMetric(series)} axis=${axis} label=${(s) => s.split} />`} />
      </section>`;
    }} />`;
  }
}

function loadComparison(ids, axis) {
  return Promise.all([api(`/runs/summaries${query({ ids: ids.join(",") })}`), ...ids.map((id) => loadSeries(id, axis))]);
}

/** Rows of fields, a column per run; rows whose values differ are marked. */
export const SideBySide = ({ summaries, headings }) => {
  const row = (label, value, format = fmt.value) => {
    const values = summaries.map(value);
    const differs = new Set(values.map((v) => JSON.stringify(v ?? null))).size > 1;
    return html`<tr class=${differs ? "differs" : ""}>
      <th scope="row">${label}</th>${values.map((v) => html`<td class="num">${format(v)}</td>`)}
    </tr>`;
  };
  const group = (title) => html`<tr class="group"><td colspan=${summaries.length + 1}>${title}</td></tr>`;
  const params = keysOf(summaries, "hyperparameters");
  const metrics = keysOf(summaries, "latest_metrics");
  return html`<div class="table-wrap" role="region" aria-label="Runs side by side" tabindex="0">
    <table class="side-by-side">
      <thead><tr><td></td>${summaries.map((s, i) => html`<th scope="col">${headings ? headings[i] : html`<a href=${`#/runs/${s.run.id}`}>${runLabel(s.run)}</a>`}</th>`)}</tr></thead>
      <tbody>
        ${row("Status", (s) => s.run.status)}
        ${row("Duration", (s) => s.run.duration_seconds, fmt.duration)}
        ${row("Final loss", (s) => s.run.final_loss)}
        ${row("Best metric", (s) => s.run.best_metric_value)}
        ${params.length > 0 && group("Hyperparameters")}
        ${params.map((p) => row(p, (s) => s.hyperparameters[p]))}
        ${metrics.length > 0 && group("Metrics (last value)")}
        ${metrics.map((m) => row(m, (s) => s.latest_metrics[m]?.metric_value))}
      </tbody>
    </table>
  </div>`;
};

export const ComparePage = ({ params }) => {
  const ids = [...new Set((params.get("runs") ?? "").split(",").filter((v) => /^\d+$/.test(v)))];
  if (ids.length < 2 || ids.length > MAX_COMPARED) {
    return html`<h1>Compare runs</h1><p class="error" role="alert">Pick 2 to ${MAX_COMPARED} runs on the <a href="#/runs">runs page</a>.</p>`;
  }
  const axis = params.get("x") ?? "step";
  return html`<h1>Compare ${ids.length} runs</h1>
    <${Load} from=${() => loadComparison(ids, axis)} render=${([summaries, ...series]) => {
      const names = Object.fromEntries(summaries.map((s) => [s.run.id, runLabel(s.run)]));
      const splits = new Set(series.flat().map((s) => s.split));
      // Every run's lines on one chart per metric: "run · split" when runs log several splits.
      const tagged = series.flatMap((list, i) => list.map((s) => ({ ...s, run: names[ids[i]] ?? `run ${ids[i]}` })));
      return html`<${SideBySide} summaries=${summaries} />
        <h2>Metrics</h2>
        <${AxisChoice} value=${axis} onChange=${setAxis("/compare", params)} />
        <${Charts} groups=${byMetric(tagged)} axis=${axis} label=${(s) => (splits.size > 1 ? `${s.run} · ${s.split}` : s.run)} />`;
    }} />`;
};
