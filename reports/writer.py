"""Placeholder until the full writer lands."""
import html
import os


def write_report(result, path, previous=None):
    s = result["summary"]
    body = f"<h1>AD conformance: {html.escape(s['gate'])}</h1>"
    tmp = str(path) + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(f"<!doctype html><meta charset=utf-8><title>AD conformance</title>{body}")
    os.replace(tmp, path)
