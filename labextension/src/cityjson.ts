/** CityJSON to triangle soups: one merged soup per surface class (roof, wall, ground, other) for each LOD. */
import { ShapeUtils, Vector2 } from 'three';

/** The surface classes drawn in their own colour, in legend order. */
export const SURFACE_CLASSES = ['roof', 'wall', 'ground', 'other'] as const;
export type SurfaceClass = (typeof SURFACE_CLASSES)[number];

const CLASS_OF: Record<string, SurfaceClass> = {
  RoofSurface: 'roof',
  WallSurface: 'wall',
  GroundSurface: 'ground'
};

/** A CityJSON problem shown to the user as one line. */
export class CityJSONError extends Error {}

/** One city object of the file, as the pick shows it. */
export interface ICityObject {
  id: string;
  type: string;
  attributes: Record<string, unknown>;
  parents: string[];
}

/** The triangles of one surface class: flat positions and normals (3 per vertex), the object of each triangle. */
export interface ISoup {
  positions: Float32Array;
  normals: Float32Array;
  owners: Uint32Array;
  /** per object index: [first triangle, triangle count] ranges (an object's triangles are consecutive) */
  ranges: Map<number, [number, number]>;
}

export interface ILodMeshes {
  lod: string;
  soups: Record<SurfaceClass, ISoup>;
  /** objects with at least one triangle at this LOD */
  objects: number;
  /** surfaces left out (a ring of fewer than 3 vertices, an unknown vertex, a degenerate polygon) */
  skipped: number;
}

/** A parsed CityJSON file: its objects, its LODs, its vertices in local metres (centred on the extent). */
export interface ICityModel {
  version: string;
  crs: string | null;
  objects: ICityObject[];
  lods: string[];
  /** the real-world coordinates of the local origin */
  origin: [number, number, number];
  vertices: Float64Array;
  doc: any;
}

/** The LOD of a geometry as a string ("2" and 2 are the same LOD). */
function lodName(lod: unknown): string {
  return lod === undefined || lod === null ? '?' : String(lod);
}

/** Parse the text of a file; throws a CityJSONError with a one-line message when it is not a usable CityJSON. */
export function parseCityJSON(text: string): ICityModel {
  let doc: any;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const detail = String((err as Error).message ?? err).split('\n')[0];
    throw new CityJSONError(`This file is not valid JSON (${detail}).`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc) || doc.type !== 'CityJSON') {
    const kind = doc && typeof doc === 'object' && typeof doc.type === 'string' ? ` (its type is "${doc.type}")` : '';
    throw new CityJSONError(`This is not a CityJSON file${kind}.`);
  }
  const raw = doc.vertices;
  const cityObjects = doc.CityObjects;
  if (!Array.isArray(raw) || raw.length === 0 || !cityObjects || typeof cityObjects !== 'object') {
    throw new CityJSONError('This CityJSON file has no geometry to show (no vertices or no city objects).');
  }
  const scale: number[] = doc.transform?.scale ?? [1, 1, 1];
  const translate: number[] = doc.transform?.translate ?? [0, 0, 0];
  const world = new Float64Array(raw.length * 3);
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i];
    for (let k = 0; k < 3; k++) {
      const x = Number(v?.[k]) * Number(scale[k]) + Number(translate[k]);
      world[3 * i + k] = x;
      if (x < lo[k]) {
        lo[k] = x;
      }
      if (x > hi[k]) {
        hi[k] = x;
      }
    }
  }
  if (!lo.every(Number.isFinite) || !hi.every(Number.isFinite)) {
    throw new CityJSONError('This CityJSON file has vertices that are not numbers.');
  }
  // local coordinates around the centre of the extent (ground at the lowest vertex): projected coordinates of
  // millions of metres would lose centimetres in the GPU's 32-bit floats
  const origin: [number, number, number] = [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]];
  for (let i = 0; i < world.length; i += 3) {
    world[i] -= origin[0];
    world[i + 1] -= origin[1];
    world[i + 2] -= origin[2];
  }
  const objects: ICityObject[] = [];
  const lods = new Set<string>();
  for (const [id, obj] of Object.entries<any>(cityObjects)) {
    objects.push({
      id,
      type: String(obj?.type ?? '?'),
      attributes: obj?.attributes && typeof obj.attributes === 'object' ? obj.attributes : {},
      parents: Array.isArray(obj?.parents) ? obj.parents.map(String) : []
    });
    for (const g of Array.isArray(obj?.geometry) ? obj.geometry : []) {
      if (g && Array.isArray(g.boundaries)) {
        lods.add(lodName(g.lod));
      }
    }
  }
  if (lods.size === 0) {
    throw new CityJSONError('This CityJSON file has no geometry to show (its city objects have none).');
  }
  const crs = typeof doc.metadata?.referenceSystem === 'string' ? doc.metadata.referenceSystem : null;
  return {
    version: String(doc.version ?? '?'),
    crs: crs ? crs.replace(/^.*\/EPSG\/0\/(\d+)$/, 'EPSG:$1') : null,
    objects,
    lods: [...lods].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b)),
    origin,
    vertices: world,
    doc
  };
}

