// The home page: one search box over models, datasets and predictions by meaning, with the
// most recent records below it when nothing is asked.
import { Component, html } from "../html.js";
import { api, query } from "../api.js";
import { Load, Select, Status, distinct, fmt, runLabel } from "../widgets.js";

const RECENT = 8;

/** The filters' choices: frameworks and task types of the models, formats of the datasets. */
const facets = () =>
  Promise.all([api("/models?limit=1000"), api("/datasets?limit=1000")]).then(([models, datasets]) => ({
    framework: distinct(models, (m) => m.framework),
    task_type: distinct(models, (m) => m.task_type),
    format: distinct(datasets, (d) => d.format),
  }));

export class SearchPage extends Component {
  submit(event) {
    event.preventDefault();
    const form = Object.fromEntries(new FormData(event.target));
    location.hash = `#/search${query(form)}`;
  }

  render({ params }) {
    const q = params.get("q") ?? "";
    const filters = { framework: params.get("framework"), task_type: params.get("task_type"), format: params.get("format") };
    return html`<h1 class="visually-hidden">Search</h1>
      <form class="search" role="search" onSubmit=${(e) => this.submit(e)}>
        <div class="search-box">
          <label for="q" class="visually-hidden">Search by meaning</label>
          <input id="q" name="q" type="search" value=${q} autofocus autocomplete="off"
            placeholder="Search by meaning, e.g. image recognition deep learning" />
          <button type="submit">Search</button>
        </div>
        <${Load} from=${facets} render=${(f) => html`<div class="filters">
            <${Select} label="Framework" name="framework" options=${f.framework} value=${filters.framework} />
            <${Select} label="Task type" name="task_type" options=${f.task_type} value=${filters.task_type} />
            <${Select} label="Dataset format" name="format" options=${f.format} value=${filters.format} />
          </div>`} />
      </form>
      ${q ? html`<${Results} q=${q} filters=${filters} />` : html`<${Recent} />`}`;
  }
}

const Score = ({ value }) =>
  html`<span class="score" title="similarity score (1 is identical)">
    <span class="score-bar" style=${`width: ${Math.round(value * 100)}%`}></span>
    <span class="score-value">${value.toFixed(3)}</span>
  </span>`;

const Hits = ({ title, hits, item }) =>
  html`<section class="hits" aria-labelledby=${`hits-${title}`}>
    <h2 id=${`hits-${title}`}>${title}</h2>
    ${hits.length ? html`<ol>${hits.map((hit) => html`<li class="hit">${item(hit)}<${Score} value=${hit.similarity_score} /></li>`)}</ol>`
      : html`<p class="empty">No ${title.toLowerCase()} match.</p>`}
  </section>`;

const Results = ({ q, filters }) => {
  const models = () => api(`/models/search${query({ q, n: 10, framework: filters.framework, task_type: filters.task_type })}`);
  const datasets = () => api(`/datasets/search${query({ q, n: 10, format: filters.format })}`);
  const predictions = () => api(`/predictions/search${query({ q, n: 10 })}`);
  return html`<div class="results">
    <${Load} from=${models} render=${(hits) => html`<${Hits} title="Models" hits=${hits} item=${(m) => html`<div>
        <a href=${`#/models/${m.id}`}>${m.name}</a>
        <span class="meta">${[m.architecture, m.framework, m.task_type].filter(Boolean).join(" · ")}</span>
        ${m.description && html`<p>${m.description}</p>`}
      </div>`} />`} />
    <${Load} from=${datasets} render=${(hits) => html`<${Hits} title="Datasets" hits=${hits} item=${(d) => html`<div>
        <a href=${`#/datasets/${d.id}`}>${d.name}</a>
        <span class="meta">${[d.format, d.num_samples && `${fmt.number(d.num_samples)} samples`].filter(Boolean).join(" · ")}</span>
        ${d.description && html`<p>${d.description}</p>`}
      </div>`} />`} />
    <${Load} from=${predictions} render=${(hits) => html`<${Hits} title="Predictions" hits=${hits} item=${(p) => html`<div>
        <a href=${`#/versions/${p.model_version_id}`}>Prediction ${p.id} of model version ${p.model_version_id}</a>
        <span class="meta">${p.confidence != null ? `confidence ${fmt.number(p.confidence, 3)}` : ""}</span>
        <p><code>${fmt.value(p.input_data)}</code> → <code>${fmt.value(p.output_data)}</code></p>
      </div>`} />`} />
  </div>`;
};

/** The last few records of each kind: ids grow with time, so the counts point at them. */
function recent() {
  return api("/stats").then((stats) => {
    const after = (count) => Math.max(0, count - RECENT);
    return Promise.all([
      api(`/models?after=${after(stats.models)}`),
      api(`/runs/summaries?after=${after(stats.training_runs)}`),
      api(`/datasets?after=${after(stats.datasets)}`),
    ]).then(([models, runs, datasets]) => ({ models: models.reverse(), runs: runs.reverse(), datasets: datasets.reverse() }));
  });
}

const Recent = () =>
  html`<${Load} from=${recent} render=${({ models, runs, datasets }) => html`<div class="recent">
      <section aria-labelledby="recent-models">
        <h2 id="recent-models">Recent models</h2>
        <ul>${models.map((m) => html`<li><a href=${`#/models/${m.id}`}>${m.name}</a> <span class="meta">${m.framework ?? ""}</span></li>`)}</ul>
        <a class="more" href="#/models">All models</a>
      </section>
      <section aria-labelledby="recent-runs">
        <h2 id="recent-runs">Recent runs</h2>
        <ul>${runs.map(({ run }) => html`<li><a href=${`#/runs/${run.id}`}>${runLabel(run)}</a> <${Status} value=${run.status} />
          <span class="meta">${run.final_loss != null ? `loss ${fmt.number(run.final_loss)}` : ""}</span></li>`)}</ul>
        <a class="more" href="#/runs">All runs</a>
      </section>
      <section aria-labelledby="recent-datasets">
        <h2 id="recent-datasets">Recent datasets</h2>
        <ul>${datasets.map((d) => html`<li><a href=${`#/datasets/${d.id}`}>${d.name}</a> <span class="meta">${d.format ?? ""}</span></li>`)}</ul>
        <a class="more" href="#/datasets">All datasets</a>
      </section>
    </div>`} />`;
