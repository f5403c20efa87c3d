import type * as Leaflet from 'leaflet';
import { api } from './api';
import { L } from './leaflet';

export interface IMapConfig {
  tile_url: string;
  tile_attribution: string;
}

/** What `catalog/local` answers: the local catalogue's catalogues, by title, with their extents. */
export interface ILocalCatalogue {
  catalogs: { title: string; bbox: [number, number, number, number] | null; items: number; collections: string[] }[];
  bbox: [number, number, number, number] | null;
  items: number;
}

const catalogueListeners = new Set<() => void>();

/** Tell every map that the local catalogue changed (a catalogue was added): they draw its extent again. */
export function catalogueChanged(): void {
  catalogueListeners.forEach(listener => listener());
}

const EXTENT_STYLE = {
  // not interactive: an AOI is drawn over it; the dot at its centre carries the tooltip
  color: '#7c3aed', weight: 2, dashArray: '6 4', fillColor: '#7c3aed', fillOpacity: 0.06, interactive: false,
  className: 'ai4geo-catalogue-extent', pmIgnore: true
};

const BASE_PANE = 'ai4geo-base';

const STEPS = [30, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001];

/** Lines of longitude and latitude at a spacing fit for the view, with their values: a map that needs nothing.
 * Longitudes are written along the top edge and latitudes along the right edge, and a label that would fall under a
 * control of the map (zoom, drawing tools, scale, attribution) is left out rather than drawn clipped beneath it. */
class Graticule {
  readonly layer = L.layerGroup();
  constructor(private map: Leaflet.Map) {
    map.on('moveend zoomend resize', () => this.draw());
  }

  draw(): void {
    this.layer.clearLayers();
    const b = this.map.getBounds();
    const span = Math.max(b.getEast() - b.getWest(), b.getNorth() - b.getSouth());
    const step = STEPS.find(s => span / s >= 3) ?? STEPS[STEPS.length - 1];
    const digits = Math.max(0, Math.ceil(-Math.log10(step)));
    const style = { color: '#8a94a6', weight: 1, opacity: 0.6, interactive: false, dashArray: '3 4', pmIgnore: true };
    const south = Math.max(-85, b.getSouth()), north = Math.min(85, b.getNorth());
    const controls = this.controlBoxes();
    const size = this.map.getSize();
    for (let x = Math.ceil(b.getWest() / step) * step; x <= b.getEast(); x += step) {
      this.layer.addLayer(L.polyline([[south, x], [north, x]], style));
      const text = `${x.toFixed(digits)}°`;
      const at = this.map.latLngToContainerPoint([north, x]);
      const box: Box = [at.x + 2, 0, at.x + 4 + textWidth(text), LABEL_HEIGHT + 2];
      if (box[2] <= size.x && !controls.some(c => overlaps(c, box))) {
        this.layer.addLayer(this.label([north, x], text, 'ai4geo-grid-label-x'));
      }
    }
    for (let y = Math.ceil(south / step) * step; y <= north; y += step) {
      this.layer.addLayer(L.polyline([[y, b.getWest()], [y, b.getEast()]], style));
      const text = `${y.toFixed(digits)}°`;
      const at = this.map.latLngToContainerPoint([y, b.getEast()]);
      const box: Box = [size.x - 4 - textWidth(text), at.y - LABEL_HEIGHT - 1, size.x, at.y];
      if (box[1] >= 0 && !controls.some(c => overlaps(c, box))) {
        this.layer.addLayer(this.label([y, b.getEast()], text, 'ai4geo-grid-label-y'));
      }
    }
  }

  /** Where the map's controls are, in the map's pixels (with a small margin). */
  private controlBoxes(): Box[] {
    const container = this.map.getContainer();
    const origin = container.getBoundingClientRect();
    return Array.from(container.querySelectorAll<HTMLElement>('.leaflet-control')).map(el => {
      const r = el.getBoundingClientRect();
      return [r.left - origin.left - 3, r.top - origin.top - 3, r.right - origin.left + 3, r.bottom - origin.top + 3];
    });
  }

  private label(at: Leaflet.LatLngExpression, text: string, cls: string): Leaflet.Marker {
    return L.marker(at, {
      interactive: false,
      pmIgnore: true,
      icon: L.divIcon({ className: `ai4geo-grid-label ${cls}`, html: `<span>${text}</span>`, iconSize: [0, 0] })
    });
  }
}

type Box = [number, number, number, number]; // left, top, right, bottom
const LABEL_HEIGHT = 12;
const textWidth = (text: string) => 6.2 * text.length; // 10 px digits
const overlaps = (a: Box, b: Box) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];

/** Where "Go to" takes the map: a point or a box. */
export type Place = { kind: 'point'; lat: number; lon: number } | { kind: 'box'; bounds: [number, number, number, number] };

/**
 * Read what a user typed in "Go to": `lat, lon` (a point) or `west, south, east, north` (a box, as a bbox is
 * written), in degrees, separated by commas, spaces or semicolons. Returns the place, or a message saying what is
 * wrong with the text.
 */
