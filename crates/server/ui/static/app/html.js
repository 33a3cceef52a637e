// Preact components written as htm tagged templates: no build step, the browser loads the
// vendored modules as they are.
import { Component, h, render } from "../vendor/preact/preact.mjs";
import htm from "../vendor/htm/htm.mjs";

export const html = htm.bind(h);
export { Component, render };
