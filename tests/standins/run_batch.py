"""A stand-in for `python -m vllm.entrypoints.openai.run_batch -i IN -o OUT --model M`: every
request line of IN is sent to an OpenAI-compatible server, and OUT gets one batch output line
per request, in the format vLLM's runner (and OpenAI's Batch API) writes."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-i", "--input-file", required=True)
    ap.add_argument("-o", "--output-file", required=True)
    ap.add_argument("--url", required=True, help="base URL of the server that answers")
    args = ap.parse_args()
    with open(args.input_file, encoding="utf-8") as fin, open(args.output_file, "w", encoding="utf-8") as fout:
        for n, line in enumerate(fin):
            req = json.loads(line)
            http = urllib.request.Request(args.url.rstrip("/") + "/chat/completions",
                                          data=json.dumps(req["body"]).encode(),
                                          headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(http, timeout=30) as r:
                    status, body = r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                status, body = e.code, json.loads(e.read() or b"{}")
            fout.write(json.dumps({"id": f"vllm-{n}", "custom_id": req["custom_id"],
                                   "response": {"status_code": status, "request_id": f"req-{n}", "body": body},
                                   "error": None}) + "\n")


if __name__ == "__main__":
    main()