export function parsePlace(text: string): Place | string {
  const parts = text.trim().split(/[\s,;]+/).filter(p => p.length > 0);
  const values = parts.map(Number);
  if (parts.length === 0) {
    return 'type "lat, lon" or "west, south, east, north" (degrees)';
  }
  if (values.some(v => !Number.isFinite(v)) || (values.length !== 2 && values.length !== 4)) {
    return 'not a place: type "lat, lon" or "west, south, east, north" (degrees)';
  }
  const lonOk = (v: number) => v >= -180 && v <= 180;
  const latOk = (v: number) => v >= -90 && v <= 90;
  if (values.length === 2) {
    const [lat, lon] = values;
    if (!latOk(lat) || !lonOk(lon)) {
      return `latitude ${lat} or longitude ${lon} out of range (−90…90, −180…180): "lat, lon"`;
    }
    return { kind: 'point', lat, lon };
  }
  const [west, south, east, north] = values;
  if (!lonOk(west) || !lonOk(east) || !latOk(south) || !latOk(north)) {
    return 'a box is "west, south, east, north" with longitudes in −180…180 and latitudes in −90…90';
  }
  if (west >= east || south >= north) {
    return 'a box needs west < east and south < north ("west, south, east, north")';
  }
  return { kind: 'box', bounds: [west, south, east, north] };
}

/**
 * A Leaflet map with the configured tiles, falling back by itself to an offline base (country outlines served by
 * the server extension, and a graticule) when no tile URL is set or the tiles cannot be loaded.
 */
export class BaseMap {
  readonly map: Leaflet.Map;
  readonly offline: Leaflet.LayerGroup;
  private tiles: Leaflet.TileLayer | null = null;
  private loaded = 0;
  private failed = 0;
  private graticule: Graticule;
  onModeChange: (mode: 'tiles' | 'offline', reason: string) => void = () => undefined;
  mode: 'tiles' | 'offline' = 'offline';
  /** The local catalogue's extent (drawn on load, and again when a catalogue is added). */
  readonly catalogue = L.featureGroup();
  private catalogueBounds: Leaflet.LatLngBounds | null = null;
  private zoomButton: HTMLAnchorElement | null = null;
  private onCatalogueChanged = () => void this.showCatalogue();

  constructor(node: HTMLElement, config: IMapConfig) {
    this.map = L.map(node, { center: [20, 0], zoom: 2, worldCopyJump: true, attributionControl: true });
    node.classList.add('ai4geo-basemap');
    // the offline base's outlines lie under every tile layer (rasters put on the map included)
    this.map.createPane(BASE_PANE).style.zIndex = '150';
    L.control.scale({ position: 'bottomleft', imperial: false }).addTo(this.map);
    this.graticule = new Graticule(this.map);
    this.offline = L.layerGroup([this.graticule.layer]);
    void this.loadOutlines();
    if (config.tile_url) {
      this.tiles = L.tileLayer(config.tile_url, { attribution: config.tile_attribution, maxZoom: 20 });
      this.tiles.on('tileload', () => {
        this.loaded += 1;
      });
      this.tiles.on('tileerror', () => {
        this.failed += 1;
        if (this.loaded === 0 && this.failed >= 2 && this.mode === 'tiles') {
          this.useOffline('the tiles cannot be loaded (no network?)');
        }
      });
      this.tiles.addTo(this.map);
      this.mode = 'tiles';
    } else {
      this.useOffline('no tile URL is configured');
    }
    this.catalogue.addTo(this.map);
    this.addZoomToCatalogue();
    this.addGoTo();
    this.graticule.draw(); // again, now that every control has its place
    catalogueListeners.add(this.onCatalogueChanged);
    void this.showCatalogue();
  }

  /** A button under the zoom buttons: zoom to the local catalogue's extent. */
  private addZoomToCatalogue(): void {
    const ZoomTo = L.Control.extend({
      onAdd: () => {
        const bar = L.DomUtil.create('div', 'leaflet-bar ai4geo-zoom-catalogue');
        const a = L.DomUtil.create('a', '', bar) as HTMLAnchorElement;
        a.href = '#';
        a.role = 'button';
        a.title = 'Zoom to the local catalogue';
        a.setAttribute('aria-label', 'Zoom to the local catalogue');
        a.innerHTML =
          '<svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true"><path d="M2 6V2h4M10 2h4v4M14 10v4h-4' +
          'M6 14H2v-4" fill="none" stroke="currentColor" stroke-width="1.7"/><rect x="5.5" y="5.5" width="5" ' +
          'height="5" fill="currentColor"/></svg>';
        L.DomEvent.disableClickPropagation(bar);
        L.DomEvent.on(a, 'click', (e: Event) => {
          L.DomEvent.preventDefault(e);
          this.zoomToCatalogue();
        });
        this.zoomButton = a;
        this.updateZoomButton();
        return bar;
      }
    });
    new ZoomTo({ position: 'topleft' }).addTo(this.map);
  }