/** Surfaces of a geometry with their semantic value: [rings, value] (boundaries and values nest alike). */
function* surfaces(g: any): Generator<[any[], number | null]> {
  const b = g.boundaries;
  const v = g.semantics?.values;
  const at = (arr: any, i: number) => (Array.isArray(arr) ? arr[i] : null);
  switch (g.type) {
    case 'MultiSurface':
    case 'CompositeSurface':
      for (let i = 0; i < b.length; i++) {
        yield [b[i], at(v, i)];
      }
      break;
    case 'Solid':
      for (let s = 0; s < b.length; s++) {
        for (let i = 0; i < (b[s]?.length ?? 0); i++) {
          yield [b[s][i], at(at(v, s), i)];
        }
      }
      break;
    case 'MultiSolid':
    case 'CompositeSolid':
      for (let d = 0; d < b.length; d++) {
        for (let s = 0; s < (b[d]?.length ?? 0); s++) {
          for (let i = 0; i < (b[d][s]?.length ?? 0); i++) {
            yield [b[d][s][i], at(at(at(v, d), s), i)];
          }
        }
      }
      break;
    default:
      break; // points, lines and template instances draw no surface
  }
}

/** A growable triangle soup. */
class SoupBuilder {
  positions: number[] = [];
  normals: number[] = [];
  owners: number[] = [];
  ranges = new Map<number, [number, number]>();

  add(owner: number, a: number[], b: number[], c: number[], n: number[]): void {
    const t = this.owners.length;
    const r = this.ranges.get(owner);
    if (r && r[0] + r[1] === t) {
      r[1]++;
    } else if (!r) {
      this.ranges.set(owner, [t, 1]);
    }
    this.positions.push(...a, ...b, ...c);
    this.normals.push(...n, ...n, ...n);
    this.owners.push(owner);
  }

  build(): ISoup {
    return {
      positions: new Float32Array(this.positions),
      normals: new Float32Array(this.normals),
      owners: new Uint32Array(this.owners),
      ranges: this.ranges
    };
  }
}

