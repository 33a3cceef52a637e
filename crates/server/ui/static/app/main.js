// The aimdb web UI: a page per route of the URL's fragment (#/runs/3), each a client of
// the REST API. Served by `aimdb serve` at `/`.
import { Component, html, render } from "./html.js";
import { token } from "./api.js";
import { SearchPage } from "./pages/search.js";
import { ModelPage, ModelsPage, VersionPage } from "./pages/models.js";
import { ComparePage, RunPage, RunsPage } from "./pages/runs.js";
import { ExperimentPage, ExperimentsPage } from "./pages/experiments.js";
import { DatasetPage, DatasetsPage } from "./pages/datasets.js";
import { StatusPage } from "./pages/status.js";

const ROUTES = [
  [/^\/(search)?$/, (_, params) => html`<${SearchPage} params=${params} />`],
  [/^\/models$/, () => html`<${ModelsPage} />`],
  [/^\/models\/(\d+)$/, ([id]) => html`<${ModelPage} id=${id} />`],
  [/^\/runs$/, () => html`<${RunsPage} />`],
  [/^\/runs\/(\d+)$/, ([id], params) => html`<${RunPage} id=${id} params=${params} />`],
  [/^\/compare$/, (_, params) => html`<${ComparePage} params=${params} />`],
  [/^\/experiments$/, () => html`<${ExperimentsPage} />`],
  [/^\/experiments\/(\d+)$/, ([id]) => html`<${ExperimentPage} id=${id} />`],
  [/^\/datasets$/, () => html`<${DatasetsPage} />`],
  [/^\/datasets\/(\d+)$/, ([id]) => html`<${DatasetPage} id=${id} />`],
  [/^\/status$/, () => html`<${StatusPage} />`],
  [/^\/versions\/(\d+)$/, ([id]) => html`<${VersionPage} id=${id} />`],
];

const NAV = [
  ["/", "Search"],
  ["/models", "Models"],
  ["/runs", "Runs"],
  ["/experiments", "Experiments"],
  ["/datasets", "Datasets"],
  ["/status", "Status"],
];

function parse(hash) {
  const [path, search = ""] = (hash.replace(/^#/, "") || "/").split("?");
  return { path, params: new URLSearchParams(search) };
}

function page({ path, params }) {
  for (const [pattern, view] of ROUTES) {
    const match = pattern.exec(path);
    if (match) return view(match.slice(1), params);
  }
  return html`<h1>Not found</h1><p>No page at <code>${path}</code>. <a href="#/">Back to search</a>.</p>`;
}

/** Asked for when the server answers 401: tokens are configured and ours is missing or wrong. */
class TokenPrompt extends Component {
  submit(event) {
    event.preventDefault();
    token.set(new FormData(event.target).get("token").trim());
    this.props.onDone();
  }

  render({ message }) {
    return html`<section class="token-prompt" aria-labelledby="token-title">
      <h1 id="token-title">This server needs a token</h1>
      <p>${message}. Paste a token from the server's <code>AIMDB_SERVER_TOKENS</code> or
        <code>AIMDB_SERVER_READ_TOKENS</code>; it stays in this browser only.</p>
      <form onSubmit=${(e) => this.submit(e)}>
        <label for="token">Bearer token</label>
        <input id="token" name="token" type="password" autocomplete="off" required autofocus />
        <button type="submit">Continue</button>
      </form>
    </section>`;
  }
}

class App extends Component {
  state = { route: parse(location.hash), unauthorized: null, generation: 0 };

  componentDidMount() {
    window.addEventListener("hashchange", () => {
      this.setState({ route: parse(location.hash) });
      window.scrollTo(0, 0);
    });
    window.addEventListener("aimdb:unauthorized", (e) => this.setState({ unauthorized: e.detail }));
  }

  render(_, { route, unauthorized, generation }) {
    const current = (href) => (href === "/" ? route.path === "/" || route.path === "/search" : route.path.startsWith(href));
    const retry = () => this.setState((s) => ({ unauthorized: null, generation: s.generation + 1 }));
    return html`<header class="top">
        <a class="brand" href="#/">aimdb</a>
        <nav aria-label="Main">
          <ul>
            ${NAV.map(
              ([href, label]) => html`<li>
                <a href=${`#${href}`} aria-current=${current(href) ? "page" : undefined}>${label}</a>
              </li>`,
            )}
          </ul>
        </nav>
        ${token.get() && html`<button type="button" class="forget" onClick=${() => { token.set(null); retry(); }}>Forget token</button>`}
      </header>
      <main id="main" key=${`${location.hash}#${generation}`}>
        ${unauthorized ? html`<${TokenPrompt} message=${unauthorized} onDone=${retry} />` : page(route)}
      </main>`;
  }
}

render(html`<${App} />`, document.getElementById("app"));
