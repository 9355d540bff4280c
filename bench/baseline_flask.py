#!/usr/bin/python3
"""baseline_flask.py MANIFEST [--port N] - the classic Flask `/predict` service, as a baseline
for bench/fw_bench: POST a JPEG body to /predict, get {"type":"result","top":[...]} back (400 with
{"type":"error"} for a bad image). Werkzeug's threaded server with HTTP/1.1 keep-alive, one
request per thread, the model shared (libtorch releases the GIL in the forward). Prints
"listening on http://127.0.0.1:PORT/" when ready (--port 0: any free port).

Needs Debian's python3-flask, python3-pil and python3-torch; run with /usr/bin/python3.
"""
import logging
import sys

from flask import Flask, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

from baseline_model import load_from_command_line


def main():
    args, model = load_from_command_line()
    app = Flask("baseline_flask")

    @app.post("/predict")
    def predict():
        try:
            top_k = int(request.args.get("top_k", 5))
            answer = model.classify(request.get_data(), top_k)
        except Exception as e:  # noqa: BLE001 - a bad image is the client's error
            return jsonify({"type": "error", "message": f"{type(e).__name__}: {e}"}), 400
        answer["type"] = "result"
        return jsonify(answer)

    # No line per request on stderr: fw_bench reads a baseline's output only until it is ready,
    # and a full pipe would stall the logging thread with the logging lock held (every request
    # thread then waits on that lock). uvicorn's baseline runs at log level warning likewise.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    WSGIRequestHandler.protocol_version = "HTTP/1.1"  # keep-alive, as framewire's REST has
    srv = make_server("127.0.0.1", args.port, app, threaded=True)
    print(f"listening on http://127.0.0.1:{srv.server_port}/", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
