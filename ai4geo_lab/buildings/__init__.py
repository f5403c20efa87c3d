"""Buildings: footprint heights (LOD0/LOD1) and CityJSON export."""
