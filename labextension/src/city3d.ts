/**
 * The 3D view of a CityJSON file: buildings as lit, shaded meshes coloured by semantic surface, with a legend,
 * orbit/pan/zoom, a fit button, the LOD choice and the attributes of the building clicked.
 *
 * The file is read by the browser from Jupyter's own `files/` endpoint (the server's authentication applies and
 * the contents manager keeps the path inside the server root), not through a handler of ours: the browser has to
 * parse the whole document to build the meshes anyway, and `files/` sends the bytes as they are (the contents API
 * would wrap them in a JSON string, doubling the parse and the memory of a large city).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import {
  AmbientLight,
  Box3,
  BufferAttribute,
  BufferGeometry,
  Color,
  DirectionalLight,
  DoubleSide,
  Group,
  HemisphereLight,
  Mesh,
  MeshLambertMaterial,
  PerspectiveCamera,
  Raycaster,
  Scene,
  Sphere,
  Vector2,
  Vector3,
  WebGLRenderer
} from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import {
  CityJSONError,
  ICityModel,
  ILodMeshes,
  ISoup,
  lodMeshes,
  parseCityJSON,
  SURFACE_CLASSES,
  SurfaceClass
} from './cityjson';
import { h } from './dom';

/** The colour of each surface class (the legend shows them). */
export const SURFACE_COLORS: Record<SurfaceClass, string> = {
  roof: '#c8412f',
  wall: '#e3b448',
  ground: '#6b6f76',
  other: '#8fa3bf'
};
const SURFACE_LABELS: Record<SurfaceClass, string> = {
  roof: 'Roof',
  wall: 'Wall',
  ground: 'Ground',
  other: 'Other / no semantics'
};
const HIGHLIGHT = '#2fb8ff';
/** Attributes in metres, shown with their unit. */
const METRES = /^(measuredHeight|baseElevation|height|eave_height|ridge_height|roof_rmse_m|area_m2)$/;

/** The meshes of one LOD on the GPU. */
interface ILodScene {
  info: ILodMeshes;
  group: Group;
  meshes: Mesh[];
}

