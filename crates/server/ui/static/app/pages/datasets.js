// Datasets: the list, and a dataset's page with the runs trained on it.
import { html } from "../html.js";
import { allRunSummaries, api } from "../api.js";
import { Fields, Json, Load, Table, fmt } from "../widgets.js";
import { RunTable } from "./runs.js";

export const DatasetsPage = () =>
  html`<h1>Datasets</h1>
    <${Load} from=${() => api("/datasets")} render=${(datasets) => html`<${Table} label="Datasets"
      rows=${datasets} sort=${0} empty="No datasets recorded." columns=${[
        { label: "Name", value: (d) => d.name, cell: (d) => html`<a href=${`#/datasets/${d.id}`}>${d.name}</a>` },
        { label: "Format", value: (d) => d.format },
        { label: "Samples", value: (d) => d.num_samples, numeric: true },
        { label: "Size", value: (d) => d.size_bytes, cell: (d) => fmt.bytes(d.size_bytes), numeric: true },
        { label: "Source", value: (d) => d.source_path, cell: (d) => (d.source_path ? html`<code>${d.source_path}</code>` : "—") },
        { label: "Description", value: (d) => d.description },
      ]} />`} />`;

export const DatasetPage = ({ id }) =>
  html`<${Load} from=${() => Promise.all([api(`/datasets/${id}`), allRunSummaries()])} render=${([dataset, summaries]) => html`
    <h1><span class="kind">Dataset</span> ${dataset.name}</h1>
    ${dataset.description && html`<p class="lead">${dataset.description}</p>`}
    <${Fields} items=${[
      ["Format", dataset.format],
      ["Samples", fmt.number(dataset.num_samples)],
      ["Size", fmt.bytes(dataset.size_bytes)],
      ["Source", dataset.source_path ? html`<code>${dataset.source_path}</code>` : null],
      ["Splits", html`<${Json} value=${dataset.split_info} />`],
      ["Preprocessing", html`<${Json} value=${dataset.preprocessing} />`],
      ["Created", fmt.date(dataset.created_at)],
    ]} />
    <h2>Runs trained on it</h2>
    <${RunTable} summaries=${summaries.filter((s) => s.run.dataset_id === dataset.id)} />`} />`;
