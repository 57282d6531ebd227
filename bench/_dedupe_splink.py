"""The Splink 5 (DuckDB backend) side of `bench/dedupe.py`; runs in its own virtual environment.

Usage: python _dedupe_splink.py INPUT.csv OUTPUT.csv. Comparisons and blocking mirror the
revops settings of the benchmark; u by random sampling, λ from deterministic rules, m by EM
sessions on two blocking rules, as in Splink's own FEBRL tutorials. Prints one JSON line with
the seconds from reading the CSV to scored pairs (imports excluded, as for revops).
"""

from __future__ import annotations

import json
import sys
import time

import pyarrow.csv as pacsv
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on


def main() -> None:
    source, target = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    db_api = DuckDBAPI()
    with open(source) as fh:
        names = fh.readline().strip().split(",")
    as_text = pacsv.ConvertOptions(column_types=dict.fromkeys(names, "string"))
    df = db_api.register(pacsv.read_csv(source, convert_options=as_text))
    settings = SettingsCreator(
        unique_id_column_name="id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("date_of_birth"),
            block_on("substr(surname, 1, 3)", "postcode"),
            block_on("given_name", "surname"),
            block_on("street_number", "substr(address_1, 1, 3)"),
            block_on("substr(given_name, 1, 3)", "suburb"),
            block_on("substr(address_1, 1, 3)", "postcode"),
        ],
        comparisons=[
            cl.JaroWinklerAtThresholds("given_name", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("surname", [0.92, 0.8]),
            cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("suburb", [0.92, 0.8]),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]),
            cl.ExactMatch("state"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(df, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("given_name", "surname")
    )
    pairs = linker.inference.predict(threshold_match_probability=0.5).as_duckdbpyrelation()
    pairs.select("id_l, id_r, match_probability").write_csv(target)
    print(json.dumps({"seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