/** Triangles of one polygon (outer ring then holes, vertex indices) pushed to `soup`, facing its Newell normal. */
function triangulate(rings: any[], verts: Float64Array, owner: number, soup: SoupBuilder): boolean {
  const nv = verts.length / 3;
  const pts: number[][][] = [];
  for (const ring of rings) {
    if (!Array.isArray(ring)) {
      return false;
    }
    const r: number[][] = [];
    for (const i of ring) {
      if (!Number.isInteger(i) || i < 0 || i >= nv) {
        return false;
      }
      r.push([verts[3 * i], verts[3 * i + 1], verts[3 * i + 2]]);
    }
    pts.push(r);
  }
  const outer = pts[0];
  if (!outer || outer.length < 3) {
    return false;
  }
  // Newell's normal of the outer ring: its orientation is the surface's (outwards for a solid)
  const n = [0, 0, 0];
  for (let i = 0; i < outer.length; i++) {
    const p = outer[i];
    const q = outer[(i + 1) % outer.length];
    n[0] += (p[1] - q[1]) * (p[2] + q[2]);
    n[1] += (p[2] - q[2]) * (p[0] + q[0]);
    n[2] += (p[0] - q[0]) * (p[1] + q[1]);
  }
  const len = Math.hypot(n[0], n[1], n[2]);
  if (!(len > 0)) {
    return false;
  }
  n[0] /= len;
  n[1] /= len;
  n[2] /= len;
  let tris: number[][];
  const flat = pts.flat();
  if (pts.length === 1 && outer.length === 3) {
    tris = [[0, 1, 2]];
  } else {
    // drop the axis the normal is closest to: the polygon projects onto the other two without folding
    const ax = Math.abs(n[0]);
    const ay = Math.abs(n[1]);
    const az = Math.abs(n[2]);
    const [u, w] = az >= ax && az >= ay ? [0, 1] : ax >= ay ? [1, 2] : [2, 0];
    const flat2 = pts.map(r => r.map(p => new Vector2(p[u], p[w])));
    tris = ShapeUtils.triangulateShape(flat2[0], flat2.slice(1));
  }
  let added = false;
  for (const [i, j, k] of tris) {
    const a = flat[i];
    let b = flat[j];
    let c = flat[k];
    const cross = [
      (b[1] - a[1]) * (c[2] - a[2]) - (b[2] - a[2]) * (c[1] - a[1]),
      (b[2] - a[2]) * (c[0] - a[0]) - (b[0] - a[0]) * (c[2] - a[2]),
      (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
    ];
    const dot = cross[0] * n[0] + cross[1] * n[1] + cross[2] * n[2];
    if (dot === 0) {
      continue; // degenerate
    }
    if (dot < 0) {
      [b, c] = [c, b]; // wound as the surface faces, so lighting and back faces agree
    }
    soup.add(owner, a, b, c, n);
    added = true;
  }
  return added;
}

/**
 * The merged meshes of one LOD. Every `chunk` objects it awaits `pause()` so that a large file leaves the page
 * responsive while it is triangulated.
 */
export async function lodMeshes(
  model: ICityModel,
  lod: string,
  pause: () => Promise<void> = async () => undefined,
  chunk = 500
): Promise<ILodMeshes> {
  const builders = Object.fromEntries(SURFACE_CLASSES.map(c => [c, new SoupBuilder()])) as Record<
    SurfaceClass,
    SoupBuilder
  >;
  const cityObjects = model.doc.CityObjects;
  let skipped = 0;
  let drawn = 0;
  for (let o = 0; o < model.objects.length; o++) {
    if (o > 0 && o % chunk === 0) {
      await pause();
    }
    const obj = cityObjects[model.objects[o].id];
    let any = false;
    for (const g of Array.isArray(obj?.geometry) ? obj.geometry : []) {
      if (!g || !Array.isArray(g.boundaries) || lodName(g.lod) !== lod) {
        continue;
      }
      const types: any[] = g.semantics?.surfaces ?? [];
      for (const [rings, value] of surfaces(g)) {
        const type = value === null || value === undefined ? undefined : types[value]?.type;
        const cls: SurfaceClass = (type && CLASS_OF[type]) || 'other';
        if (Array.isArray(rings) && triangulate(rings, model.vertices, o, builders[cls])) {
          any = true;
        } else {
          skipped++;
        }
      }
    }
    drawn += any ? 1 : 0;
  }
  const soups = Object.fromEntries(SURFACE_CLASSES.map(c => [c, builders[c].build()])) as Record<
    SurfaceClass,
    ISoup
  >;
  return { lod, soups, objects: drawn, skipped };
}