  /** A field under the buttons: type coordinates or a box and press Enter to go there. */
  private addGoTo(): void {
    const GoTo = L.Control.extend({
      onAdd: () => {
        const box = L.DomUtil.create('div', 'ai4geo-goto');
        const input = L.DomUtil.create('input', 'ai4geo-goto-input', box) as HTMLInputElement;
        input.type = 'text';
        input.placeholder = 'Go to: lat, lon or W, S, E, N';
        input.title = 'Type "lat, lon" or a box "west, south, east, north" (degrees), then Enter';
        input.setAttribute('aria-label', 'Go to coordinates or a box');
        const message = L.DomUtil.create('div', 'ai4geo-goto-message', box);
        message.setAttribute('role', 'alert');
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        L.DomEvent.on(input, 'keydown', (e: Event) => {
          const key = (e as KeyboardEvent).key;
          e.stopPropagation(); // typing must not drive the map or the Lab's shortcuts
          if (key === 'Enter') {
            const error = this.goTo(input.value);
            input.classList.toggle('ai4geo-invalid', error !== null);
            input.setAttribute('aria-invalid', String(error !== null));
            message.textContent = error ?? '';
          } else if (key === 'Escape') {
            input.value = '';
            input.classList.remove('ai4geo-invalid');
            message.textContent = '';
          }
        });
        return box;
      }
    });
    new GoTo({ position: 'topleft' }).addTo(this.map);
  }

  /** Go to the place `text` names (see {@link parsePlace}); returns null, or what is wrong with the text. */
  goTo(text: string): string | null {
    const place = parsePlace(text);
    if (typeof place === 'string') {
      return place;
    }
    if (place.kind === 'point') {
      this.map.setView([place.lat, place.lon], Math.max(this.map.getZoom(), 15));
    } else {
      const [west, south, east, north] = place.bounds;
      this.map.fitBounds(L.latLngBounds([south, west], [north, east]), { maxZoom: 18 });
    }
    return null;
  }

  private updateZoomButton(): void {
    if (this.zoomButton) {
      const off = this.catalogueBounds === null;
      this.zoomButton.classList.toggle('leaflet-disabled', off);
      this.zoomButton.setAttribute('aria-disabled', String(off));
      this.zoomButton.title = off ? 'The local catalogue is empty' : 'Zoom to the local catalogue';
    }
  }

  /** Fit the view to the local catalogue's extent (nothing when it is empty). */
  zoomToCatalogue(): boolean {
    if (!this.catalogueBounds) {
      return false;
    }
    this.map.fitBounds(this.catalogueBounds, { maxZoom: 17, padding: [20, 20] });
    return true;
  }

  /** Draw the extent of every catalogue of the local catalogue (a box, and a dot that shows at world scale). */
  async showCatalogue(): Promise<void> {
    let found: ILocalCatalogue;
    try {
      found = await api<ILocalCatalogue>('catalog/local');
    } catch {
      return; // no extent to draw; searching still works
    }
    this.catalogue.clearLayers();
    for (const c of found.catalogs) {
      if (!c.bbox) {
        continue;
      }
      const [west, south, east, north] = c.bbox;
      const bounds = L.latLngBounds([south, west], [north, east]);
      const text = `${c.title}: ${c.items} item${c.items === 1 ? '' : 's'} (${c.collections.join(', ')})`;
      this.catalogue.addLayer(L.rectangle(bounds, EXTENT_STYLE as any));
      this.catalogue.addLayer(
        L.circleMarker(bounds.getCenter(), {
          radius: 5, color: '#7c3aed', weight: 2, fillOpacity: 0.6, className: 'ai4geo-catalogue-dot', pmIgnore: true
        } as any).bindTooltip(text)
      );
    }
    this.catalogueBounds = found.bbox
      ? L.latLngBounds([found.bbox[1], found.bbox[0]], [found.bbox[3], found.bbox[2]])
      : null;
    this.map.getContainer().dataset.catalogue = String(found.catalogs.filter(c => c.bbox).length);
    this.updateZoomButton();
  }

  dispose(): void {
    catalogueListeners.delete(this.onCatalogueChanged);
  }

  private useOffline(reason: string): void {
    if (this.tiles) {
      this.tiles.remove();
    }
    this.offline.addTo(this.map);
    this.graticule.draw();
    this.mode = 'offline';
    this.map.getContainer().classList.add('ai4geo-offline');
    this.onModeChange('offline', reason);
  }

  private async loadOutlines(): Promise<void> {
    try {
      const outlines = await api('outlines');
      const layer = L.geoJSON(outlines, {
        pane: BASE_PANE,
        interactive: false,
        pmIgnore: true,
        style: { color: '#6b7280', weight: 1, fillColor: '#e5e7eb', fillOpacity: 0.6 }
      } as any);
      this.offline.addLayer(layer);
      layer.bringToBack();
    } catch {
      // the graticule alone still works
    }
  }

  refresh(): void {
    this.map.invalidateSize();
  }
}
