"""A stand-in for a pricing API on 127.0.0.1:8765: ``GET /price/SKU`` -> ``{"sku", "price"}``,
``GET /skus`` -> the catalogue (a list of SKUs).

Its data has the kind of surprise production data has: gizmo's price is "n/a"."""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PRICES = {"widget": "2.50", "gadget": "10.00", "gizmo": "n/a"}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        if self.path == "/skus":
            found, body = True, json.dumps(sorted(PRICES)).encode()
        else:
            sku = self.path.rpartition("/")[2]
            found = sku in PRICES
            body = json.dumps({"sku": sku, "price": PRICES.get(sku)}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    print(f"pricing API on http://127.0.0.1:{port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
