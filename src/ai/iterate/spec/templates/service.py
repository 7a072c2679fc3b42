#!/usr/bin/env python3
"""A JSON CRUD service for the entities in schema.json, written by `naap generate`.

Standard library only. Records live in memory (a restart forgets them). Every collection
answers GET/POST /<collection> and GET/PUT/DELETE /<collection>/<id>; GET /health answers
naap's health checks. PUT changes only the fields it sends. A bad request answers 400 with
{"error": "...", "field": "..."}.
"""

import argparse
import json
import os
import sys
import threading
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "schema.json"), encoding="utf-8") as schema_file:
    SCHEMA = json.load(schema_file)
COLLECTIONS = {entity["collection"]: entity for entity in SCHEMA["entities"]}
BY_NAME = {entity["name"]: entity for entity in SCHEMA["entities"]}
MAX_BODY = 1 << 20


class Invalid(Exception):
    """A request the service refuses; answered as 400 (or `status`) with the field named."""

    def __init__(self, message, field=None, status=400):
        super().__init__(message)
        self.message, self.field, self.status = message, field, status


class Store:
    """Records per collection, behind one lock: the server answers from many threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records = {name: {} for name in COLLECTIONS}

    def list(self, collection):
        with self.lock:
            return list(self.records[collection].values())

    def get(self, collection, record_id):
        with self.lock:
            return self.records[collection].get(record_id)

    def exists(self, entity_name, record_id):
        collection = BY_NAME[entity_name]["collection"]
        with self.lock:
            return record_id in self.records[collection]

    def put(self, collection, record):
        with self.lock:
            self.records[collection][record["id"]] = record

    def delete(self, collection, record_id):
        with self.lock:
            return self.records[collection].pop(record_id, None) is not None


STORE = Store()


def check_value(field, value):
    """The stored form of `value` for `field`, or Invalid saying what is expected."""
    name, kind = field["name"], field["type"]
    if value is None:
        if field["optional"]:
            return None
        raise Invalid("%s is required and cannot be null" % name, name)
    if kind == "uuid" or kind == "reference":
        if not isinstance(value, str):
            raise Invalid("%s must be a UUID string" % name, name)
        try:
            uuid.UUID(value)
        except ValueError:
            raise Invalid("%s must be a UUID, got %r" % (name, value), name) from None
        if kind == "reference" and not STORE.exists(field["of"], value):
            raise Invalid("%s: no %s with id %s" % (name, field["of"], value), name)
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise Invalid("%s must be a string" % name, name)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid("%s must be a whole number" % name, name)
        return value
    if kind == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise Invalid("%s must be a decimal number, e.g. 12.50" % name, name)
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise Invalid("%s must be a decimal number, e.g. 12.50, got %r" % (name, value), name) from None
        if not number.is_finite():
            raise Invalid("%s must be a finite number" % name, name)
        return str(number)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise Invalid("%s must be true or false" % name, name)
        return value
    if kind == "date_time":
        if not isinstance(value, str):
            raise Invalid("%s must be an ISO 8601 date and time string" % name, name)
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Invalid("%s must be an ISO 8601 date and time, e.g. 2026-01-31T12:00:00Z, got %r" % (name, value), name) from None
        return value
    if kind == "enum":
        if value not in field["of"]:
            raise Invalid("%s must be one of %s, got %r" % (name, ", ".join(field["of"]), value), name)
        return value
    raise Invalid("%s has a type this service does not know: %s" % (name, kind), name, 500)


def validated(entity, body, current=None):
    """A full record from `body`: a new one (current is None) or `current` updated."""
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    fields = {field["name"]: field for field in entity["fields"]}
    for key in body:
        if key not in fields:
            raise Invalid("%s has no field %r; its fields are %s" % (entity["name"], key, ", ".join(fields)), key)
    if "id" in body and (current is None or body["id"] != current["id"]):
        raise Invalid("id is assigned by the service", "id")
    record = dict(current) if current else {}
    for name, field in fields.items():
        if name == "id":
            continue
        if name in body:
            record[name] = check_value(field, body[name])
        elif current is None:
            if field.get("default") is not None:
                record[name] = field["default"]
            elif field["optional"]:
                record[name] = None
            else:
                raise Invalid("%s is required" % name, name)
    record["id"] = current["id"] if current else str(uuid.uuid4())
    return record


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "naap-scaffold"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.answer("GET")

    def do_POST(self):
        self.answer("POST")

    def do_PUT(self):
        self.answer("PUT")

    def do_DELETE(self):
        self.answer("DELETE")

    def answer(self, method):
        try:
            status, body = self.route(method)
        except Invalid as e:
            status, body = e.status, {"error": e.message, "field": e.field}
        except Exception as e:  # an answer, not a dropped connection, for any bug
            status, body = 500, {"error": "internal error: %s" % e, "field": None}
        self.reply(status, body)

    def route(self, method):
        parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
        if parts == ["health"]:
            return 200, {"status": "ok"}
        if not parts:
            if method != "GET":
                raise Invalid("only GET is allowed on /", status=405)
            return 200, {"plugin": SCHEMA["plugin"], "collections": sorted(COLLECTIONS)}
        entity = COLLECTIONS.get(parts[0])
        if entity is None or len(parts) > 2:
            raise Invalid("no such route: %s; the collections are %s" % (self.path, ", ".join("/" + c for c in sorted(COLLECTIONS))), status=404)
        collection = parts[0]
        if len(parts) == 1:
            if method == "GET":
                return 200, STORE.list(collection)
            if method == "POST":
                record = validated(entity, self.json_body())
                STORE.put(collection, record)
                return 201, record
            raise Invalid("use GET or POST on /%s" % collection, status=405)
        record_id = parts[1]
        current = STORE.get(collection, record_id)
        if method not in ("GET", "PUT", "DELETE"):
            raise Invalid("use GET, PUT or DELETE on /%s/<id>" % collection, status=405)
        if current is None:
            raise Invalid("no %s with id %s" % (entity["name"], record_id), status=404)
        if method == "GET":
            return 200, current
        if method == "PUT":
            record = validated(entity, self.json_body(), current)
            STORE.put(collection, record)
            return 200, record
        STORE.delete(collection, record_id)
        return 204, None

    def json_body(self):
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            raise Invalid("content-length is not a number") from None
        if length > MAX_BODY:
            raise Invalid("the body is larger than %d bytes" % MAX_BODY, status=413)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError as e:
            raise Invalid("the body is not JSON: %s" % e) from None

    def reply(self, status, body):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # naap passes the slot's port as --port {port} (and sets PORT); 0 picks a free one.
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    # The bound port, first on stdout: the tests start the service on port 0 and read it.
    print("listening on %s:%d" % server.server_address[:2], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
