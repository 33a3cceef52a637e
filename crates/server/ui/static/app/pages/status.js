// Status: what the server holds, its index per collection, the embedder, failed vector
// writes, and a reindex for tokens that may write.
import { Component, html } from "../html.js";
import { api } from "../api.js";
import { Fields, Load, Table, fmt } from "../widgets.js";

const COUNTS = [
  ["models", "Models"],
  ["model_versions", "Model versions"],
  ["datasets", "Datasets"],
  ["training_runs", "Training runs"],
  ["completed_runs", "Completed runs"],
  ["hyperparameters", "Hyperparameters"],
  ["metrics", "Metric points"],
  ["experiments", "Experiments"],
  ["experiment_runs", "Experiment runs"],
  ["predictions", "Predictions"],
];

const embedder = (e) => (e ? `${e.kind} · ${e.model} · ${e.dim} dimensions` : "—");

class Reindex extends Component {
  state = { busy: false, report: null, error: null };

  run() {
    this.setState({ busy: true, report: null, error: null });
    api("/reindex", { method: "POST" }).then(
      (report) => {
        this.setState({ busy: false, report });
        this.props.onDone();
      },
      (error) => this.setState({ busy: false, error }),
    );
  }

  render(_, { busy, report, error }) {
    return html`<div class="reindex">
      <button type="button" disabled=${busy} onClick=${() => this.run()}>${busy ? "Reindexing…" : "Reindex"}</button>
      <span class="hint">Re-embeds every model, dataset and prediction with the embedder in use.</span>
      ${report && html`<p role="status">Reindexed ${report.models} models, ${report.datasets} datasets and ${report.predictions} predictions.</p>`}
      ${error && html`<p class="error" role="alert">${error.message}</p>`}
    </div>`;
  }
}

export const StatusPage = () =>
  html`<h1>Status</h1>
    <${Load} from=${() => Promise.all([api("/info"), api("/stats")])} render=${([info, stats], reload) => {
      const index = stats.index;
      return html`<div class="two-columns">
          <section aria-labelledby="store-title">
            <h2 id="store-title">Store</h2>
            <${Fields} items=${[
              ["Backend", info.backend],
              ["Location", html`<code>${info.location}</code>`],
              ["Server version", info.version],
              ["Your access", info.access],
            ]} />
          </section>
          <section aria-labelledby="counts-title">
            <h2 id="counts-title">Records</h2>
            <${Fields} items=${COUNTS.map(([key, label]) => [label, fmt.number(stats[key])])} />
          </section>
        </div>
        <section aria-labelledby="index-title">
          <h2 id="index-title">Search index</h2>
          ${index
            ? html`<${Fields} items=${[
                ["Embedder", embedder(index.embedder)],
                ["Index built with", embedder(index.index_embedder)],
                ["Failed vector writes", html`<span class=${index.failed_vector_writes ? "warn" : ""}>${fmt.number(index.failed_vector_writes)}</span>`],
                ["Last repair", index.last_repair ? `${fmt.date(index.last_repair.at)}: ${index.last_repair.added} added, ${index.last_repair.removed} removed` : "none since start"],
              ]} />
              <${Table} label="Collections" rows=${index.collections} columns=${[
                { label: "Collection", value: (c) => c.collection },
                { label: "Index", value: (c) => c.index_kind },
                { label: "Metric", value: (c) => c.metric },
                { label: "Trained", value: (c) => (c.trained ? "yes" : "no") },
                { label: "Vectors", value: (c) => c.vectors, numeric: true },
                { label: "Lists", value: (c) => c.nlist, numeric: true },
                { label: "Probed", value: (c) => c.nprobe, numeric: true },
              ]} />
              ${info.access === "read-write" && html`<${Reindex} onDone=${reload} />`}`
            : html`<p class="empty">This server has no search index configured.</p>`}
        </section>`;
    }} />`;
