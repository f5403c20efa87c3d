import type * as Leaflet from 'leaflet';
import { api } from './api';
import { L } from './leaflet';

export interface IMapConfig {
  tile_url: string;
  tile_attribution: string;
}

const BASE_PANE = 'ai4geo-base';

const STEPS = [30, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001];

/** Lines of longitude and latitude at a spacing fit for the view, with their values: a map that needs nothing. */
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
    for (let x = Math.ceil(b.getWest() / step) * step; x <= b.getEast(); x += step) {
      this.layer.addLayer(L.polyline([[south, x], [north, x]], style));
      this.layer.addLayer(this.label([north, x], `${x.toFixed(digits)}°`, 'ai4geo-grid-label-x'));
    }
    for (let y = Math.ceil(south / step) * step; y <= north; y += step) {
      this.layer.addLayer(L.polyline([[y, b.getWest()], [y, b.getEast()]], style));
      this.layer.addLayer(this.label([y, b.getWest()], `${y.toFixed(digits)}°`, 'ai4geo-grid-label-y'));
    }
  }

  private label(at: Leaflet.LatLngExpression, text: string, cls: string): Leaflet.Marker {
    return L.marker(at, {
      interactive: false,
      pmIgnore: true,
      icon: L.divIcon({ className: `ai4geo-grid-label ${cls}`, html: text, iconSize: [0, 0] })
    });
  }
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

  constructor(node: HTMLElement, config: IMapConfig) {
    this.map = L.map(node, { center: [20, 0], zoom: 2, worldCopyJump: true, attributionControl: true });
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
