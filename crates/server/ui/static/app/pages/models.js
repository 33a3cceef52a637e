// Models: the list with filters, and a model's page with its versions, runs and predictions.
import { Component, html } from "../html.js";
import { allRunSummaries, api } from "../api.js";
import { Fields, Json, Load, Select, Table, distinct, fmt } from "../widgets.js";
import { RunTable } from "./runs.js";

export class ModelsPage extends Component {
  state = { framework: "", task_type: "", text: "" };

  render(_, filters) {
    const set = (key) => (e) => this.setState({ [key]: e.target.value });
    return html`<h1>Models</h1>
      <${Load} from=${() => api("/models")} render=${(models) => {
        const shown = models.filter(
          (m) =>
            (!filters.framework || m.framework === filters.framework) &&
            (!filters.task_type || m.task_type === filters.task_type) &&
            (!filters.text || `${m.name} ${m.description ?? ""}`.toLowerCase().includes(filters.text.toLowerCase())),
        );
        return html`<div class="filters">
            <label class="filter">Name or description
              <input type="search" value=${filters.text} onInput=${set("text")} />
            </label>
            <${Select} label="Framework" name="framework" options=${distinct(models, (m) => m.framework)} value=${filters.framework} onChange=${set("framework")} />
            <${Select} label="Task type" name="task_type" options=${distinct(models, (m) => m.task_type)} value=${filters.task_type} onChange=${set("task_type")} />
          </div>
          <p class="count">${shown.length} of ${models.length} models</p>
          <${Table} label="Models" rows=${shown} sort=${0} columns=${[
            { label: "Name", value: (m) => m.name, cell: (m) => html`<a href=${`#/models/${m.id}`}>${m.name}</a>` },
            { label: "Architecture", value: (m) => m.architecture },
            { label: "Framework", value: (m) => m.framework },
            { label: "Task type", value: (m) => m.task_type },
            { label: "Description", value: (m) => m.description },
            { label: "Updated", value: (m) => m.updated_at, cell: (m) => fmt.date(m.updated_at) },
          ]} />`;
      }} />`;
  }
}

function loadModel(id) {
  return Promise.all([api(`/models/${id}`), api(`/models/${id}/versions`), allRunSummaries()]).then(
    ([model, versions, summaries]) => {
      const ids = new Set(versions.map((v) => v.id));
      const runs = summaries.filter((s) => ids.has(s.run.model_version_id));
      const predictions = Promise.all(versions.map((v) => api(`/versions/${v.id}/predictions?limit=20`)));
      return predictions.then((lists) => ({
        model,
        versions,
        runs,
        predictions: lists.flat().sort((a, b) => b.timestamp.localeCompare(a.timestamp)).slice(0, 50),
      }));
    },
  );
}

export const ModelPage = ({ id }) =>
  html`<${Load} from=${() => loadModel(id)} render=${({ model, versions, runs, predictions }) => {
    const versionName = Object.fromEntries(versions.map((v) => [v.id, v.version]));
    return html`<h1><span class="kind">Model</span> ${model.name}</h1>
      ${model.description && html`<p class="lead">${model.description}</p>`}
      <${Fields} items=${[
        ["Architecture", model.architecture],
        ["Framework", model.framework],
        ["Task type", model.task_type],
        ["Input shape", html`<${Json} value=${model.input_shape} />`],
        ["Output shape", html`<${Json} value=${model.output_shape} />`],
        ["Created", fmt.date(model.created_at)],
        ["Updated", fmt.date(model.updated_at)],
      ]} />
      <h2>Versions</h2>
      <${Table} label="Versions" rows=${versions} columns=${[
        { label: "Version", value: (v) => v.version },
        { label: "Status", value: (v) => v.status },
        { label: "Checkpoint", value: (v) => v.checkpoint_path, cell: (v) => (v.checkpoint_path ? html`<code>${v.checkpoint_path}</code>` : "—") },
        { label: "Config", cell: (v) => html`<${Json} value=${v.config} />` },
        { label: "Created", value: (v) => v.created_at, cell: (v) => fmt.date(v.created_at) },
      ]} />
      <h2>Training runs</h2>
      <${RunTable} summaries=${runs} versionName=${versionName} />
      <h2>Latest predictions</h2>
      <${Table} label="Predictions" rows=${predictions} empty="No predictions logged." columns=${[
        { label: "Id", value: (p) => p.id, numeric: true },
        { label: "Version", value: (p) => versionName[p.model_version_id] },
        { label: "Input", cell: (p) => html`<code>${fmt.value(p.input_data)}</code>` },
        { label: "Output", cell: (p) => html`<code>${fmt.value(p.output_data)}</code>` },
        { label: "Confidence", value: (p) => p.confidence, numeric: true },
        { label: "Time (ms)", value: (p) => p.inference_time_ms, numeric: true },
        { label: "At", value: (p) => p.timestamp, cell: (p) => fmt.date(p.timestamp) },
      ]} />`;
  }} />`;

/** A model version has no page of its own: its model's page lists it. */
export const VersionPage = ({ id }) =>
  html`<${Load} from=${() => api(`/versions/${id}`)} render=${(version) => {
    location.replace(`#/models/${version.model_id}`);
    return html`<p class="loading">Opening model ${version.model_id}…</p>`;
  }} />`;
