import './scoped/leaflet.css';
import './scoped/leaflet-geoman.css';
import './base.css';
import './city3d.css';