/** One line for any error reading or drawing a file. */
function describe(err: unknown): string {
  if (err instanceof CityJSONError) {
    return err.message;
  }
  const text = String((err as Error)?.message ?? err).split('\n')[0];
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function formatValue(key: string, value: unknown): string {
  if (typeof value === 'number') {
    if (METRES.test(key)) {
      return `${value.toFixed(2)} m`;
    }
    return Number.isInteger(value) ? String(value) : value.toFixed(Math.abs(value) >= 100 ? 1 : 3);
  }
  if (value === null || value === undefined) {
    return '—';
  }
  if (typeof value === 'object') {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 80)}…` : text;
  }
  return String(value);
}

export class City3DView extends Widget {
  private readonly canvasBox: HTMLElement;
  private readonly message: HTMLElement;
  private readonly status: HTMLElement;
  private readonly lodSelect: HTMLSelectElement;
  private readonly legend: HTMLElement;
  private readonly fitButton: HTMLButtonElement;
  private readonly pick: HTMLElement;
  private renderer: WebGLRenderer | null = null;
  private camera: PerspectiveCamera | null = null;
  private controls: OrbitControls | null = null;
  private readonly scene = new Scene();
  private readonly materials: Record<SurfaceClass, MeshLambertMaterial>;
  private readonly highlightMaterial: MeshLambertMaterial;
  private highlight: Mesh | null = null;
  private model: ICityModel | null = null;
  private readonly lods = new Map<string, ILodScene>();
  private current: ILodScene | null = null;
  private frame = 0;
  private resizer: ResizeObserver | null = null;
  private down: { x: number; y: number } | null = null;
  private path = '';

  constructor() {
    super();
    this.addClass('ai4geo-city3d');
    this.canvasBox = h('div', { class: 'ai4geo-city3d-canvas' });
    this.message = h('div', { class: 'ai4geo-city3d-message', dataset: { state: 'loading' } }, 'Loading…');
    this.status = h('div', { class: 'ai4geo-city3d-status' });
    this.lodSelect = h('select', { class: 'ai4geo-city3d-lod', title: 'Level of detail' });
    this.lodSelect.addEventListener('change', () => void this.showLod(this.lodSelect.value));
    const fit = h('button', { class: 'jp-Button jp-mod-styled ai4geo-city3d-fit', type: 'button',
      title: 'Show all the buildings', disabled: true }, 'Fit');
    fit.addEventListener('click', () => this.fit());
    this.fitButton = fit;
    this.lodSelect.disabled = true;
    this.legend = h('ul', { class: 'ai4geo-city3d-legend' });
    this.pick = h('div', { class: 'ai4geo-city3d-pick', dataset: { state: 'none' } },
      h('div', { class: 'ai4geo-city3d-hint' }, 'Click a building to see its attributes.'));
    const side = h('div', { class: 'ai4geo-city3d-side' },
      h('div', { class: 'ai4geo-city3d-tools' }, h('label', {}, 'LOD ', this.lodSelect), fit),
      this.status, this.legend, this.pick,
      h('div', { class: 'ai4geo-city3d-hint' }, 'Drag to orbit, right-drag (or Shift-drag) to pan, wheel to zoom.'));
    this.node.append(h('div', { class: 'ai4geo-city3d-main' }, this.canvasBox, this.message), side);
    this.materials = Object.fromEntries(
      SURFACE_CLASSES.map(c => [c, new MeshLambertMaterial({ color: new Color(SURFACE_COLORS[c]), side: DoubleSide,
        polygonOffset: true, polygonOffsetFactor: 1, polygonOffsetUnits: 1 })])
    ) as Record<SurfaceClass, MeshLambertMaterial>;
    this.highlightMaterial = new MeshLambertMaterial({ color: new Color(HIGHLIGHT), side: DoubleSide,
      emissive: new Color(HIGHLIGHT), emissiveIntensity: 0.35 });
    this.scene.add(new HemisphereLight(0xffffff, 0x707070, 1.4));
    this.scene.add(new AmbientLight(0xffffff, 0.5));
    const sun = new DirectionalLight(0xffffff, 1.7);
    // from the west-north-west, 45° high: seen from the south-west, roof planes and walls each take their own tone
    sun.position.set(-1, 0.45, 1.1);
    this.scene.add(sun);
  }

  /** Read and draw the file at `path` (relative to the server root). */
  async open(path: string): Promise<void> {
    this.path = path;
    this.showMessage('loading', 'Loading…');
    try {
      const settings = ServerConnection.makeSettings();
      const url = URLExt.join(settings.baseUrl, 'files', URLExt.encodeParts(path));
      const resp = await ServerConnection.makeRequest(url, { cache: 'no-store' }, settings);
      if (!resp.ok) {
        throw new CityJSONError(resp.status === 404 ? 'The file is not there any more.'
          : `The server could not send the file (HTTP ${resp.status}).`);
      }
      const text = await resp.text();
      this.showMessage('loading', 'Building the meshes…');
      this.model = parseCityJSON(text);
      if (!this.initRenderer()) {
        return;
      }
      this.lodSelect.replaceChildren(...this.model.lods.map(l => h('option', { value: l }, `LOD ${l}`)));
      this.lodSelect.disabled = this.model.lods.length < 2;
      const lod = this.model.lods[this.model.lods.length - 1];
      this.lodSelect.value = lod;
      await this.showLod(lod, true);
    } catch (err) {
      this.showMessage('error', describe(err));
    }
  }

  get lod(): string | null {
    return this.current?.info.lod ?? null;
  }

  private showMessage(state: 'loading' | 'error' | 'none', text: string): void {
    this.message.dataset.state = state;
    this.message.textContent = text;
    this.node.dataset.state = state === 'none' ? 'ready' : state;
  }

  private initRenderer(): boolean {
    if (this.renderer) {
      return true;
    }
    try {
      this.renderer = new WebGLRenderer({ antialias: true, alpha: true, preserveDrawingBuffer: true });
    } catch {
      this.showMessage('error', 'This browser cannot draw in 3D (WebGL is not available).');
      return false;
    }
    this.renderer.setPixelRatio(window.devicePixelRatio || 1);
    this.renderer.setClearColor(0x000000, 0); // the panel's theme colour shows through
    const canvas = this.renderer.domElement;
    this.canvasBox.append(canvas);
    this.camera = new PerspectiveCamera(45, 1, 0.1, 10_000);
    this.camera.up.set(0, 0, 1); // CityJSON is z-up
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = false;
    this.controls.screenSpacePanning = true;
    this.controls.addEventListener('change', () => this.requestRender());
    canvas.addEventListener('pointerdown', e => (this.down = { x: e.clientX, y: e.clientY }));
    canvas.addEventListener('pointerup', e => {
      if (this.down && Math.hypot(e.clientX - this.down.x, e.clientY - this.down.y) < 4 && e.button === 0) {
        this.pickAt(e.clientX, e.clientY);
      }
      this.down = null;
    });
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(this.canvasBox);
    this.resize();
    return true;
  }

  private async showLod(lod: string, fit = false): Promise<void> {
    if (!this.model || !this.renderer) {
      return;
    }
    let entry = this.lods.get(lod);
    if (!entry) {
      this.showMessage('loading', `Building the meshes of LOD ${lod}…`);
      const info = await lodMeshes(this.model, lod, () => new Promise(r => setTimeout(r, 0)));
      const group = new Group();
      const meshes: Mesh[] = [];
      for (const cls of SURFACE_CLASSES) {
        const soup = info.soups[cls];
        if (soup.owners.length === 0) {
          continue;
        }
        const geometry = new BufferGeometry();
        geometry.setAttribute('position', new BufferAttribute(soup.positions, 3));
        geometry.setAttribute('normal', new BufferAttribute(soup.normals, 3));
        geometry.computeBoundingSphere();
        const mesh = new Mesh(geometry, this.materials[cls]);
        mesh.userData = { cls, soup };
        meshes.push(mesh);
        group.add(mesh);
      }
      entry = { info, group, meshes };
      this.lods.set(lod, entry);
    }
    if (this.current) {
      this.scene.remove(this.current.group);
    }
    this.current = entry;
    this.scene.add(entry.group);
    this.node.dataset.lod = lod;
    this.clearPick();
    this.updateLegend();
    if (entry.meshes.length === 0) {
      this.showMessage('error', `LOD ${lod} has no surface to draw.`);
      return;
    }
    this.showMessage('none', '');
    this.fitButton.disabled = false;
    if (fit || !this.controls?.target) {
      this.fit();
    }
    this.requestRender();
  }

  private updateLegend(): void {
    const entry = this.current;
    const model = this.model;
    if (!entry || !model) {
      return;
    }
    const counts = SURFACE_CLASSES.map(c => [c, entry.info.soups[c].owners.length] as const).filter(([, n]) => n);
    this.legend.replaceChildren(
      ...counts.map(([c, n]) =>
        h('li', { class: 'ai4geo-city3d-legend-item', dataset: { cls: c, color: SURFACE_COLORS[c] } },
          h('span', { class: 'ai4geo-city3d-swatch', style: `background:${SURFACE_COLORS[c]}` }),
          h('span', {}, SURFACE_LABELS[c]), h('span', { class: 'ai4geo-city3d-count' }, `${n} triangles`)))
    );
    const skipped = entry.info.skipped ? ` · ${entry.info.skipped} surfaces left out` : '';
    this.status.textContent = `${entry.info.objects} objects at LOD ${entry.info.lod} (of ${model.objects.length})` +
      ` · CityJSON ${model.version}${model.crs ? ` · ${model.crs}` : ''}${skipped}`;
  }

  /** The camera on all the buildings of the LOD shown, from the south-west and above. */
  fit(): void {
    if (!this.camera || !this.controls || !this.current || this.current.meshes.length === 0) {
      return;
    }
    const box = new Box3();
    for (const m of this.current.meshes) {
      m.geometry.computeBoundingBox();
      box.union(m.geometry.boundingBox!);
    }
    const sphere = box.getBoundingSphere(new Sphere());
    const radius = Math.max(sphere.radius, 1);
    // the whole sphere in the narrower of the two fields of view
    const half = Math.min(this.camera.fov, this.camera.getEffectiveFOV() * Math.min(this.camera.aspect, 1)) / 2;
    const distance = radius / Math.sin((half * Math.PI) / 180);
    const dir = new Vector3(-0.55, -1, 0.85).normalize();
    this.camera.near = Math.max(distance / 1000, 0.01);
    this.camera.far = distance * 20;
    this.camera.position.copy(sphere.center).addScaledVector(dir, distance);
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(sphere.center);
    this.controls.maxDistance = distance * 8;
    this.controls.update();
    this.requestRender();
  }

  private pickAt(clientX: number, clientY: number): void {
    if (!this.renderer || !this.camera || !this.current || !this.model) {
      return;
    }
    const rect = this.renderer.domElement.getBoundingClientRect();
    const ndc = new Vector2(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1);
    const ray = new Raycaster();
    ray.setFromCamera(ndc, this.camera);
    const hit = ray.intersectObjects(this.current.meshes, false)[0];
    if (!hit || hit.faceIndex === undefined || hit.faceIndex === null) {
      this.clearPick();
      this.requestRender();
      return;
    }
    const soup = hit.object.userData.soup as ISoup;
    const owner = soup.owners[hit.faceIndex];
    this.showPick(owner);
  }

  private clearPick(): void {
    if (this.highlight) {
      this.highlight.parent?.remove(this.highlight);
      this.highlight.geometry.dispose();
      this.highlight = null;
    }
    this.pick.dataset.state = 'none';
    delete this.pick.dataset.id;
    this.pick.replaceChildren(h('div', { class: 'ai4geo-city3d-hint' }, 'Click a building to see its attributes.'));
  }

  /** The attributes of object `owner` beside the view, and its triangles in the highlight colour. */
  private showPick(owner: number): void {
    const model = this.model!;
    const entry = this.current!;
    this.clearPick();
    const obj = model.objects[owner];
    // the highlight: the object's triangles of every class, drawn over the meshes
    const parts: Float32Array[] = [];
    const normals: Float32Array[] = [];
    for (const m of entry.meshes) {
      const soup = m.userData.soup as ISoup;
      const range = soup.ranges.get(owner);
      if (range) {
        parts.push(soup.positions.subarray(range[0] * 9, (range[0] + range[1]) * 9));
        normals.push(soup.normals.subarray(range[0] * 9, (range[0] + range[1]) * 9));
      }
    }
    const join = (arrays: Float32Array[]) => {
      const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
      let at = 0;
      for (const a of arrays) {
        out.set(a, at);
        at += a.length;
      }
      return out;
    };
    const geometry = new BufferGeometry();
    geometry.setAttribute('position', new BufferAttribute(join(parts), 3));
    geometry.setAttribute('normal', new BufferAttribute(join(normals), 3));
    this.highlight = new Mesh(geometry, this.highlightMaterial);
    entry.group.add(this.highlight);
    this.requestRender();

    const rows = Object.entries(obj.attributes).map(([k, v]) =>
      h('tr', {}, h('th', {}, k), h('td', { dataset: { key: k } }, formatValue(k, v))));
    this.pick.dataset.state = 'picked';
    this.pick.dataset.id = obj.id;
    this.pick.replaceChildren(
      h('div', { class: 'ai4geo-city3d-pick-title' }, `${obj.type} ${obj.id}`),
      ...(obj.parents.length ? [h('div', { class: 'ai4geo-city3d-hint' }, `Part of ${obj.parents.join(', ')}`)] : []),
      rows.length ? h('table', { class: 'ai4geo-city3d-attributes' }, h('tbody', {}, ...rows))
        : h('div', { class: 'ai4geo-city3d-hint' }, 'No attributes.')
    );
  }

  private resize(): void {
    if (!this.renderer || !this.camera) {
      return;
    }
    const w = Math.max(this.canvasBox.clientWidth, 1);
    const hgt = Math.max(this.canvasBox.clientHeight, 1);
    this.renderer.setSize(w, hgt, true);
    this.camera.aspect = w / hgt;
    this.camera.updateProjectionMatrix();
    this.requestRender();
  }

  /** Draw at the next frame (the view is drawn on change only, never in a loop). */
  private requestRender(): void {
    if (this.frame || !this.renderer) {
      return;
    }
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.renderer && this.camera) {
        this.renderer.render(this.scene, this.camera);
        this.node.dataset.frames = String(Number(this.node.dataset.frames ?? 0) + 1);
      }
    });
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.resize();
  }

  get filePath(): string {
    return this.path;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    cancelAnimationFrame(this.frame);
    this.resizer?.disconnect();
    this.controls?.dispose();
    for (const entry of this.lods.values()) {
      entry.meshes.forEach(m => m.geometry.dispose());
    }
    this.highlight?.geometry.dispose();
    Object.values(this.materials).forEach(m => m.dispose());
    this.highlightMaterial.dispose();
    this.renderer?.dispose();
    this.renderer?.forceContextLoss();
    this.renderer = null;
    super.dispose();
  }
}

