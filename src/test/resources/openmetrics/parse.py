#!/usr/bin/python3
"""Parses OpenMetrics text from stdin with the Prometheus client's own parser
(Debian: python3-prometheus-client) and prints it as JSON:
{"families": {NAME: {"type": T, "unit": U, "help": H}},
 "samples": [{"name": N, "labels": {...}, "value": V}, ...]}.
Any violation of the format makes the parser raise: exit status 1 and the reason on stderr."""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

text = sys.stdin.read()
families = {}
samples = []
try:
    for family in text_string_to_metric_families(text):
        families[family.name] = {"type": family.type, "unit": family.unit, "help": family.documentation}
        for s in family.samples:
            samples.append({"name": s.name, "labels": s.labels, "value": s.value})
except Exception as e:  # noqa: BLE001 - the reason is the test's output
    print("not valid OpenMetrics: %s" % e, file=sys.stderr)
    sys.exit(1)
json.dump({"families": families, "samples": samples}, sys.stdout)
