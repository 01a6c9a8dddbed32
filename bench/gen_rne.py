#!/usr/bin/env python3
"""Writes a synthetic "conseillers municipaux" file in the real RNE format (16 columns, `;`,
French headers, dd/mm/yyyy dates, UTF-8 with BOM) over every commune of data/communes.json.gz:
a mayor, deputies, then councillors, until N rows. For benchmarks only: the people are made up.

usage: bench/gen_rne.py N OUT.csv
"""
import gzip
import json
import random
import sys
from pathlib import Path

HEADER = ("Code du département;Libellé du département;Code de la collectivité à statut particulier;"
          "Libellé de la collectivité à statut particulier;Code de la commune;Libellé de la commune;"
          "Nom de l'élu;Prénom de l'élu;Code sexe;Date de naissance;Code de la catégorie socio-professionnelle;"
          "Libellé de la catégorie socio-professionnelle;Date de début du mandat;Libellé de la fonction;"
          "Date de début de la fonction;Code nationalité")
LAST = ["MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU", "LAURENT",
        "SIMON", "MICHEL", "LEFÈVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL", "FOURNIER", "GIRARD"]
FIRST_F = ["Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Claire", "Léa", "Chloé", "Inès", "Anne"]
FIRST_M = ["Jean", "Pierre", "Michel", "Philippe", "Alain", "Nicolas", "Éric", "Luc", "Hugo", "Paul"]


def main():
    n, out = int(sys.argv[1]), Path(sys.argv[2])
    root = Path(__file__).resolve().parent.parent
    communes = [c for c in json.load(gzip.open(root / "data" / "communes.json.gz"))
                if c["type"] == "commune-actuelle"]
    deps = {d["code"]: d["nom"] for d in json.load(open(root / "data" / "departements.json", encoding="utf-8"))}
    rng = random.Random(42)
    per = max(1, n // len(communes) + 1)
    written = 0
    with open(out, "w", encoding="utf-8-sig", newline="\n") as f:
        f.write(HEADER + "\n")
        for c in communes:
            for i in range(per):
                if written >= n:
                    break
                sex = rng.choice("MF")
                first = rng.choice(FIRST_F if sex == "F" else FIRST_M)
                last = rng.choice(LAST) + ("" if i < 20 else f"-{i}")
                birth = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1940, 2005)}"
                function = "Maire" if i == 0 else (f"{i}{'er' if i == 1 else 'ème'} adjoint au maire" if i <= 4 else "")
                fstart = "23/03/2026" if function else ""
                code = c["code"]
                f.write(";".join([c["departement"], deps.get(c["departement"], ""), "", "", code, c["nom"], last,
                                  f"{first} {i}", sex, birth, "37", "Cadres", "15/03/2026", function, fstart, "FR"]) + "\n")
                written += 1
    print(f"{written} rows written to {out}")


if __name__ == "__main__":
    main()
