// What every page is made of: a loader, a sortable table, field lists, formatting.
import { Component, html } from "./html.js";

export const fmt = {
  number(value, digits = 4) {
    if (value === null || value === undefined) return "—";
    if (typeof value !== "number") return String(value);
    if (Number.isInteger(value)) return value.toLocaleString("en");
    const size = Math.abs(value);
    if (size !== 0 && (size < 1e-3 || size >= 1e6)) return value.toExponential(3);
    return value.toFixed(digits).replace(/\.?0+$/, "");
  },
  duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min ${String(Math.round(seconds % 60)).padStart(2, "0")} s`;
    return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
  },
  date(iso) {
    if (!iso) return "—";
    return new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });
  },
  bytes(n) {
    if (n === null || n === undefined) return "—";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) [n, i] = [n / 1024, i + 1];
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
  },
  /** A hyperparameter or JSON value in one line. */
  value(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "number") return fmt.number(value);
    if (typeof value === "string") return value;
    return JSON.stringify(value);
  },
};

/** Runs `from()` (a promise) and renders `render(data, reload)`; `deps` changing reloads. */
export class Load extends Component {
  state = { data: undefined, error: undefined };

  componentDidMount() {
    this.run();
  }

  componentDidUpdate(previous) {
    if (previous.deps !== this.props.deps) this.run();
  }

  run() {
    const ticket = (this.ticket = {});
    this.props.from().then(
      (data) => this.ticket === ticket && this.setState({ data, error: undefined }),
      (error) => this.ticket === ticket && this.setState({ error }),
    );
  }

  render({ render }, { data, error }) {
    if (error) return html`<p class="error" role="alert">${error.message}</p>`;
    if (data === undefined) return html`<p class="loading" aria-busy="true">Loading…</p>`;
    return render(data, () => this.run());
  }
}

function compare(a, b) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), "en", { numeric: true });
}

/**
 * A table whose columns sort on a click (or Enter) on their heading.
 * `columns`: [{ label, value: row => what it sorts by, cell?: row => content, numeric? }].
 */
export class Table extends Component {
  state = { by: this.props.sort ?? null, desc: this.props.desc ?? false };

  sortBy(index) {
    this.setState((s) => ({ by: index, desc: s.by === index ? !s.desc : false }));
  }

  render({ columns, rows, label, empty = "Nothing recorded yet." }, { by, desc }) {
    if (!rows.length) return html`<p class="empty">${empty}</p>`;
    let sorted = rows;
    const key = by !== null && columns[by]?.value;
    if (key) {
      // Missing values last, whichever the direction.
      sorted = [...rows].sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1;
        if (y === null || y === undefined) return -1;
        return compare(x, y) * (desc ? -1 : 1);
      });
    }
    const heading = (column, i) => {
      const sort = by === i ? (desc ? "descending" : "ascending") : undefined;
      const content = column.value
        ? html`<button type="button" class="sort" onClick=${() => this.sortBy(i)}>
            ${column.label}<span aria-hidden="true">${sort ? (desc ? " ▼" : " ▲") : ""}</span>
          </button>`
        : column.label;
      return html`<th scope="col" class=${column.numeric ? "num" : ""} aria-sort=${sort}>${content}</th>`;
    };
    return html`<div class="table-wrap" role="region" aria-label=${label} tabindex="0">
      <table>
        <thead><tr>${columns.map(heading)}</tr></thead>
        <tbody>
          ${sorted.map(
            (row) => html`<tr>
              ${columns.map(
                (c) => html`<td class=${c.numeric ? "num" : ""}>${c.cell ? c.cell(row) : fmt.value(c.value(row))}</td>`,
              )}
            </tr>`,
          )}
        </tbody>
      </table>
    </div>`;
  }
}

/** A definition list of [label, content] pairs; `undefined` content leaves the pair out. */
export const Fields = ({ items }) =>
  html`<dl class="fields">
    ${items.filter(([, v]) => v !== undefined).map(([k, v]) => html`<dt>${k}</dt><dd>${v ?? "—"}</dd>`)}
  </dl>`;

/** JSON, pretty-printed (configurations, shapes, inputs and outputs). */
export const Json = ({ value }) =>
  value === null || value === undefined ? "—" : html`<pre class="json">${JSON.stringify(value, null, 2)}</pre>`;

export const runLabel = (run) => run.run_name || `run ${run.id}`;

/** A status as a coloured badge (`completed`, `running`, `failed`, ...). */
export const Status = ({ value }) => html`<span class=${`status status-${value}`}>${value}</span>`;

/** The options of a filter: the distinct non-empty values, sorted. */
export const distinct = (rows, key) => [...new Set(rows.map(key).filter((v) => v))].sort();

/** A labelled `<select>` whose first option means "any". */
export const Select = ({ label, name, options, value, onChange }) =>
  html`<label class="filter">${label}
    <select name=${name} value=${value ?? ""} onChange=${onChange}>
      <option value="">any</option>
      ${options.map((o) => html`<option value=${o}>${o}</option>`)}
    </select>
  </label>`;
