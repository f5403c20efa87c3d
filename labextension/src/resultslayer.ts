import type * as Leaflet from 'leaflet';
import { L } from './leaflet';

/** The footprints' colours, the same on the search panel's map and on the AI4GEO Map. */
export const FOOTPRINT_COLOUR = '#e4572e';
export const SELECTED_COLOUR = '#17bebb';
const FOOTPRINT_STYLE = { color: FOOTPRINT_COLOUR, weight: 2, fillOpacity: 0.08, opacity: 0.9,
  className: 'ai4geo-footprint' };
const SELECTED_STYLE = { color: SELECTED_COLOUR, weight: 4, fillOpacity: 0.25, opacity: 1 };
// a footprint with its quicklook drawn in it: the outline only, so the image shows
const LOOK_STYLE = { fillOpacity: 0 };
const LOOK_PANE = 'ai4geo-looks'; // under the footprints' outlines

/**
 * One page of search results as a map draws them: its footprints, those the date range keeps, those selected and
 * the quicklooks turned on. A new `key` is a new page (the footprints are drawn anew); the same key with other
 * sets is the same page, its drawing updated.
 */
export interface IResultsOnMap {
  key: string;
  /** The page's GeoJSON features (id, geometry, properties.datetime). */
  features: any[];
  /** Ids of the items the date range keeps. */
  shown: ReadonlySet<string>;
  selected: ReadonlySet<string>;
  /** Quicklooks turned on: id → URL of the image, drawn on the item's footprint. */
  looks: ReadonlyMap<string, string>;
  /** One line on the results (count, page, provider) for a layer list. */
  summary: string;
}

/** What a map tells the search panel about the results it shows. */
export interface IResultsEvents {
  /** A footprint was clicked: its item joins or leaves the selection. */
  select(id: string): void;
  /** The results left the map (removed from its layer list, or the map was closed). */
  gone(): void;
}

/** A map that shows search results as one of its layers (the AI4GEO Map). */
export interface IResultsLayerHost {
  readonly isDisposed: boolean;
  /**
   * Show these results (`null`: take them off). Results the user removed stay off until a new page comes, unless
   * `reveal` (a request to show them) is set. Returns whether the map shows them.
   */
  showResults(results: IResultsOnMap | null, events: IResultsEvents, reveal?: boolean): boolean;
}

/** How the search panel reaches the map the user last worked in: that map, or a map opened for the results. */
export interface IResultsMaps {
  /** The map last used, if one is open. */
  current(): IResultsLayerHost | null;
  /** The map last used, brought forward, or a new one. */
  open(): Promise<IResultsLayerHost | null>;
}

/**
 * The drawing of one page of results on a Leaflet map: footprints (a click calls `onClick`), the selection's
 * colour, the quicklooks on their footprints. `update` follows the panel's state; nothing here searches.
 */
export class FootprintLayer {
  private root = L.featureGroup();
  private footprints: Leaflet.GeoJSON | null = null;
  private looksGroup = L.layerGroup();
  private byId = new Map<string, Leaflet.Path>();
  private looks = new Map<string, { url: string; overlay: Leaflet.ImageOverlay }>();
  private state: IResultsOnMap | null = null;
  private hovered: string | null = null;
  private onMap = true;

  constructor(private map: Leaflet.Map, private onClick: (id: string) => void) {
    if (!map.getPane(LOOK_PANE)) {
      map.createPane(LOOK_PANE).style.zIndex = '390';
    }
    this.root.addLayer(this.looksGroup);
    this.root.addTo(map);
  }

