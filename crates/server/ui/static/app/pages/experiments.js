// Experiments: the list, and an experiment's runs with their variants side by side.
import { html } from "../html.js";
import { api, query } from "../api.js";
import { Fields, Json, Load, Status, Table, fmt, runLabel } from "../widgets.js";
import { SideBySide } from "./runs.js";

export const ExperimentsPage = () =>
  html`<h1>Experiments</h1>
    <${Load} from=${() => api("/experiments")} render=${(experiments) => html`<${Table} label="Experiments"
      rows=${experiments} sort=${0} desc=${true} empty="No experiments recorded." columns=${[
        { label: "Id", value: (e) => e.id, numeric: true },
        { label: "Name", value: (e) => e.name, cell: (e) => html`<a href=${`#/experiments/${e.id}`}>${e.name}</a>` },
        { label: "Status", value: (e) => e.status, cell: (e) => html`<${Status} value=${e.status} />` },
        { label: "Hypothesis", value: (e) => e.hypothesis },
        { label: "Created", value: (e) => e.created_at, cell: (e) => fmt.date(e.created_at) },
      ]} />`} />`;

function loadExperiment(id) {
  return Promise.all([api(`/experiments/${id}`), api(`/experiments/${id}/runs`)]).then(async ([experiment, links]) => {
    const ids = links.map((l) => l.training_run_id);
    const summaries = ids.length ? await api(`/runs/summaries${query({ ids: ids.join(",") })}`) : [];
    const byId = Object.fromEntries(summaries.map((s) => [s.run.id, s]));
    return { experiment, links: links.filter((l) => byId[l.training_run_id]), byId };
  });
}

export const ExperimentPage = ({ id }) =>
  html`<${Load} from=${() => loadExperiment(id)} render=${({ experiment, links, byId }) => {
    const summaries = links.map((l) => byId[l.training_run_id]);
    const headings = links.map((l) => html`<span class="variant">${l.variant_name ?? "—"}</span>
      <a href=${`#/runs/${l.training_run_id}`}>${runLabel(byId[l.training_run_id].run)}</a>
      ${l.notes && html`<span class="meta">${l.notes}</span>`}`);
    const ids = links.map((l) => l.training_run_id);
    return html`<h1><span class="kind">Experiment</span> ${experiment.name} <${Status} value=${experiment.status} /></h1>
      ${experiment.description && html`<p class="lead">${experiment.description}</p>`}
      <${Fields} items=${[
        ["Hypothesis", experiment.hypothesis],
        ["Created", fmt.date(experiment.created_at)],
        ["Completed", fmt.date(experiment.completed_at)],
        ["Results", experiment.results == null ? undefined : html`<${Json} value=${experiment.results} />`],
      ]} />
      <h2>Variants</h2>
      ${summaries.length
        ? html`<${SideBySide} summaries=${summaries} headings=${headings} />
          ${ids.length >= 2 && ids.length <= 10 && html`<p><a class="button" href=${`#/compare?runs=${ids.join(",")}`}>Compare their metrics</a></p>`}`
        : html`<p class="empty">No runs in this experiment yet.</p>`}`;
  }} />`;
