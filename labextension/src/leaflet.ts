// Our own Leaflet, bundled as a module, with leaflet-geoman attached to it. Nothing here reads or keeps a global
// `L`: the build binds the plugin's `L` to this module, and the global Leaflet sets is given back at once.
import * as LeafletModule from 'leaflet';
import '@geoman-io/leaflet-geoman-free';

const mod: any = LeafletModule as any;
export const L: typeof LeafletModule = (mod.default ?? mod) as typeof LeafletModule;
if (typeof (L as any).noConflict === 'function') {
  (L as any).noConflict();
}
