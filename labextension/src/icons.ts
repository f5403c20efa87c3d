import { LabIcon } from '@jupyterlab/ui-components';

// Outline icons: the Lab's theme colours every `.jp-icon3[fill]` and `.jp-icon3[stroke]`, so the themed group
// carries only a stroke, and `fill="none"` sits on a group around it (else the outline is filled solid).

const globe = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g fill="none"><g class="jp-icon3" stroke="#616161" stroke-width="1.6"><circle cx="12" cy="12" r="9"/>
<ellipse cx="12" cy="12" rx="4" ry="9"/><path d="M3 12h18M5 7h14M5 17h14"/></g></g></svg>`;

const nodes = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><circle cx="12" cy="5" r="3"/><circle cx="5" cy="18" r="3"/>
<circle cx="19" cy="18" r="3"/><path d="M11 7h2v4l5 5-1.4 1.4L12 12.8l-4.6 4.6L6 16l5-5z"/></g></svg>`;

const recipe = `<svg xmlns="http://www.w3.org/2000/svg" width="52" height="52" viewBox="0 0 24 24">
<g fill="none" stroke="#3454d1" stroke-width="1.4"><rect x="4" y="3" width="16" height="18" rx="2"/>
<path d="M8 8h8M8 12h8M8 16h5"/><circle cx="17" cy="17" r="3" fill="#17bebb" stroke="none"/></g></svg>`;

const mapSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g fill="none"><g class="jp-icon3" stroke="#616161" stroke-width="1.6" stroke-linejoin="round">
<path d="M3 6l6-2 6 2 6-2v14l-6 2-6-2-6 2z"/><path d="M9 4v14M15 6v14"/></g></g></svg>`;

const play = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><path d="M3 4h8v2H3zM3 9h6v2H3zM3 14h5v2H3zM3 19h8v2H3z"/>
<path d="M13 7v12l9-6z"/></g></svg>`;

export const stepsIcon = new LabIcon({ name: 'ai4geo:steps', svgstr: play });

const citySvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g fill="none"><g class="jp-icon3" stroke="#616161" stroke-width="1.6" stroke-linejoin="round">
<path d="M3 20V10l5-3 5 3v10z"/><path d="M13 20V6l4-3 4 3v14z"/><path d="M2 20h20"/></g></g></svg>`;

export const cityIcon = new LabIcon({ name: 'ai4geo:city3d', svgstr: citySvg });
export const mapIcon = new LabIcon({ name: 'ai4geo:map', svgstr: mapSvg });
export const searchIcon = new LabIcon({ name: 'ai4geo:search', svgstr: globe });
export const clusterIcon = new LabIcon({ name: 'ai4geo:cluster', svgstr: nodes });
export const recipeIcon = new LabIcon({ name: 'ai4geo:recipe', svgstr: recipe });
