#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An Elasticsearch `_bulk` test server that follows the documented contract (tests only).

Follows ../shared/reference/elastic.md §4 (request, response, retryable errors,
size and compression, authentication, minimal endpoint set, and the §4.7
checklist of a faithful `_bulk` emulator).  Error bodies and messages are the
ones Elasticsearch 8/9 produces (BulkRequestParser, TransportBulkAction,
security's authentication failure handler); where a message could not be
checked against the ES source it is marked "approximate" in
tests/servers/es_server.md.  Stdlib only.

Run:  /usr/bin/python3 tests/servers/es_server.py [--port 0] [--control-port 0]
      [--user U:P] [--api-key ID:KEY] [--bearer TOKEN] [--data-stream PATTERN ...]
      [--max-content-length 100mb] [--es-version 8.17.3] [--no-stdin-watch]
Listens on 127.0.0.1 only and prints `READY port=<port> control=<port>` once
listening.  Exits on SIGTERM/SIGINT, on POST /_control/shutdown, or when stdin
reaches EOF (unless --no-stdin-watch).

`/_control/...` (no auth, never logged or counted) is served on both ports;
the control port stays up while the main port is `down`.
"""
import argparse
import base64
import collections
import errno
import fnmatch
import gzip
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid as uuidlib
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

PRODUCT = "Elasticsearch"
SUPPORTED_ACTIONS = ("create", "index", "update", "delete")
# Metadata keys BulkRequestParser accepts on an action line (scalar values).
META_KEYS = {"_index", "_id", "routing", "op_type", "version", "version_type", "if_seq_no",
             "if_primary_term", "retry_on_conflict", "pipeline", "_source", "require_alias",
             "require_data_stream", "list_executed_pipelines"}
WWW_BASIC = 'Basic realm="security" charset="UTF-8"'
WWW_BEARER = 'Bearer realm="security"'
WWW_APIKEY = "ApiKey"
REQUEST_LOG_MAX = 1000
# URL parameters RestBulkAction consumes, plus the global ones (§4.1).
BULK_PARAMS = {"pipeline", "refresh", "routing", "timeout", "wait_for_active_shards", "require_alias",
               "require_data_stream", "_source", "_source_excludes", "_source_includes",
               "include_source_on_error", "list_executed_pipelines", "type",
               "filter_path", "pretty", "human", "error_trace", "format"}
SHARDS_OK = {"total": 2, "successful": 1, "failed": 0}


def parse_size(text):
    """`http.max_content_length` syntax: 100mb, 512kb, 1gb, 42b, or bare bytes."""
    m = re.fullmatch(r"\s*(\d+)\s*(b|kb|mb|gb)?\s*", str(text).lower())
    if not m:
        raise argparse.ArgumentTypeError("size like 100mb, 64kb or 1024")
    return int(m.group(1)) * {None: 1, "b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30}[m.group(2)]


def token_name(v):
    """Jackson token name of a parsed JSON value's first token."""
    if isinstance(v, dict):
        return "START_OBJECT"
    if isinstance(v, list):
        return "START_ARRAY"
    if isinstance(v, str):
        return "VALUE_STRING"
    if isinstance(v, bool):
        return "VALUE_BOOLEAN"
    if v is None:
        return "VALUE_NULL"
    return "VALUE_NUMBER"


class EsError(Exception):
    """A whole-request error: ES's `{"error":{"root_cause":[…],…},"status":N}`."""

    def __init__(self, status, etype, reason, extra=None, headers=None):
        super().__init__(reason)
        self.status, self.etype, self.reason = status, etype, reason
        self.extra = extra or {}
        self.headers = headers or []

    def body(self):
        cause = dict({"type": self.etype, "reason": self.reason}, **self.extra)
        top = dict({"root_cause": [cause]}, **cause)
        return {"error": top, "status": self.status}


def validation_error(errors):
    return EsError(400, "action_request_validation_exception",
                   "Validation Failed: " + "".join("%d: %s;" % (i + 1, e)
                                                   for i, e in enumerate(errors)))


# ---- filter_path ---------------------------------------------------------------------
_MISSING = object()


def filter_path(obj, spec):
    """ES's `filter_path`: comma-separated dotted paths, `*` in a segment, `**` any depth;
    arrays are traversed transparently; empty objects and arrays are dropped."""
    pats = [p.split(".") for p in spec.split(",") if p.strip()]
    if not pats:
        return obj

    def walk(o, pats):
        if any(len(p) == 0 for p in pats):
            return o
        if isinstance(o, list):
            out = [r for r in (walk(x, pats) for x in o) if r is not _MISSING]
            return out if out else _MISSING
        if isinstance(o, dict):
            out = {}
            for k, v in o.items():
                sub = []
                for p in pats:
                    if p[0] == "**":
                        sub.append(p)            # keep matching deeper
                        sub.append(p[1:])        # or stop here
                        if len(p) > 1 and fnmatch.fnmatchcase(k, p[1]):
                            sub.append(p[2:])
                    elif fnmatch.fnmatchcase(k, p[0]):
                        sub.append(p[1:])
                if sub:
                    r = walk(v, sub)
                    if r is not _MISSING:
                        out[k] = r
            return out if out else _MISSING
        return _MISSING

    r = walk(obj, pats)
    return {} if r is _MISSING else r


# ---- state -----------------------------------------------------------------------------
class Index:
    def __init__(self, name, data_stream=None):
        self.name = name
        self.uuid = base64.urlsafe_b64encode(uuidlib.uuid4().bytes)[:22].decode()
        self.docs = {}          # _id -> {"_version","_seq_no","_primary_term","_source"}
        self.seq_no = -1        # last assigned sequence number
        self.data_stream = data_stream
        self.created = time.time()

    def next_seq(self):
        self.seq_no += 1
        return self.seq_no


class State:
    """Everything shared between handler threads; every field under `lock`."""

    def __init__(self, args):
        self.lock = threading.RLock()
        self.args = args
        self.max_content_length = args.max_content_length
        self.users = dict(u.split(":", 1) for u in args.user)
        self.api_keys = dict(k.split(":", 1) for k in args.api_key)
        self.bearers = set(args.bearer)
        self.ds_patterns = list(args.data_stream)
        self.cluster_uuid = base64.urlsafe_b64encode(uuidlib.uuid4().bytes)[:22].decode()
        self.reset()

    def reset(self):
        with self.lock:
            self.indices = {}           # concrete index name -> Index
            self.data_streams = {}      # data stream name -> backing index name
            self.index_templates = {}
            self.component_templates = {}
            self.ilm_policies = {}
            self.requests = collections.deque(maxlen=REQUEST_LOG_MAX)
            self.stats = {"requests": 0, "bulk_requests": 0, "items": 0, "items_by_status": {},
                          "responses_by_status": {}, "bytes_received": 0, "bytes_decoded": 0,
                          "dropped": 0, "injected": {}}
            self.reject = None          # {"count","status","type","reason","all"}
            self.item_errors = None     # {"count","status","match","type","reason"}
            self.too_large = 0
            self.slow = None            # {"count","seconds","all"}
            self.drop = None            # {"count","all"}
            self.auto_id = 0

    def auth_required(self):
        return bool(self.users or self.api_keys or self.bearers)

    def www_authenticate(self):
        h = [WWW_BASIC]
        if self.bearers:
            h.append(WWW_BEARER)
        h.append(WWW_APIKEY)
        return h

    def count_injected(self, what):
        self.stats["injected"][what] = self.stats["injected"].get(what, 0) + 1

    # ---- data streams --------------------------------------------------------------
    def is_data_stream_name(self, name):
        if name in self.data_streams:
            return True
        if any(fnmatch.fnmatchcase(name, p) for p in self.ds_patterns):
            return True
        for t in self.index_templates.values():
            if isinstance(t, dict) and "data_stream" in t:
                pats = t.get("index_patterns") or []
                if isinstance(pats, str):
                    pats = [pats]
                if any(fnmatch.fnmatchcase(name, p) for p in pats):
                    return True
        return False

    def backing_index(self, ds):
        """The write index of data stream `ds`, created on first use."""
        name = self.data_streams.get(ds)
        if name is None:
            name = ".ds-%s-%s-000001" % (ds, time.strftime("%Y.%m.%d", time.gmtime()))
            self.data_streams[ds] = name
            self.indices[name] = Index(name, data_stream=ds)
        return self.indices[name]

    def resolve_docs_target(self, name):
        if name in self.data_streams:
            return self.data_streams[name]
        return name


def now_ms():
    return int(time.time() * 1000)


def next_auto_id(state):
    """A 20-character URL-safe id, like ES's time-based UUIDs."""
    state.auto_id += 1
    raw = int(time.time() * 1000).to_bytes(6, "big") + state.auto_id.to_bytes(4, "big") + os.urandom(5)
    return base64.urlsafe_b64encode(raw).decode()[:20]


def deep_merge(dst, src):
    """UpdateHelper's XContentHelper.update: objects merge recursively; returns changed."""
    changed = False
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            changed |= deep_merge(dst[k], v)
        elif k not in dst or dst[k] != v:
            dst[k] = v
            changed = True
    return changed


def index_name_error(name):
    if name != name.lower():
        return "must be lowercase"
    if name[:1] in ("_", "-", "+"):
        return "must not start with '_', '-', or '+'"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    for ch in '\\/*?"<>| ,#:':
        if ch in name:
            return 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'
    return None


# ---- bulk parsing (BulkRequestParser, ES 9 strict) ----------------------------------------
class Op:
    __slots__ = ("action", "index", "id", "meta", "source_raw", "line", "raw_text", "update")

    def __init__(self, action, index, id_, meta, line):
        self.action, self.index, self.id, self.meta, self.line = action, index, id_, meta, line
        self.source_raw = None
        self.raw_text = ""
        self.update = None


def _xcontent_error(text, e, line):
    # approximate wording of Jackson's message (position [line:col] is ES's prefix)
    return EsError(400, "x_content_parse_exception", "[1:%d] %s" % (e.colno, e.msg))


def parse_bulk(body, default_index, params):
    """Split NDJSON the way BulkRequestParser does; returns a list of Op or raises EsError."""
    ops = []
    line = 0
    pos = 0
    n = len(body)
    cur = None
    dec = json.JSONDecoder()
    while True:
        nl = body.find(b"\n", pos)
        if nl == -1:
            if pos != n:
                raise EsError(400, "illegal_argument_exception",
                              "The bulk request must be terminated by a newline [\\n]")
            break
        chunk = body[pos:nl]
        pos = nl + 1
        line += 1
        if cur is not None:                     # the document line of cur
            if chunk.endswith(b"\r"):
                chunk = chunk[:-1]
            cur.source_raw = chunk
            cur.raw_text += "\n" + chunk.decode("utf-8", "replace")
            if cur.action == "update":
                try:
                    u = json.loads(chunk.decode("utf-8"))
                except (ValueError, UnicodeDecodeError) as e:
                    if isinstance(e, ValueError) and hasattr(e, "colno"):
                        raise _xcontent_error(chunk, e, line)
                    raise EsError(400, "x_content_parse_exception", "[1:1] invalid UTF-8")
                if not isinstance(u, dict):
                    raise EsError(400, "x_content_parse_exception",
                                  "[1:1] Unknown token [%s] for update request" % token_name(u))
                cur.update = u
            ops.append(cur)
            cur = None
            continue
        text = chunk.decode("utf-8", "replace")
        if not text.strip():
            continue                            # an empty line is skipped (token == null)
        try:
            obj, end = dec.raw_decode(text.lstrip())
        except ValueError as e:
            raise EsError(400, "x_content_parse_exception", "[1:%d] %s" % (getattr(e, "colno", 1),
                                                                             getattr(e, "msg", str(e))))
        rest = text.lstrip()[end:]
        if not isinstance(obj, dict):
            raise EsError(400, "illegal_argument_exception",
                          "Malformed action/metadata line [%d], expected START_OBJECT but found [%s]"
                          % (line, token_name(obj)))
        if not obj:
            raise EsError(400, "illegal_argument_exception",
                          "Malformed action/metadata line [%d], expected FIELD_NAME but found [END_OBJECT]"
                          % line)
        keys = list(obj.keys())
        action = keys[0]
        if action not in SUPPORTED_ACTIONS:
            raise EsError(400, "illegal_argument_exception",
                          "Malformed action/metadata line [%d], expected field [create], [delete], "
                          "[index] or [update] but found [%s]" % (line, action))
        meta = obj[action]
        if not isinstance(meta, dict):
            raise EsError(400, "illegal_argument_exception",
                          "Malformed action/metadata line [%d], expected START_OBJECT or END_OBJECT "
                          "but found [%s]" % (line, token_name(meta)))
        for k, v in meta.items():
            if isinstance(v, list):
                raise EsError(400, "illegal_argument_exception",
                              "Malformed action/metadata line [%d], expected a simple value for field "
                              "[%s] but found [START_ARRAY]" % (line, k))
            if isinstance(v, dict):
                if k in ("dynamic_templates", "_source"):
                    continue
                raise EsError(400, "illegal_argument_exception",
                              "Malformed action/metadata line [%d], expected a simple value for field "
                              "[%s] but found [START_OBJECT]" % (line, k))
            if v is None:
                continue
            if k not in META_KEYS:
                raise EsError(400, "illegal_argument_exception",
                              "Action/metadata line [%d] contains an unknown parameter [%s]" % (line, k))
        if len(keys) > 1:
            raise EsError(400, "illegal_argument_exception",
                          "Malformed action/metadata line [%d], expected END_OBJECT but found [FIELD_NAME]"
                          % line)
        if rest.strip():
            raise EsError(400, "illegal_argument_exception",
                          "Malformed action/metadata line [%d], unexpected data after the closing brace"
                          % line)
        index = meta.get("_index")
        index = default_index if index is None else str(index)
        id_ = meta.get("_id")
        id_ = None if id_ is None else (str(id_).lower() if isinstance(id_, bool) else str(id_))
        if action == "update" and (meta.get("version") is not None
                                   or meta.get("version_type") not in (None, "internal")):
            raise EsError(400, "illegal_argument_exception",
                          "Update requests do not support versioning. Please use `if_seq_no` and "
                          "`if_primary_term` instead")
        if action in ("update", "delete") and meta.get("dynamic_templates"):
            raise EsError(400, "illegal_argument_exception",
                          "%s request in line [%d] does not accept dynamic_templates"
                          % (action.capitalize(), line))
        op = Op(action, index, id_, meta, line)
        op.raw_text = text
        if action == "index" and meta.get("op_type") == "create":
            op.action = "create"                 # reported under the action name "create"
            op.meta = dict(meta, _reported="index")
        if action == "delete":
            ops.append(op)
        else:
            cur = op
    # an action line with no document line after it is ignored, as in ES
    errors = []
    if not ops:
        errors.append("no requests added")
    for op in ops:
        if not op.index:
            errors.append("index is missing")
        if op.action in ("delete", "update") and not op.id:
            errors.append("id is missing")
        if op.id is not None and op.id == "" and op.action in ("index", "create"):
            errors.append("if _id is specified it must not be empty")
        if op.id is not None and len(op.id.encode()) > 512:
            errors.append("id [%s] is too long, must be no longer than 512 bytes but was: %d"
                          % (op.id, len(op.id.encode())))
        if op.action == "update" and op.update is not None and \
                "doc" not in op.update and "script" not in op.update:
            errors.append("script or doc is missing")
    if errors:
        raise validation_error(errors)
    return ops


# ---- bulk execution -------------------------------------------------------------------
def item_error(etype, reason, **extra):
    return dict({"type": etype, "reason": reason}, **extra)


def injected_item_error(spec, op, index_name):
    status = spec["status"]
    doc_id = op.id or "<auto>"
    etype = spec.get("type")
    if status == 400:
        etype = etype or "mapper_parsing_exception"
        prefix = "[1:2] " if etype == "document_parsing_exception" else ""
        reason = spec.get("reason") or (
            "%sfailed to parse field [event.severity] of type [long] in document with id '%s'. "
            "Preview of field's value: 'injected'" % (prefix, doc_id))
        return item_error(etype, reason, caused_by=item_error(
            "illegal_argument_exception", 'For input string: "injected"'))
    if status == 404:
        return item_error(etype or "index_not_found_exception",
                          spec.get("reason") or "no such index [%s]" % index_name,
                          **{"resource.type": "index_or_alias", "resource.id": index_name,
                             "index_uuid": "_na_", "index": index_name})
    if status == 409:
        return item_error(etype or "version_conflict_engine_exception",
                          spec.get("reason") or "[%s]: version conflict, document already exists "
                          "(current version [1])" % doc_id,
                          index_uuid="_na_", shard="0", index=index_name)
    if status == 429:
        return item_error(etype or "es_rejected_execution_exception", spec.get("reason") or (
            "rejected execution of primary operation [coordinating_and_primary_bytes=0, "
            "replica_bytes=0, all_bytes=0, primary_operation_bytes=%d, "
            "max_coordinating_and_primary_bytes=107374182]" % len(op.source_raw or b"")))
    if status == 503:
        return item_error(etype or "unavailable_shards_exception", spec.get("reason") or (
            "[%s][0] primary shard is not active Timeout: [1m], request: [BulkShardRequest "
            "[[%s][0]] containing [1] requests]" % (index_name, index_name)))
    return item_error(etype or "illegal_state_exception", spec.get("reason") or "injected failure")


def parse_source(op):
    """The document of an index/create op, or an item error dict."""
    raw = op.source_raw or b""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, item_error("document_parsing_exception", "[1:1] failed to parse: invalid UTF-8")
    except ValueError as e:
        if not raw.strip():
            return None, item_error("document_parsing_exception", "failed to parse, document is empty")
        # approximate: Jackson's wording differs from Python's
        return None, item_error(
            "document_parsing_exception", "[1:%d] failed to parse: %s" % (e.colno, e.msg),
            caused_by=item_error("x_content_parse_exception", "[1:%d] %s" % (e.colno, e.msg)))
    if not isinstance(doc, dict):
        return None, item_error("document_parsing_exception",
                                "[1:1] failed to parse: Malformed content, found extra data after "
                                "parsing: %s" % token_name(doc))
    return doc, None


def has_timestamp(doc):
    if "@timestamp" in doc:
        return True
    return False


def run_bulk(state, ops, query):
    """Execute parsed ops in order under state.lock; returns the response dict."""
    t0 = time.monotonic()
    items = []
    errors = False
    require_alias_default = query.get("require_alias") == "true"
    for op in ops:
        reported = op.meta.get("_reported", op.action)
        name = op.index
        entry = {"_index": name, "_id": op.id}

        def fail(status, err, idx=None):
            nonlocal errors
            errors = True
            e = dict(entry)
            if idx is not None:
                e["_index"] = idx
            e["status"] = status
            e["error"] = err
            items.append({reported: e})

        # fault injection for this item
        spec = state.item_errors
        if spec and spec["count"] > 0 and (not spec.get("match") or spec["match"] in op.raw_text):
            spec["count"] -= 1
            state.count_injected("item_%d" % spec["status"])
            fail(spec["status"], injected_item_error(spec, op, name))
            continue
        bad = index_name_error(name)
        if bad:
            fail(400, item_error("invalid_index_name_exception", "Invalid index name [%s], %s" % (name, bad),
                                 index_uuid="_na_", index=name))
            continue
        require_alias = op.meta.get("require_alias")
        require_alias = require_alias_default if require_alias is None else bool(require_alias)
        if require_alias:
            fail(404, item_error("index_not_found_exception",
                                 "no such index [%s] and [require_alias] request flag is [true] and "
                                 "[%s] is not an alias" % (name, name),
                                 **{"resource.type": "index_expression", "resource.id": name,
                                    "index_uuid": "_na_", "index": name}))
            continue
        is_ds = state.is_data_stream_name(name)
        if is_ds and op.action != "create":
            fail(400, item_error("illegal_argument_exception",
                                 "only write ops with an op_type of create are allowed in data streams"))
            continue
        doc = None
        if op.action in ("index", "create"):
            doc, err = parse_source(op)
            if err:
                fail(400, err)
                continue
            if is_ds and not has_timestamp(doc):
                # approximate wording (DataStreamTimestampFieldMapper)
                fail(400, item_error("document_parsing_exception",
                                     "[1:1] failed to parse: data stream timestamp field [@timestamp] is missing",
                                     caused_by=item_error("illegal_argument_exception",
                                                          "data stream timestamp field [@timestamp] is missing")))
                continue
        if op.action == "delete" and name not in state.indices and name not in state.data_streams:
            # deletes never auto-create an index
            fail(404, item_error("index_not_found_exception", "no such index [%s]" % name,
                                 **{"resource.type": "index_expression", "resource.id": name,
                                    "index_uuid": "_na_", "index": name}))
            continue
        if is_ds:
            idx = state.backing_index(name)
        else:
            idx = state.indices.get(name)
            if idx is None:
                idx = state.indices[name] = Index(name)
        entry["_index"] = idx.name
        if op.id is None:
            op.id = next_auto_id(state)
            entry["_id"] = op.id
        cur = idx.docs.get(op.id)
        if_seq = op.meta.get("if_seq_no")
        if_term = op.meta.get("if_primary_term")
        if if_seq is not None or if_term is not None:
            if cur is None:
                fail(409, item_error("version_conflict_engine_exception",
                                     "[%s]: version conflict, required seqNo [%s], primary term [%s]. but no "
                                     "document was found" % (op.id, if_seq, if_term),
                                     index_uuid=idx.uuid, shard="0", index=idx.name))
                continue
            if int(if_seq) != cur["_seq_no"] or int(if_term) != cur["_primary_term"]:
                fail(409, item_error("version_conflict_engine_exception",
                                     "[%s]: version conflict, required seqNo [%s], primary term [%s]. current "
                                     "document has seqNo [%d] and primary term [%d]"
                                     % (op.id, if_seq, if_term, cur["_seq_no"], cur["_primary_term"]),
                                     index_uuid=idx.uuid, shard="0", index=idx.name))
                continue

        def ok(status, result, version, seq):
            e = dict(entry)
            e.update({"_version": version, "result": result, "_shards": dict(SHARDS_OK),
                      "_seq_no": seq, "_primary_term": 1, "status": status})
            items.append({reported: e})

        if op.action == "create":
            if cur is not None:
                fail(409, item_error("version_conflict_engine_exception",
                                     "[%s]: version conflict, document already exists (current version [%d])"
                                     % (op.id, cur["_version"]),
                                     index_uuid=idx.uuid, shard="0", index=idx.name))
                continue
            seq = idx.next_seq()
            idx.docs[op.id] = {"_version": 1, "_seq_no": seq, "_primary_term": 1, "_source": doc}
            ok(201, "created", 1, seq)
        elif op.action == "index":
            seq = idx.next_seq()
            if cur is None:
                idx.docs[op.id] = {"_version": 1, "_seq_no": seq, "_primary_term": 1, "_source": doc}
                ok(201, "created", 1, seq)
            else:
                v = cur["_version"] + 1
                idx.docs[op.id] = {"_version": v, "_seq_no": seq, "_primary_term": 1, "_source": doc}
                ok(200, "updated", v, seq)
        elif op.action == "delete":
            seq = idx.next_seq()
            if cur is None:
                e = dict(entry)
                e.update({"_version": 1, "result": "not_found", "_shards": dict(SHARDS_OK),
                          "_seq_no": seq, "_primary_term": 1, "status": 404})
                items.append({reported: e})
            else:
                del idx.docs[op.id]
                ok(200, "deleted", cur["_version"] + 1, seq)
        else:                                   # update
            u = op.update or {}
            if "script" in u:
                fail(400, item_error("illegal_argument_exception",
                                     "scripted updates are not emulated by es_server"))
                continue
            patch = u.get("doc")
            if patch is not None and not isinstance(patch, dict):
                fail(400, item_error("illegal_argument_exception", "[doc] must be an object"))
                continue
            if cur is None:
                upsert = u.get("upsert")
                if upsert is None and u.get("doc_as_upsert") is True:
                    upsert = patch
                if upsert is None:
                    fail(404, item_error("document_missing_exception", "[%s]: document missing" % op.id,
                                         index_uuid=idx.uuid, shard="0", index=idx.name))
                    continue
                seq = idx.next_seq()
                idx.docs[op.id] = {"_version": 1, "_seq_no": seq, "_primary_term": 1,
                                   "_source": json.loads(json.dumps(upsert))}
                ok(201, "created", 1, seq)
            else:
                new = json.loads(json.dumps(cur["_source"]))
                changed = deep_merge(new, patch or {})
                if not changed and u.get("detect_noop", True):
                    e = dict(entry)
                    e.update({"_version": cur["_version"], "result": "noop",
                              "_shards": {"total": 0, "successful": 0, "failed": 0},
                              "_seq_no": cur["_seq_no"], "_primary_term": 1, "status": 200})
                    items.append({reported: e})
                    continue
                seq = idx.next_seq()
                v = cur["_version"] + 1
                idx.docs[op.id] = {"_version": v, "_seq_no": seq, "_primary_term": 1, "_source": new}
                ok(200, "updated", v, seq)
    for it in items:
        st = str(next(iter(it.values()))["status"])
        state.stats["items_by_status"][st] = state.stats["items_by_status"].get(st, 0) + 1
    state.stats["items"] += len(items)
    took = int((time.monotonic() - t0) * 1000)
    return {"errors": errors, "took": took, "items": items}


# ---- HTTP ---------------------------------------------------------------------------------
class BodyTooLarge(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    server_version = "iocbus-es-test/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    @property
    def state(self):
        return self.server.state

    def setup(self):
        super().setup()
        with self.server.conns_lock:
            self.server.conns.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.server.conns_lock:
                self.server.conns.discard(self.connection)

    # ---- plumbing -------------------------------------------------------------------
    def read_raw_body(self, limit):
        """Read the request body (Content-Length or chunked). Raises BodyTooLarge after
        draining at most 4x `limit` (the connection is then closed)."""
        if self._refuse_body:
            self.close_connection = True
            n = int(self.headers.get("Content-Length") or 0)
            if n > limit:
                raise BodyTooLarge(n)
            return b""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            parts, total = [], 0
            while True:
                size_line = self.rfile.readline(1024)
                if not size_line:
                    raise ConnectionError("eof in chunked body")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data = self.rfile.read(size)
                self.rfile.readline(1024)
                total += len(data)
                if total > limit:
                    self.close_connection = True
                    raise BodyTooLarge(total)
                parts.append(data)
            return b"".join(parts)
        n = int(self.headers.get("Content-Length") or 0)
        if n > limit:
            self.close_connection = True
            if n <= 4 * limit + (1 << 20):
                left = n
                while left > 0:
                    chunk = self.rfile.read(min(left, 1 << 16))
                    if not chunk:
                        break
                    left -= len(chunk)
            raise BodyTooLarge(n)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, status, obj=None, raw=None, ctype="application/json", extra_headers=(),
             product=True, head=False, log=None):
        if raw is None:
            if obj is None:
                raw = b""
            elif "pretty" in parse_qs(urlsplit(self.path).query, keep_blank_values=True) and product:
                raw = json.dumps(obj, indent=2, separators=(",", " : ")).encode() + b"\n"
            else:
                raw = json.dumps(obj, separators=(",", ":")).encode()
        body = raw
        headers = list(extra_headers)
        ae = (self.headers.get("Accept-Encoding") or "").lower()
        if body and "gzip" in ae and not head:
            body = gzip.compress(body, 1)
            headers.append(("Content-Encoding", "gzip"))
        self.send_response(status)
        if product:
            self.send_header("X-elastic-product", PRODUCT)
        for k, v in headers:
            self.send_header(k, v)
        if ctype:
            self.send_header("content-type", ctype + ("; charset=UTF-8" if ctype.startswith("text/") else ""))
        self.send_header("content-length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and not head:
            self.wfile.write(body)
        if log is not None:
            log["status"] = status
        if log is not None or product:
            with self.state.lock:
                rs = self.state.stats["responses_by_status"]
                rs[str(status)] = rs.get(str(status), 0) + 1

    def send_error_obj(self, err, head=False, log=None):
        hdrs = [("WWW-Authenticate", h) for h in err.headers]
        self.send(err.status, err.body(), extra_headers=hdrs, head=head, log=log)

    def handle_expect_100(self):
        """Like Netty's aggregator and ES's header validator: no `100 Continue` for a body
        that is too large or a request that fails authentication; the final answer
        comes at once and the connection is closed."""
        self._refuse_body = False
        path = urlsplit(self.path).path
        if not path.startswith("/_control") and not self.server.control_only:
            n = int(self.headers.get("Content-Length") or 0)
            if n > self.state.max_content_length or self.check_auth() is not None:
                self._refuse_body = True
                self.close_connection = True
                return True
        return super().handle_expect_100()

    def handle_one_request(self):
        self._refuse_body = False
        try:
            super().handle_one_request()
        except (ConnectionError, socket.timeout, OSError):
            self.close_connection = True

    def do_GET(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    # ---- dispatch -------------------------------------------------------------------
    def dispatch(self):
        url = urlsplit(self.path)
        path = url.path
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if path.startswith("/_control/") or path == "/_control":
            return self.control(path, query)
        if self.server.control_only:
            self.read_raw_body(1 << 20)
            return self.send(404, {"error": "control port: only /_control/ is served"}, product=False)
        st = self.state
        method = self.command
        segs = path.strip("/").split("/")
        is_bulk = method in ("POST", "PUT") and segs[-1] == "_bulk" and len(segs) <= 2
        log = {"method": method, "path": self.path,
               "headers": {k: (v.split(" ", 1)[0] + " <redacted>" if k.lower() == "authorization" else v)
                           for k, v in self.headers.items()},
               "body_bytes": 0, "decoded_bytes": 0, "items": None, "status": None, "time": time.time()}
        with st.lock:
            st.stats["requests"] += 1
            if is_bulk:
                st.stats["bulk_requests"] += 1
            st.requests.append(log)
            applies = lambda spec: spec and spec["count"] > 0 and (is_bulk or spec.get("all"))
            drop = applies(st.drop)
            if drop:
                st.drop["count"] -= 1
                st.stats["dropped"] += 1
                st.count_injected("drop")
            slow = 0.0
            if not drop and applies(st.slow):
                st.slow["count"] -= 1
                slow = float(st.slow["seconds"])
                st.count_injected("slow")
        # authentication (security validates headers before the body is used)
        auth_err = self.check_auth()
        try:
            raw = self.read_raw_body(st.max_content_length)
        except BodyTooLarge as e:
            log["body_bytes"] = e.args[0]
            if drop:
                return self.drop_connection(log)
            if auth_err:
                return self.send_error_obj(auth_err, log=log)
            return self.send(413, raw=b"", ctype=None, product=False, log=log)
        log["body_bytes"] = len(raw)
        with st.lock:
            st.stats["bytes_received"] += len(raw)
        if drop:
            return self.drop_connection(log)
        if slow:
            self.server.app.stopping.wait(slow)
        if auth_err:
            return self.send_error_obj(auth_err, head=method == "HEAD", log=log)
        with st.lock:
            if is_bulk and st.too_large > 0:
                st.too_large -= 1
                st.count_injected("too_large")
                inject413 = True
            else:
                inject413 = False
        if inject413:
            self.close_connection = True
            return self.send(413, raw=b"", ctype=None, product=False, log=log)
        # request decompression (http.max_content_length applies to the decoded body)
        ce = (self.headers.get("Content-Encoding") or "").strip().lower()
        body = raw
        if ce in ("gzip", "x-gzip", "deflate") and raw:
            try:
                d = zlib.decompressobj(16 + zlib.MAX_WBITS if ce != "deflate" else zlib.MAX_WBITS)
                body = d.decompress(raw, st.max_content_length + 1)
                if len(body) > st.max_content_length or d.unconsumed_tail:
                    self.close_connection = True
                    return self.send(413, raw=b"", ctype=None, product=False, log=log)
                body += d.flush()
            except zlib.error as e:
                # approximate: ES/Netty reject an undecodable body with a 400
                return self.send_error_obj(EsError(400, "illegal_argument_exception",
                                                   "failed to decompress the request body: %s" % e), log=log)
        log["decoded_bytes"] = len(body)
        with st.lock:
            st.stats["bytes_decoded"] += len(body)
            rej = st.reject if (st.reject and st.reject["count"] > 0 and (is_bulk or st.reject.get("all"))) else None
            if rej:
                rej["count"] -= 1
                st.count_injected("reject_%d" % rej["status"])
                rej = dict(rej)
        if rej:
            return self.send_rejection(rej, log)
        try:
            if is_bulk:
                return self.bulk(path, query, body, log)
            return self.route(method, path, query, body, log)
        except EsError as e:
            return self.send_error_obj(e, head=method == "HEAD", log=log)

    def drop_connection(self, log):
        log["status"] = None
        log["dropped"] = True
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def send_rejection(self, rej, log):
        status = rej["status"]
        if status == 502:
            # not ES: what a proxy / load balancer in front of it answers
            return self.send(502, raw=b"<html><body><h1>502 Bad Gateway</h1></body></html>\n",
                             ctype="text/html", product=False, log=log)
        if status == 429:
            if rej.get("type") == "circuit_breaking_exception":
                err = EsError(429, "circuit_breaking_exception", rej.get("reason") or (
                    "[parent] Data too large, data for [<http_request>] would be [1073741900/1gb], which is "
                    "larger than the limit of [1073741824/1gb]"),
                    extra={"bytes_wanted": 1073741900, "bytes_limit": 1073741824, "durability": "TRANSIENT"})
            else:
                err = EsError(429, rej.get("type") or "es_rejected_execution_exception", rej.get("reason") or (
                    "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, "
                    "replica_bytes=0, all_bytes=0, coordinating_operation_bytes=%d, "
                    "max_coordinating_and_primary_bytes=107374182]" % log.get("decoded_bytes", 0)))
        elif status == 503:
            err = EsError(503, rej.get("type") or "cluster_block_exception", rej.get("reason") or
                          "blocked by: [SERVICE_UNAVAILABLE/2/no master];")
        elif status == 401:
            err = EsError(401, "security_exception", rej.get("reason") or
                          "missing authentication credentials for REST request [%s]" % self.path,
                          extra={"header": {"WWW-Authenticate": self.state.www_authenticate()}},
                          headers=self.state.www_authenticate())
        elif status == 403:
            err = EsError(403, "security_exception", rej.get("reason") or
                          "action [indices:data/write/bulk] is unauthorized for user [iocbus] with "
                          "effective roles [] on indices [*]")
        else:
            err = EsError(status, rej.get("type") or "illegal_state_exception",
                          rej.get("reason") or "injected failure")
        return self.send_error_obj(err, log=log)

    def check_auth(self):
        st = self.state
        if not st.auth_required():
            return None
        hdr = self.headers.get("Authorization")
        www = st.www_authenticate()
        extra = {"header": {"WWW-Authenticate": www}}
        if not hdr:
            return EsError(401, "security_exception",
                           "missing authentication credentials for REST request [%s]" % self.path,
                           extra=extra, headers=www)
        scheme, _, cred = hdr.strip().partition(" ")
        scheme, cred = scheme.lower(), cred.strip()
        if scheme == "basic":
            try:
                user, _, pw = base64.b64decode(cred, validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                user, pw = None, None
            if user is not None and user in st.users and st.users[user] == pw:
                return None
            if user is not None:
                return EsError(401, "security_exception",
                               "unable to authenticate user [%s] for REST request [%s]" % (user, self.path),
                               extra=extra, headers=www)
        elif scheme == "apikey":
            try:
                kid, _, key = base64.b64decode(cred, validate=True).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                kid, key = None, None
            if kid is not None and st.api_keys.get(kid) == key and kid in st.api_keys:
                return None
            reason = ("unable to authenticate with provided credentials and anonymous access is not "
                      "allowed for this request")
            ex = dict(extra)
            if kid is not None:
                ex = dict({"additional_unsuccessful_credentials":
                           "API key: unable to find apikey with id %s" % kid}, **extra) \
                    if kid not in st.api_keys else \
                    dict({"additional_unsuccessful_credentials": "API key: invalid credentials for API key [%s]" % kid},
                         **extra)
            return EsError(401, "security_exception", reason, extra=ex, headers=www)
        elif scheme == "bearer":
            if cred in st.bearers:
                return None
        return EsError(401, "security_exception",
                       "unable to authenticate with provided credentials and anonymous access is not "
                       "allowed for this request", extra=extra, headers=www)

    # ---- _bulk --------------------------------------------------------------------------
    def check_content_type(self):
        ct = self.headers.get("Content-Type")
        if not ct:
            raise EsError(406, None, None)
        base = ct.split(";")[0].strip().lower()
        ok = ("application/json", "application/x-ndjson",
              "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson")
        if base not in ok:
            raise EsError(406, None, ct)

    def bulk(self, path, query, body, log):
        st = self.state
        try:
            self.check_content_type()
        except EsError as e:
            msg = ("Content-Type header is missing" if e.reason is None
                   else "Content-Type header [%s] is not supported" % e.reason)
            return self.send(406, {"error": msg, "status": 406}, log=log)
        unknown = sorted(k for k in query if k not in BULK_PARAMS)
        if unknown:
            raise EsError(400, "illegal_argument_exception", "request [%s] contains unrecognized parameter%s: [%s]"
                          % (path, "s" if len(unknown) > 1 else "", "], [".join(unknown)))
        parts = path.strip("/").split("/")
        default_index = unquote(parts[0]) if len(parts) == 2 else None
        if not body:
            raise EsError(400, "parse_exception", "request body is required")
        ops = parse_bulk(body, default_index, query)
        log["items"] = len(ops)
        with st.lock:
            resp = run_bulk(st, ops, query)
        if "filter_path" in query:
            resp = filter_path(resp, query["filter_path"])
        return self.send(200, resp, log=log)

    # ---- other endpoints (§4.6) ------------------------------------------------------
    def route(self, method, path, query, body, log):
        st = self.state
        head = method == "HEAD"
        parts = [unquote(p) for p in path.strip("/").split("/")] if path != "/" else []
        if not parts:
            if method in ("GET", "HEAD"):
                return self.send(200, self.cluster_info(), head=head, log=log)
            return self.bad_method(path, method, "GET, HEAD", log)
        if parts[-1] == "_bulk" and len(parts) <= 2:
            return self.bad_method(path, method, "POST, PUT", log)
        if parts[0] == "_license" and len(parts) == 1:
            if method != "GET":
                return self.bad_method(path, method, "GET, PUT, DELETE", log)
            return self.send(200, {"license": {
                "status": "active", "uid": "00000000-0000-4000-8000-000000000000", "type": "basic",
                "issue_date": "2026-01-01T00:00:00.000Z", "issue_date_in_millis": 1767225600000,
                "max_nodes": 1000, "max_resource_units": None, "issued_to": "iocbus-test",
                "issuer": "elasticsearch", "start_date_in_millis": -1}}, log=log)
        if parts[0] in ("_index_template", "_component_template") and len(parts) == 2:
            store = st.index_templates if parts[0] == "_index_template" else st.component_templates
            return self.template(store, parts[0], parts[1], method, body, log)
        if parts[:2] == ["_ilm", "policy"] and len(parts) == 3:
            return self.ilm(parts[2], method, body, log)
        return self.send(400 if method != "HEAD" else 400,
                         {"error": "no handler found for uri [%s] and method [%s]" % (self.path, method)},
                         head=head, log=log)

    def bad_method(self, path, method, allowed, log):
        return self.send(405, {"error": "Incorrect HTTP method for uri [%s] and method [%s], allowed: [%s]"
                                        % (self.path, method, allowed), "status": 405},
                         extra_headers=[("Allow", allowed.replace(" ", ""))], log=log)

    def cluster_info(self):
        v = self.state.args.es_version
        major = int(v.split(".")[0])
        return {
            "name": "iocbus-es-test", "cluster_name": "iocbus-test", "cluster_uuid": self.state.cluster_uuid,
            "version": {"number": v, "build_flavor": "default", "build_type": "docker",
                        "build_hash": "0" * 40, "build_date": "2026-01-01T00:00:00.000000000Z",
                        "build_snapshot": False, "lucene_version": "10.1.0" if major >= 9 else "9.12.0",
                        "minimum_wire_compatibility_version": "8.18.0" if major >= 9 else "7.17.0",
                        "minimum_index_compatibility_version": "8.0.0" if major >= 9 else "7.0.0"},
            "tagline": "You Know, for Search"}

    def json_body(self, body):
        try:
            self.check_content_type()
        except EsError as e:
            raise EsError(406, "illegal_argument_exception", "Content-Type header is missing"
                          if e.reason is None else "Content-Type header [%s] is not supported" % e.reason)
        if not body:
            raise EsError(400, "parse_exception", "request body is required")
        try:
            obj = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise EsError(400, "x_content_parse_exception", "[1:%d] %s" % (getattr(e, "colno", 1), e))
        if not isinstance(obj, dict):
            raise EsError(400, "parse_exception", "request body must be an object")
        return obj

    def template(self, store, kind, name, method, body, log):
        st = self.state
        head = method == "HEAD"
        noun = "index template" if kind == "_index_template" else "component template"
        if method in ("GET", "HEAD"):
            with st.lock:
                names = [n for n in store if fnmatch.fnmatchcase(n, name)]
                if not names:
                    if head:
                        return self.send(404, raw=b"", head=True, log=log)
                    raise EsError(404, "resource_not_found_exception", "%s matching [%s] not found" % (noun, name))
                key = "index_templates" if kind == "_index_template" else "component_templates"
                sub = "index_template" if kind == "_index_template" else "component_template"
                out = {key: [{"name": n, sub: store[n]} for n in sorted(names)]}
            return self.send(200, out, head=head, log=log)
        if method in ("PUT", "POST"):
            obj = self.json_body(body)
            with st.lock:
                if query_create(self.path) and name in store:
                    raise EsError(400, "illegal_argument_exception",
                                  "%s [%s] already exists" % (noun, name))
                store[name] = obj
            return self.send(200, {"acknowledged": True}, log=log)
        if method == "DELETE":
            with st.lock:
                if name not in store:
                    raise EsError(404, "resource_not_found_exception", "%s matching [%s] not found" % (noun, name))
                del store[name]
            return self.send(200, {"acknowledged": True}, log=log)
        return self.bad_method(self.path, method, "DELETE, GET, HEAD, POST, PUT", log)

    def ilm(self, name, method, body, log):
        st = self.state
        if method == "GET":
            with st.lock:
                if name not in st.ilm_policies:
                    raise EsError(404, "resource_not_found_exception", "Lifecycle policy not found: %s" % name)
                p = st.ilm_policies[name]
            return self.send(200, {name: p}, log=log)
        if method == "PUT":
            obj = self.json_body(body)
            with st.lock:
                old = st.ilm_policies.get(name)
                version = old["version"] + 1 if old else 1
                st.ilm_policies[name] = {"version": version, "modified_date": time.strftime(
                    "%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "policy": obj.get("policy", {})}
            return self.send(200, {"acknowledged": True}, log=log)
        if method == "DELETE":
            with st.lock:
                if st.ilm_policies.pop(name, None) is None:
                    raise EsError(404, "resource_not_found_exception", "Lifecycle policy not found: %s" % name)
            return self.send(200, {"acknowledged": True}, log=log)
        return self.bad_method(self.path, method, "DELETE, GET, PUT", log)

    # ---- control plane -----------------------------------------------------------------
    def control(self, path, query):
        try:
            raw = self.read_raw_body(16 << 20)
        except BodyTooLarge:
            return self.send(413, {"error": "control body too large"}, product=False)
        action = path[len("/_control/"):].strip("/")
        try:
            req = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            if not isinstance(req, dict):
                raise ValueError("body must be a JSON object")
            out = self.control_action(action, req, query)
        except (ValueError, TypeError, KeyError) as e:
            return self.send(400, {"error": str(e)}, product=False)
        if out is None:
            return self.send(404, {"error": "unknown control action [%s]" % action}, product=False)
        self.send(200, out, product=False)
        after, self._after = getattr(self, "_after", None), None
        if after:                               # e.g. `down`: only once the answer is out
            self.close_connection = True
            after()

    @staticmethod
    def field_stats(st, want, req):
        """One field of the stored documents, counted here so that a long run (bench/soak.sh:
        millions of documents) need not download them all through `docs`: documents, those
        without the field, distinct values, documents beyond the first per value (`duplicates`,
        with up to 20 samples), and with `expect` N (the field is then a sequence 0..N-1) how
        many of those are missing (up to 20 samples) and how many values lie outside. The
        caller holds st.lock."""
        field = req.get("field")
        if not isinstance(field, str) or not field:
            raise ValueError("field required")
        expect = req.get("expect")
        if expect is not None and (not isinstance(expect, int) or expect < 0):
            raise ValueError("expect must be an integer >= 0")
        keys = field.split(".")
        counts = {}
        docs = without = 0
        for name in ([st.resolve_docs_target(want)] if want else sorted(st.indices)):
            idx = st.indices.get(name)
            for d in (idx.docs.values() if idx else ()):
                docs += 1
                v = d["_source"]
                for k in keys:
                    v = v.get(k) if isinstance(v, dict) else None
                if v is None or isinstance(v, (dict, list)):
                    without += 1
                    continue
                counts[v] = counts.get(v, 0) + 1
        dups = sorted(((v, c) for v, c in counts.items() if c > 1), key=lambda vc: (type(vc[0]).__name__, vc[0]))
        out = {"docs": docs, "without_field": without, "distinct": len(counts),
               "duplicates": sum(c - 1 for _, c in dups), "duplicate_values": [[v, c] for v, c in dups[:20]]}
        if expect is not None:
            missing = [i for i in range(expect) if i not in counts]
            out["missing"] = len(missing)
            out["missing_values"] = missing[:20]
            out["outside"] = sum(1 for v in counts
                                 if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < expect)
        return out

    def control_action(self, action, req, query):
        st = self.state
        app = self.server.app

        def count():
            c = int(req.get("count", 1))
            if c < 0:
                raise ValueError("count must be >= 0")
            return c

        def status(allowed=None):
            s = int(req.get("status", 429))
            if not 400 <= s <= 599 or (allowed and s not in allowed):
                raise ValueError("bad status %d" % s)
            return s

        with st.lock:
            if action == "reject":
                st.reject = {"count": count(), "status": status(), "type": req.get("type"),
                             "reason": req.get("reason"), "all": bool(req.get("all"))}
                return {"reject": st.reject}
            if action == "item_errors":
                st.item_errors = {"count": count(), "status": status(), "match": req.get("match"),
                                  "type": req.get("type"), "reason": req.get("reason")}
                return {"item_errors": st.item_errors}
            if action == "too_large":
                st.too_large = count()
                return {"too_large": st.too_large}
            if action == "slow":
                secs = float(req.get("seconds", 1.0))
                if secs < 0 or secs > 600:
                    raise ValueError("0 <= seconds <= 600")
                st.slow = {"count": count(), "seconds": secs, "all": bool(req.get("all"))}
                return {"slow": st.slow}
            if action == "drop":
                st.drop = {"count": count(), "all": bool(req.get("all"))}
                return {"drop": st.drop}
            if action == "reset":
                st.reset()
                st.ds_patterns = list(st.args.data_stream)
                st.max_content_length = st.args.max_content_length
                self._after = app.go_up
                return {"ok": True}
            if action == "requests":
                return {"requests": list(st.requests)}
            if action == "stats":
                s = json.loads(json.dumps(st.stats))
                s["docs"] = {n: len(i.docs) for n, i in st.indices.items()}
                s["data_streams"] = dict(st.data_streams)
                s["pending"] = {"reject": st.reject["count"] if st.reject else 0,
                                "item_errors": st.item_errors["count"] if st.item_errors else 0,
                                "too_large": st.too_large,
                                "slow": st.slow["count"] if st.slow else 0,
                                "drop": st.drop["count"] if st.drop else 0}
                s["down"] = app.is_down()
                return s
            if action == "docs":
                want = query.get("index") or req.get("index")
                out = []
                targets = [st.resolve_docs_target(want)] if want else sorted(st.indices)
                for name in targets:
                    idx = st.indices.get(name)
                    if idx is None:
                        continue
                    for did, d in idx.docs.items():
                        out.append({"_index": idx.name, "_id": did, "_version": d["_version"],
                                    "_seq_no": d["_seq_no"], "_primary_term": d["_primary_term"],
                                    "_source": d["_source"], "data_stream": idx.data_stream})
                return {"docs": out, "count": len(out)}
            if action == "field_stats":
                return self.field_stats(st, query.get("index") or req.get("index"), req)
            if action == "data_stream":
                pat = req.get("pattern")
                if not isinstance(pat, str) or not pat:
                    raise ValueError("pattern required")
                st.ds_patterns.append(pat)
                return {"data_stream_patterns": list(st.ds_patterns)}
            if action == "max_content_length":
                st.max_content_length = parse_size(req.get("size", "100mb"))
                return {"max_content_length": st.max_content_length}
        if action == "down":
            secs = req.get("seconds")
            secs = None if secs is None else float(secs)
            self._after = lambda: threading.Thread(target=app.go_down, args=(secs,), daemon=True).start()
            return {"down": True, "seconds": secs, "port": app.port}
        if action == "up":
            app.go_up()
            return {"down": False, "port": app.port}
        if action == "shutdown":
            app.stopping.set()
            return {"shutdown": True}
        return None


def query_create(path):
    q = parse_qs(urlsplit(path).query)
    return q.get("create", ["false"])[-1] in ("true", "")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, app, control_only):
        self.app = app
        self.state = app.state
        self.control_only = control_only
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, Handler)


class App:
    def __init__(self, args):
        self.state = State(args)
        self.args = args
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.main = self._serve(args.port, False)
        self.port = self.main.server_address[1]
        self.ctl = self._serve(args.control_port, True)
        self.up_timer = None
        self.generation = 0

    def _serve(self, port, control_only):
        deadline = time.monotonic() + 10
        while True:
            try:
                srv = Server(("127.0.0.1", port), self, control_only)
                break
            except OSError as e:
                if e.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    raise
                self.stopping.wait(0.05)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return srv

    def is_down(self):
        return self.main is None

    def _close(self, srv):
        srv.shutdown()
        srv.server_close()
        with srv.conns_lock:
            conns = list(srv.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def go_down(self, seconds):
        with self.lock:
            self.generation += 1
            gen = self.generation
            if self.main is not None:
                srv, self.main = self.main, None
                self._close(srv)
        if seconds is not None:
            def later():
                if not self.stopping.wait(seconds):
                    with self.lock:
                        if self.generation != gen:
                            return
                    self.go_up()
            threading.Thread(target=later, daemon=True).start()

    def go_up(self):
        with self.lock:
            self.generation += 1
            if self.main is None:
                self.main = self._serve(self.port, False)

    def run(self, watch_stdin):
        if watch_stdin:
            def watch():
                try:
                    while os.read(0, 4096):     # unbuffered: no lock held at exit
                        pass
                except (OSError, ValueError):
                    pass
                self.stopping.set()
            threading.Thread(target=watch, daemon=True).start()
        print("READY port=%d control=%d" % (self.port, self.ctl.server_address[1]), flush=True)
        while not self.stopping.wait(0.2):
            pass
        with self.lock:
            srv, self.main = self.main, None
        if srv is not None:
            self._close(srv)
        self._close(self.ctl)
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="main (Elasticsearch) port, 0 = ephemeral")
    ap.add_argument("--control-port", type=int, default=0,
                    help="second port serving only /_control/ (stays up while `down`)")
    ap.add_argument("--user", action="append", default=[], metavar="USER:PASSWORD",
                    help="accept Basic auth with these credentials (repeatable)")
    ap.add_argument("--api-key", action="append", default=[], metavar="ID:KEY",
                    help="accept `Authorization: ApiKey base64(ID:KEY)` (repeatable)")
    ap.add_argument("--bearer", action="append", default=[], metavar="TOKEN",
                    help="accept `Authorization: Bearer TOKEN` (repeatable)")
    ap.add_argument("--data-stream", action="append", default=[], metavar="PATTERN",
                    help="index names matching this glob are data streams (repeatable)")
    ap.add_argument("--max-content-length", type=parse_size, default=parse_size("100mb"),
                    help="http.max_content_length (default 100mb)")
    ap.add_argument("--es-version", default="8.17.3", help="version.number reported by GET /")
    ap.add_argument("--no-stdin-watch", action="store_true", help="do not exit when stdin reaches EOF")
    args = ap.parse_args()
    for u in args.user:
        if ":" not in u:
            ap.error("--user expects USER:PASSWORD")
    for k in args.api_key:
        if ":" not in k:
            ap.error("--api-key expects ID:KEY")
    app = App(args)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: app.stopping.set())
    return app.run(not args.no_stdin_watch)


if __name__ == "__main__":
    sys.exit(main())
