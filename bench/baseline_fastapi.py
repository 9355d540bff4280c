#!/usr/bin/python3
"""baseline_fastapi.py MANIFEST [--port N] - the usual FastAPI WebSocket glue, as a baseline for
bench/fw_bench: a WebSocket at / that takes one JPEG per binary message and sends one JSON result
per frame, in order, on uvicorn. Each frame is classified in Starlette's thread pool
(run_in_threadpool), so the event loop keeps reading while the model runs.

To be driven by the same load generator as framewire it accepts the `framewire.v1` subprotocol
and reads framewire's 24-byte frame header (docs/protocol.md) for the frame id; a bare JPEG gets
the next number. Text messages (framewire's config) are ignored: it has no policies, no drops, no
batching. Answers: {"type":"result","frame_id":N,"top":[...]} or {"type":"error",...}.
Prints "listening on http://127.0.0.1:PORT/" when ready (--port 0: any free port).

Needs Debian's python3-fastapi, python3-uvicorn, python3-websockets, python3-pil and
python3-torch; run with /usr/bin/python3.
"""
import json
import socket
import struct
import sys

import uvicorn
from fastapi import FastAPI, WebSocket
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from baseline_model import load_from_command_line

HEADER = struct.Struct("<2sBBIQQ")  # magic "FW", version 1, header length, flags, id, capture


def main():
    args, model = load_from_command_line()
    app = FastAPI()

    @app.websocket("/")
    async def stream(ws: WebSocket):
        await ws.accept(subprotocol="framewire.v1")
        number = 0
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    return
                data = msg.get("bytes")
                if data is None:
                    continue
                if len(data) >= HEADER.size and data[:2] == b"FW":
                    _, _, hlen, _, frame_id, capture = HEADER.unpack_from(data)
                    jpeg = data[hlen:]
                else:
                    number += 1
                    frame_id, capture, jpeg = number, 0, data
                try:
                    answer = await run_in_threadpool(model.classify, jpeg)
                    answer = {"type": "result", "frame_id": frame_id, "capture_ts_us": capture,
                              **answer}
                except Exception as e:  # noqa: BLE001 - a bad image is the client's error
                    answer = {"type": "error", "frame_id": frame_id,
                              "message": f"{type(e).__name__}: {e}"}
                await ws.send_text(json.dumps(answer))
        except WebSocketDisconnect:
            return

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="websockets", lifespan="off")
    server = uvicorn.Server(config)
    print(f"listening on http://127.0.0.1:{port}/", flush=True)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
