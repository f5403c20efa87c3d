// Leaflet plugins (leaflet-geoman) refer to a free variable `L`: bind it to our own bundled Leaflet module, so
// that no plugin ever depends on a global `L` (which another extension, e.g. ipyleaflet, may replace).
const path = require('path');
const { rspack } = require('@rspack/core');

module.exports = {
  resolve: {
    alias: { leaflet$: path.resolve(__dirname, 'node_modules/leaflet/dist/leaflet-src.js') }
  },
  plugins: [new rspack.ProvidePlugin({ L: 'leaflet' })]
};