  /** Draw `state`: a new page anew, else the footprints shown, their colours and the quicklooks brought in line. */
  update(state: IResultsOnMap): void {
    if (state.key !== this.state?.key) {
      this.clear();
      this.footprints = L.geoJSON({ type: 'FeatureCollection', features: state.features } as any, {
        style: () => FOOTPRINT_STYLE,
        pmIgnore: true,
        onEachFeature: (feature: any, layer: any) => {
          this.byId.set(feature.id, layer);
          layer.on('add', () => layer.getElement()?.setAttribute('data-id', feature.id));
          layer.on('click', () => this.onClick(feature.id));
          layer.bindTooltip(`${feature.id}<br>${feature.properties?.datetime ?? ''}`, { sticky: true });
        }
      } as any);
      this.root.addLayer(this.footprints);
    }
    this.state = state;
    const footprints = this.footprints!;
    for (const [id, layer] of this.byId) {
      const on = state.shown.has(id);
      if (on && !footprints.hasLayer(layer)) {
        footprints.addLayer(layer);
      } else if (!on && footprints.hasLayer(layer)) {
        footprints.removeLayer(layer);
      }
    }
    for (const [id, look] of this.looks) {
      if (state.looks.get(id) !== look.url) {
        this.looksGroup.removeLayer(look.overlay);
        this.looks.delete(id);
      }
    }
    for (const [id, url] of state.looks) {
      const layer = this.byId.get(id) as Leaflet.Polygon | undefined;
      if (layer && !this.looks.has(id)) {
        const overlay = L.imageOverlay(url, layer.getBounds(), {
          className: 'ai4geo-quicklook-overlay',
          alt: `quicklook of ${id}`,
          interactive: false,
          pane: LOOK_PANE
        });
        overlay.on('add', () => overlay.getElement()?.setAttribute('data-id', id));
        this.looks.set(id, { url, overlay });
      }
      const look = this.looks.get(id);
      if (look) {
        const on = state.shown.has(id);
        if (on && !this.looksGroup.hasLayer(look.overlay)) {
          this.looksGroup.addLayer(look.overlay);
        } else if (!on && this.looksGroup.hasLayer(look.overlay)) {
          this.looksGroup.removeLayer(look.overlay);
        }
      }
    }
    for (const id of this.byId.keys()) {
      this.restyle(id);
    }
  }

  private styleOf(id: string): Leaflet.PathOptions {
    const base = this.state?.selected.has(id) ? SELECTED_STYLE : FOOTPRINT_STYLE;
    const style = this.looks.has(id) ? { ...base, ...LOOK_STYLE } : base;
    return this.hovered === id ? { ...style, weight: 4 } : style;
  }

  private restyle(id: string): void {
    this.byId.get(id)?.setStyle(this.styleOf(id));
  }

  /** Outline an item's footprint more boldly while the pointer is on its row. */
  hover(id: string, on: boolean): void {
    const before = this.hovered;
    this.hovered = on ? id : this.hovered === id ? null : this.hovered;
    if (before && before !== this.hovered) {
      this.restyle(before);
    }
    this.restyle(id);
  }

  /** Put an item's footprint above the others. */
  bringToFront(id: string): void {
    if (this.onMap) {
      this.byId.get(id)?.bringToFront();
    }
  }

  /** The bounds of an item's footprint. */
  boundsOf(id: string): Leaflet.LatLngBounds | null {
    const layer = this.byId.get(id) as Leaflet.Polygon | undefined;
    return layer ? layer.getBounds() : null;
  }

  /** The bounds of the footprints shown, if any. */
  bounds(): Leaflet.LatLngBounds | null {
    const b = this.footprints?.getBounds();
    return b && b.isValid() ? b : null;
  }

  /** Show or hide the whole drawing (the layer's visibility box). */
  setVisible(on: boolean): void {
    this.onMap = on;
    if (on && !this.map.hasLayer(this.root)) {
      this.root.addTo(this.map);
    } else if (!on && this.map.hasLayer(this.root)) {
      this.root.remove();
    }
  }

  private clear(): void {
    if (this.footprints) {
      this.root.removeLayer(this.footprints);
    }
    this.footprints = null;
    this.looksGroup.clearLayers();
    this.looks.clear();
    this.byId.clear();
    this.hovered = null;
  }

  /** Take everything off the map. */
  remove(): void {
    this.clear();
    this.root.remove();
    this.state = null;
  }
}
